/**
 * Issue #20 in a real browser against real nodes: unread and mention badges (and the window
 * title), opening a room clears them, the member list's menu (make moderator, ban with a
 * reason), the ban list with unban, a moderator's delete shown as "Deleted by a moderator" on
 * both servers, a mention notification, and search whose result jumps to the message — at
 * desktop width and at 390 px; the title and mention notifications on the other screens too.
 */
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import { ARTIFACTS, HAVE_CHROMIUM } from '../helpers/browser.ts';
import type { NodeProcess } from '../helpers/node-process.ts';
import { enc, eventually, inviteAndJoin, messages, roomWithMembers, send } from '../helpers/rooms.ts';

let alpha: NodeProcess;
let beta: NodeProcess;
let roomId: string;
let otherRoom: string;
const BOB = '@bob:beta.test';
const SPOOF = '\u0410dmins';

beforeAll(async ({ fileNodes }) => {
  if (!HAVE_CHROMIUM) return;
  [alpha, beta] = await fileNodes.peered('alpha.test', 'beta.test');
  expect((await beta.admin('POST', '/users', { localpart: 'bob' })).status).toBe(200);
  roomId = await roomWithMembers(alpha, 'civil', [[beta, '@owner:beta.test'], [beta, BOB]]);
  otherRoom = (await alpha.admin('POST', '/rooms', { name: 'quiet' })).body.room_id;
  // Issue #14 item 10: a name with a Cyrillic А that passes for "Admins".
  expect((await alpha.admin('POST', '/rooms', { name: SPOOF })).status).toBe(200);
}, 60_000);


/** A logged-in page; Notification is recorded instead of shown (the OS has no notification daemon here). */
async function open(browser: Browser, node: NodeProcess, width = 1200): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width, height: 850 } });
  await context.addInitScript(() => {
    const notes: string[] = [];
    const page = globalThis as unknown as { __notes: string[]; Notification: unknown };
    page.__notes = notes;
    class RecordedNotification {
      static permission = 'granted';
      static requestPermission = async () => 'granted';
      onclick: (() => void) | null = null;
      constructor(title: string) {
        notes.push(title);
      }
    }
    page.Notification = RecordedNotification;
  });
  const page = await context.newPage();
  // A login link works once: a fresh one per page.
  const link = await node.admin('POST', '/login-links', {});
  expect(link.status, JSON.stringify(link.body)).toBe(200);
  await page.goto(link.body.login_url);
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  return { context, page };
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

async function unread(node: NodeProcess, room: string): Promise<{ unread: number; mentions: number }> {
  const r = (await node.admin('GET', '/rooms')).body.rooms.find((x: { room_id: string }) => x.room_id === room);
  return { unread: r.unread, mentions: r.mentions };
}

describe.skipIf(!HAVE_CHROMIUM)('moderation, unread badges and search in the UI', () => {
  it('shows badges, moderates, searches and jumps, at 1200 px', async ({ browser }) => {
    const rude = await send(beta, roomId, 'a rude message', BOB);
    await send(beta, roomId, 'hey @owner, try the pineapple smoothie');
    await eventually(async () => expect(await unread(alpha, roomId)).toEqual({ unread: 2, mentions: 1 }));

    const { context: aContext, page: a } = await open(browser, alpha);
    // The owner of alpha watches another room; the room list shows the badges and the title the count.
    await a.goto(`${alpha.ready.admin_url}/#/rooms/${encodeURIComponent(otherRoom)}`);
    const civil = a.getByRole('link', { name: 'civil' }).locator('xpath=..');
    await civil.getByTestId('unread-count').waitFor();
    expect(await civil.getByTestId('unread-count').textContent()).toBe('2');
    expect(await civil.getByTestId('mention-count').textContent()).toBe('@1');
    await expect.poll(() => a.title()).toBe('(2 · @1) Paracord');
    // A confusable room name is shown marked, with what it is made of in its tooltip; others are not.
    const spoof = a.getByRole('link', { name: /dmins/ }).getByTestId('suspicious-name');
    await spoof.waitFor();
    expect(await spoof.getAttribute('title')).toContain('⟨U+0410⟩dmins');
    expect(await spoof.textContent()).toContain('⚠');
    expect(await a.getByRole('link', { name: 'quiet' }).getByTestId('suspicious-name').count()).toBe(0);
    // A new mention while another room is open: a notification.
    await send(beta, roomId, '@owner:alpha.test are you there?');
    await expect.poll(() => civil.getByTestId('unread-count').textContent()).toBe('3');
    await expect.poll(() => a.evaluate(() => (globalThis as unknown as { __notes: string[] }).__notes)).toEqual(['You were mentioned in civil']);
    await shot(a, 'rooms-unread-badges');

    // Opening the room reads it: the badge goes, here and in the API (kept by the node).
    await a.getByRole('link', { name: 'civil' }).click();
    await a.getByRole('heading', { name: 'civil' }).waitFor();
    await expect.poll(async () => (await unread(alpha, roomId)).unread).toBe(0);
    await expect.poll(() => civil.getByTestId('unread-badge').count()).toBe(0);
    await expect.poll(() => a.title()).toBe('Paracord');

    // A moderator's delete of bob's message.
    const rudeItem = a.locator(`[data-event-id="${rude}"]`);
    a.once('dialog', (dialog) => void dialog.accept()); // it asks first
    await rudeItem.getByRole('button', { name: 'Delete' }).click();
    await rudeItem.getByText('Deleted by a moderator').waitFor();

    // The member menu: beta's owner becomes a moderator, bob is banned with a reason.
    await a.getByText('Members and invitations').click();
    const betaOwner = a.getByTestId('member-@owner:beta.test');
    await betaOwner.getByLabel('Actions for @owner:beta.test').click();
    await betaOwner.getByRole('button', { name: 'Make moderator' }).click();
    await betaOwner.getByTestId('member-role').getByText('moderator').waitFor();
    const bob = a.getByTestId(`member-${BOB}`);
    await bob.getByLabel(`Actions for ${BOB}`).click();
    await bob.getByLabel('Reason (optional)').fill('rude');
    // Remove and Ban ask first, naming the person (a user trial: both acted at once); dismissed, nothing is done.
    const questions: string[] = [];
    a.once('dialog', (dialog) => {
      questions.push(dialog.message());
      void dialog.dismiss();
    });
    await bob.getByRole('button', { name: 'Remove', exact: true }).click();
    await expect.poll(() => questions.length).toBe(1);
    expect(questions[0]).toMatch(new RegExp(`^Remove (.+ \\()?${BOB.replace(/[.]/g, '\\.')}\\)? from this room\\? They can join again if invited\\.$`));
    expect((await alpha.admin('GET', `/rooms/${enc(roomId)}`)).body.members.find((m: { user_id: string }) => m.user_id === BOB).membership).toBe('join');
    a.once('dialog', (dialog) => {
      questions.push(dialog.message());
      void dialog.accept();
    });
    await bob.getByRole('button', { name: 'Ban' }).click();
    await expect.poll(() => questions.length).toBe(2);
    expect(questions[1]).toMatch(new RegExp(`^Ban (.+ \\()?${BOB.replace(/[.]/g, '\\.')}\\)? from this room\\? They are removed and cannot join again until unbanned\\.$`));
    await a.getByTestId(`ban-${BOB}`).getByText('rude').waitFor();
    // The ban's own notification may refresh the ban list before the room's next read has
    // taken bob out of the members (two reads): he leaves the list within moments.
    await expect.poll(() => a.getByTestId(`member-${BOB}`).count()).toBe(0);
    // The owner has no menu for themself.
    expect(await a.getByTestId('member-@owner:alpha.test').getByLabel(/Actions for/).count()).toBe(0);
    expect((await alpha.admin('GET', `/rooms/${enc(roomId)}/bans`)).body.bans).toMatchObject([{ user_id: BOB, reason: 'rude' }]);
    // The search box fits the room list's column.
    const aside = await a.getByRole('complementary', { name: 'Rooms' }).boundingBox();
    const button = await a.getByRole('button', { name: 'Search', exact: true }).boundingBox();
    expect(button!.x + button!.width).toBeLessThanOrEqual(aside!.x + aside!.width);
    await shot(a, 'room-moderation');

    // On beta: the delete shows as a moderator's; beta's owner (a moderator) has no menu for the room's owner.
    const { context: bContext, page: b } = await open(browser, beta);
    await b.goto(`${beta.ready.admin_url}/#/rooms/${encodeURIComponent(roomId)}`);
    await b.locator(`[data-event-id="${rude}"]`).getByText('Deleted by a moderator').waitFor({ timeout: 15_000 });
    await b.getByText('Members and invitations').click();
    await b.getByTestId('member-@owner:alpha.test').waitFor();
    expect(await b.getByTestId('member-@owner:alpha.test').getByLabel(/Actions for/).count()).toBe(0);
    await b.getByTestId(`ban-${BOB}`).waitFor({ timeout: 15_000 });
    await shot(b, 'room-moderation-member-server');

    // Unban from alpha's ban list.
    await a.getByTestId(`ban-${BOB}`).getByRole('button', { name: 'Unban' }).click();
    await expect.poll(() => a.getByTestId(`ban-${BOB}`).count()).toBe(0);
    expect((await alpha.admin('GET', `/rooms/${enc(roomId)}/bans`)).body.bans).toEqual([]);

    // Search: the result is highlighted (and escaped), and jumps to the message.
    await a.getByRole('link', { name: 'quiet' }).click();
    await a.getByTestId('search-input').fill('pineapple');
    await a.getByRole('button', { name: 'Search', exact: true }).click();
    const result = a.getByTestId('search-result');
    await result.first().waitFor();
    expect(await result.count()).toBe(1);
    expect(await result.locator('mark').textContent()).toBe('pineapple');
    await result.click();
    await a.getByRole('heading', { name: 'civil' }).waitFor();
    const target = a.locator('.message.jumped');
    await target.waitFor();
    expect(await target.textContent()).toContain('try the pineapple smoothie');
    // Search syntax is plain words; an unsearchable query explains itself.
    await a.getByTestId('search-input').fill('"');
    await a.getByRole('button', { name: 'Search', exact: true }).click();
    await a.getByTestId('search-error').getByText('There are no words to search for').waitFor();
    await shot(a, 'search');
    // Closed: an open room reads its new messages at once.
    await aContext.close();
    await bContext.close();
  });

  it('works at 390 px: badges, member menu and search fit the screen', async ({ browser }) => {
    await inviteAndJoin(alpha, roomId, beta, BOB); // back after the unban
    await send(beta, roomId, 'a message for the phone, mentioning @owner');
    const { context, page } = await open(browser, alpha, 390);
    await page.getByRole('link', { name: 'Rooms' }).click();
    const civil = page.getByRole('link', { name: 'civil' }).locator('xpath=..');
    await civil.getByTestId('mention-count').waitFor();
    await page.getByTestId('search-input').fill('phone');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByTestId('search-result').first().click();
    await page.locator('.message.jumped').waitFor();
    await page.getByText('Members and invitations').click();
    await page.getByTestId(`member-${BOB}`).getByLabel(`Actions for ${BOB}`).click();
    await page.getByTestId(`member-${BOB}`).getByRole('button', { name: 'Remove', exact: true }).waitFor();
    // Nothing of the rooms screen (room list, badges, search, timeline, member menu) is wider
    // than the phone. (The top bar is issue #16's: it overflows at 390 px on main too.)
    const wide = await page.evaluate(() => {
      interface Box { tagName: string; className: string; getBoundingClientRect(): { right: number } }
      const doc = (globalThis as unknown as { document: { documentElement: { clientWidth: number }; querySelectorAll(s: string): Iterable<Box> } }).document;
      return [...doc.querySelectorAll('.rooms-layout, .rooms-layout *')]
        .filter((e) => e.getBoundingClientRect().right > doc.documentElement.clientWidth + 1)
        .map((e) => `${e.tagName}.${e.className}`);
    });
    expect(wide).toEqual([]);
    await shot(page, 'room-moderation-390');
    await context.close(); // its open room would read the next test's messages
  });

  it('the title and mention notifications follow on the Dashboard and Peers screens too', async ({ browser }) => {
    // Everything read so far.
    const latestMessage = (await messages(alpha, roomId)).at(-1)!.event_id;
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/read`, { event_id: latestMessage })).status).toBe(200);
    expect(await unread(alpha, roomId)).toEqual({ unread: 0, mentions: 0 });
    const { context, page } = await open(browser, alpha); // on the Dashboard
    await expect.poll(() => page.title()).toBe('Paracord');

    await send(beta, roomId, '@owner, a question while you look at the dashboard', BOB);
    await expect.poll(() => page.title()).toBe('(1 · @1) Paracord');
    await expect.poll(() => page.evaluate(() => (globalThis as unknown as { __notes: string[] }).__notes)).toEqual(['You were mentioned in civil']);
    expect(await page.getByRole('heading', { name: 'Dashboard' }).isVisible()).toBe(true);

    await page.getByRole('link', { name: 'Peers & trust' }).click();
    await send(beta, roomId, 'and one more, without a mention', BOB);
    await expect.poll(() => page.title()).toBe('(2 · @1) Paracord');
    expect(await page.evaluate(() => (globalThis as unknown as { __notes: string[] }).__notes)).toHaveLength(1);
    await shot(page, 'peers-unread-title');
    await context.close();
  });
});
