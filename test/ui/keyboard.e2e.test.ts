/// <reference lib="dom" />
/**
 * Issue #16 item 14, "keyboard navigation through every action": every user action of the UI,
 * in a real Chromium against real nodes, with the keyboard only — Tab / Shift+Tab to reach a
 * control, Enter / Space / Escape / arrow keys to operate it, typing into fields. No mouse, no
 * element.click(), no fill(). Each action's effect is checked at the node (admin API) or on the
 * page, the control reached shows a visible focus, and where an action makes its control go
 * away (a menu or inline form closes, a message is deleted, an invitation accepted) focus lands
 * on a sensible control instead of falling back to the start of the page.
 */
import type { Locator, Page } from 'playwright-core';
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import { HAVE_CHROMIUM, signedIn } from '../helpers/browser.ts';
import type { NodeProcess } from '../helpers/node-process.ts';
import { enc, eventually, inviteAndJoin, messages, roomWithMembers, send } from '../helpers/rooms.ts';

const isFocused = (target: Locator) => target.evaluate((el) => el === document.activeElement);

/** What has focus, in words (for failure messages). */
const focusedName = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    return el ? `${el.tagName} ${el.getAttribute('aria-label') ?? ''} "${(el.textContent ?? '').trim().slice(0, 40)}"` : 'nothing';
  });

/**
 * Presses Tab (Shift+Tab with back) until the target has focus; fails if it never does (not
 * reachable by keyboard). The reached control must show a focus outline.
 */
async function tabTo(page: Page, target: Locator, { back = false, max = 400 } = {}): Promise<void> {
  await target.waitFor();
  for (let i = 0; i < max; i++) {
    if (await isFocused(target)) {
      const outline = await target.evaluate((el) => {
        const style = getComputedStyle(el);
        return style.outlineStyle !== 'none' && style.outlineWidth !== '0px';
      });
      expect(outline, `no visible focus on ${await focusedName(page)}`).toBe(true);
      return;
    }
    await page.keyboard.press(back ? 'Shift+Tab' : 'Tab');
  }
  throw new Error(`the keyboard never reached ${target.toString()} (focus is on ${await focusedName(page)})`);
}

/** Reaches the target by Tab and operates it with a key. */
async function press(page: Page, target: Locator, key = 'Enter', options: { back?: boolean } = {}): Promise<void> {
  await tabTo(page, target, options);
  await page.keyboard.press(key);
}

/** Focus lands on the target (after an action made the previous control go away). */
async function focusLandsOn(page: Page, target: Locator): Promise<void> {
  await expect.poll(async () => ((await target.count()) > 0 && (await isFocused(target)) ? 'yes' : await focusedName(page)), { timeout: 10_000 }).toBe('yes');
}

/** Focus is (once the screen has settled) somewhere on the page, not dropped to <body>. */
async function focusKept(page: Page): Promise<void> {
  await expect.poll(() => page.evaluate(() => document.activeElement?.tagName ?? 'BODY'), { timeout: 10_000 }).not.toBe('BODY');
}

describe.skipIf(!HAVE_CHROMIUM)('issue #16 item 14: every action by keyboard only (real Chromium, real nodes)', () => {
  it('the wizard, invite a friend (copy, QR), use a link (preview, confirm), chat, retry/drop a refused delivery, pause/resume, sign out', async ({ browser, fileNodes }) => {
    const [alpha, beta] = await Promise.all([fileNodes.start({}), fileNodes.start({})]);
    const { page: a, context: ac } = await signedIn(browser, alpha);
    const { page: b } = await signedIn(browser, beta);
    await ac.grantPermissions(['clipboard-read', 'clipboard-write']);

    // The wizard: the advanced part opens with Enter; on a node that serves HTTPS the certificate
    // choice moves with the arrow keys (under --insecure-http there is none to make).
    const secure = await fileNodes.start({ secure: true });
    const { page: w } = await signedIn(browser, secure);
    await w.getByRole('heading', { name: /Let's set up your Paracord server/ }).waitFor();
    await press(w, w.getByText('Advanced: address, certificate, restore a backup'));
    await press(w, w.getByRole('radio', { name: /Make one for me/ }), 'ArrowDown');
    await w.getByLabel('Certificate file (PEM, on this computer)').waitFor();
    expect(await w.getByRole('radio', { name: /I have my own certificate/ }).isChecked()).toBe(true);
    await w.keyboard.press('ArrowUp');
    await expect.poll(() => w.getByLabel('Certificate file (PEM, on this computer)').count()).toBe(0);
    await a.getByRole('heading', { name: /Let's set up your Paracord server/ }).waitFor();
    await press(a, a.getByText('Advanced: address, certificate, restore a backup'));
    await a.getByTestId('plain-http-note').waitFor();
    await tabTo(a, a.getByLabel('Server name'), { back: true });
    await a.keyboard.type('alpha.test');
    await a.keyboard.press('Enter');
    await a.getByRole('heading', { name: 'Dashboard' }).waitFor();
    expect((await alpha.admin('GET', '/status')).body.server_name).toBe('alpha.test');
    for (const [page, name] of [[b, 'beta.test']] as const) {
      await tabTo(page, page.getByLabel('Server name'));
      await page.keyboard.type(name);
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    }

    // Invite a friend: Copy puts the link on the clipboard, the QR code is shown, "Make another link" makes a new one.
    const first = await a.getByTestId('invite-link').inputValue();
    await press(a, a.getByRole('button', { name: 'Copy' }));
    // Said once the clipboard took it, and it stays (no short timer to catch).
    await a.getByRole('status').filter({ hasText: 'Copied to the clipboard.' }).waitFor();
    expect(await a.evaluate(() => navigator.clipboard.readText())).toBe(first);
    await a.getByRole('img', { name: 'QR code of the invite link' }).waitFor();
    await press(a, a.getByRole('button', { name: 'Make another link' }));
    await expect.poll(() => a.getByTestId('invite-link').inputValue()).not.toBe(first);
    const link = await a.getByTestId('invite-link').inputValue();
    expect((await alpha.admin('GET', '/invites/peer')).body.invites).toHaveLength(2); // the wizard's (copied), and the new one

    // Use a friend's link: Enter checks it, focus moves to "Peer with …"; Escape cancels back to the field.
    await tabTo(b, b.getByTestId('redeem-input'));
    await b.keyboard.type(link);
    await b.keyboard.press('Enter');
    const peerWith = b.getByRole('button', { name: 'Peer with alpha.test' });
    await focusLandsOn(b, peerWith);
    expect(await b.getByTestId('preview-fingerprint').textContent()).toBe(await a.getByTestId('own-fingerprint').textContent());
    await b.keyboard.press('Escape');
    await focusLandsOn(b, b.getByTestId('redeem-input'));
    await b.keyboard.press('Enter');
    await focusLandsOn(b, peerWith);
    await b.keyboard.press('Enter');
    await b.getByTestId('redeem-result').getByText('You are now peered with alpha.test.').waitFor();
    await focusLandsOn(b, b.getByTestId('redeem-result'));
    expect((await beta.admin('GET', '/peers')).body.peers.map((p: { server_name: string }) => p.server_name)).toContain('alpha.test');

    // Chat with the peer: the invitation is accepted by keyboard, focus lands in the message box.
    await press(a, a.getByRole('button', { name: 'Chat with beta.test' }));
    await a.getByRole('heading', { name: 'alpha.test + beta.test' }).waitFor();
    await press(b, b.getByTestId('room-invite').getByRole('button', { name: 'Accept' }));
    await b.getByRole('heading', { name: 'alpha.test + beta.test' }).waitFor();
    await focusLandsOn(b, b.getByTestId('composer'));
    await b.keyboard.type('typed on beta');
    await b.keyboard.press('Enter');
    await a.getByText('typed on beta').waitFor({ timeout: 15_000 });
    await tabTo(a, a.getByTestId('composer'));
    await a.keyboard.type('typed on alpha');
    await a.keyboard.press('Tab'); // to Send
    await a.keyboard.press('Enter');
    await b.getByText('typed on alpha').waitFor({ timeout: 15_000 });
    await focusLandsOn(a, a.getByTestId('composer')); // Send disabled itself: the box has focus again
    const room = (await alpha.admin('GET', '/rooms')).body.rooms[0].room_id as string;

    // A refused delivery: beta blocks alpha; Retry (after beta allows it again) delivers, Drop removes.
    const refused = async (body: string) => {
      await beta.admin('PUT', '/peers/alpha.test/trust', { mode: 'block', reason: 'test' });
      await send(alpha, room, body);
      await eventually(async () => expect((await alpha.admin('GET', '/queue?state=failed')).body.entries).toHaveLength(1));
      await beta.admin('PUT', '/peers/alpha.test/trust', { mode: 'allow' });
    };
    await refused('refused once');
    await press(a, a.getByRole('link', { name: 'Dashboard' }));
    await a.getByRole('heading', { name: 'Dashboard' }).waitFor();
    const failedList = a.getByTestId('failed-list');
    await press(a, failedList.getByRole('button', { name: 'Retry' }));
    await eventually(async () => expect((await messages(beta, room)).map((m) => m.body)).toContain('refused once'));
    await expect.poll(() => failedList.count()).toBe(0);
    await focusKept(a);
    await refused('refused twice');
    await press(a, failedList.getByRole('button', { name: 'Drop' }));
    await expect.poll(async () => (await alpha.admin('GET', '/queue?state=failed')).body.entries.length).toBe(0);
    await expect.poll(() => failedList.count()).toBe(0);
    await focusKept(a);

    // Pause and resume: focus moves to the button that replaced the pressed one.
    await press(a, a.getByRole('button', { name: 'Pause federation' }));
    await expect.poll(async () => (await alpha.admin('GET', '/status')).body.federation.paused).toBe(true);
    await focusLandsOn(a, a.getByRole('button', { name: 'Resume federation' }));
    await a.keyboard.press('Enter');
    await expect.poll(async () => (await alpha.admin('GET', '/status')).body.federation.paused).toBe(false);
    await focusLandsOn(a, a.getByRole('button', { name: 'Pause federation' }));

    // Test reachability again: the button disables itself while testing, and gets the focus back.
    // (Its answer may be the test run when the friend was added, moments ago: the friend answers one probe per 30 s.)
    const again = a.getByTestId('reachability-check');
    const answered = a.waitForResponse((r) => r.url().includes('reachability') && r.request().method() === 'POST', { timeout: 15_000 });
    await press(a, again);
    expect((await answered).status()).toBe(200);
    await expect.poll(() => again.textContent()).toBe('Test again');
    await focusLandsOn(a, again);

    // Sign out (the top bar's), back by Shift+Tab.
    const sessions = (await alpha.admin('GET', '/sessions')).body.sessions.length as number;
    await press(a, a.getByRole('banner').getByRole('button', { name: 'Sign out' }), 'Enter', { back: true });
    await a.getByRole('heading', { name: 'Log in to your Paracord node' }).waitFor();
    expect((await alpha.admin('GET', '/sessions')).body.sessions.length).toBe(sessions - 1);
  }, 150_000); // the longest path of the file (two nodes, every dashboard action): about 20 s on an idle machine

  describe('rooms, a room, peers & trust', () => {
    let alpha: NodeProcess;
    let beta: NodeProcess;
    const BOB = '@bob:beta.test';
    const BETA_OWNER = '@owner:beta.test';

    beforeAll(async ({ fileNodes }) => {
      if (!HAVE_CHROMIUM) return;
      [alpha, beta] = await fileNodes.peered('alpha.test', 'beta.test');
      expect((await beta.admin('POST', '/users', { localpart: 'bob' })).status).toBe(200);
    }, 60_000);

    it('the rooms list: create a room, decline and accept invitations, join a room on a friend\'s server', async ({ browser }) => {
      const offered: string[] = [];
      for (const name of ['declined by keyboard', 'accepted by keyboard']) {
        const id = (await beta.admin('POST', '/rooms', { name })).body.room_id as string;
        expect((await beta.admin('POST', `/rooms/${enc(id)}/invites`, { user_id: '@owner:alpha.test' })).status).toBe(200);
        offered.push(id);
      }
      await eventually(async () => expect((await alpha.admin('GET', '/invites')).body.invites).toHaveLength(2));
      const { page } = await signedIn(browser, alpha);
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      await press(page, page.getByRole('link', { name: /^Rooms/ }));
      await page.getByRole('complementary', { name: 'Rooms' }).waitFor();

      // Create a room: type the name, Enter.
      await tabTo(page, page.getByLabel('New room name'));
      await page.keyboard.type('made by keyboard');
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'made by keyboard' }).waitFor();
      expect((await alpha.admin('GET', '/rooms')).body.rooms.map((r: { name: string }) => r.name)).toContain('made by keyboard');

      // Decline one invitation: focus moves to the other one's buttons.
      const invite = (name: string) => page.getByTestId('room-invite').filter({ hasText: name });
      await press(page, invite('declined by keyboard').getByRole('button', { name: 'Decline' }));
      await expect.poll(() => invite('declined by keyboard').count()).toBe(0);
      await focusLandsOn(page, invite('accepted by keyboard').getByRole('button', { name: 'Accept' }));
      // Accept the other: the room opens with focus in its message box.
      await page.keyboard.press('Enter');
      await page.getByRole('heading', { name: 'accepted by keyboard' }).waitFor();
      await focusLandsOn(page, page.getByTestId('composer'));
      const rooms = (await alpha.admin('GET', '/rooms')).body.rooms as Array<{ room_id: string; membership: string }>;
      expect(rooms.find((r) => r.room_id === offered[1])?.membership).toBe('join');
      expect(rooms.find((r) => r.room_id === offered[0])?.membership ?? 'leave').not.toBe('join');
      expect((await alpha.admin('GET', '/invites')).body.invites).toEqual([]);

      // Join a room on a Paracord reference server: the answer is shown in place (beta is not one).
      await tabTo(page, page.getByLabel('Join a room on a Paracord reference server'), { back: true });
      await page.keyboard.type('!1234567890:beta.test');
      await page.keyboard.press('Enter');
      await page.getByText(/^(Not joined|Joined)\./).waitFor();
      await focusKept(page);
    });

    it('a room: send, edit, delete, react/unreact, load older, member menu, unban, search and jump', async ({ browser }) => {
      const roomId = await roomWithMembers(alpha, 'civil', [[beta, BETA_OWNER], [beta, BOB]]);
      await alpha.admin('POST', '/rooms', { name: 'quiet' });
      await send(beta, roomId, 'hey, try the pineapple smoothie', BOB);
      for (let i = 1; i <= 160; i++) await send(alpha, roomId, `filler ${i}`);
      // Someone else's message to react to, there before the page opens (live arrival has its own tests).
      const theirId = await send(beta, roomId, 'react to me', BOB);
      await eventually(async () => expect((await alpha.admin('GET', `/rooms/${enc(roomId)}/messages?limit=5`)).body.messages.map((m: { event_id: string }) => m.event_id)).toContain(theirId));
      const { page } = await signedIn(browser, alpha);
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      await press(page, page.getByRole('link', { name: /^Rooms/ }));
      await press(page, page.getByRole('link', { name: 'civil' }));
      await page.getByRole('heading', { name: 'civil' }).waitFor();
      await page.getByText('filler 160', { exact: true }).waitFor();

      // Load older: Tab reaches the button at the top of the timeline (focusing it scrolls up, which
      // may load a page by itself, keeping the focus); Enter loads the next page.
      const older = page.getByRole('button', { name: 'Load older messages' });
      await tabTo(page, older);
      await expect.poll(() => older.getAttribute('aria-disabled')).toBe('false');
      await focusLandsOn(page, older);
      const shown = await page.getByTestId('message').count();
      await page.keyboard.press('Enter');
      await expect.poll(() => page.getByTestId('message').count()).toBeGreaterThan(shown);
      await focusKept(page);

      // Send: past the timeline's many buttons, its skip button leads to the message box.
      await press(page, page.getByRole('button', { name: 'Skip the messages, to the message box' }), 'Enter', { back: true });
      await focusLandsOn(page, page.getByTestId('composer'));
      await page.keyboard.type('sent by keyboard');
      await page.keyboard.press('Enter');
      await page.getByTestId('message').filter({ hasText: 'sent by keyboard' }).waitFor();
      const id = (await eventually(async () => (await messages(alpha, roomId)).find((m) => m.body === 'sent by keyboard')!)).event_id as string;
      const mine = page.locator(`[data-event-id="${id}"]`);
      const event = async () => (await messages(alpha, roomId)).find((m) => m.event_id === id);

      // Edit: Enter opens the field with focus in it, Escape cancels back to Edit, Enter saves.
      const edit = mine.getByRole('button', { name: 'Edit' });
      await press(page, edit, 'Enter', { back: true });
      const field = mine.getByLabel('Edit message');
      await focusLandsOn(page, field);
      await page.keyboard.press('Escape');
      await focusLandsOn(page, edit);
      await page.keyboard.press('Enter');
      await focusLandsOn(page, field);
      await page.keyboard.press('End');
      await page.keyboard.type(', then edited');
      await page.keyboard.press('Enter');
      await mine.getByText('(edited)').waitFor();
      expect((await event())!.body).toBe('sent by keyboard, then edited');
      await focusLandsOn(page, edit);

      // React with a quick button, then unreact with its chip (Space): focus follows the key.
      await press(page, mine.getByRole('button', { name: 'React with 🎉' }), 'Enter', { back: true });
      const chip = mine.getByRole('button', { name: /^🎉 1/ });
      await focusLandsOn(page, chip);
      expect(await chip.getAttribute('aria-pressed')).toBe('true');
      expect((await event())!.reactions).toEqual({ '🎉': ['@owner:alpha.test'] });
      await page.keyboard.press('Space');
      await expect.poll(() => chip.count()).toBe(0);
      await focusLandsOn(page, mine.getByRole('button', { name: 'React with 🎉' }));
      expect((await event())!.reactions).toEqual({});
      // React to someone else's message (a chip then shows, toggled by Enter).
      const theirs = page.getByTestId('message').filter({ hasText: 'react to me' });
      await press(page, theirs.getByRole('button', { name: 'React with 👍' }), 'Enter', { back: true }); // above: backward
      await focusLandsOn(page, theirs.getByRole('button', { name: /^👍 1/ }));

      // Delete own message (it asks first): focus stays on the (now deleted) message.
      page.once('dialog', (dialog) => void dialog.accept());
      await press(page, mine.getByRole('button', { name: 'Delete' }), 'Enter'); // below: forward
      await mine.getByText('Message deleted').waitFor();
      await focusLandsOn(page, mine);
      expect((await event())!.deleted).toBe(true);

      // Members: the disclosure opens with Enter; a member's menu opens with Enter and closes with Escape.
      await press(page, page.getByText('Members and invitations'));
      const betaOwner = page.getByTestId(`member-${BETA_OWNER}`);
      const ownerMenu = betaOwner.getByLabel(`Actions for ${BETA_OWNER}`);
      await press(page, ownerMenu);
      await betaOwner.getByRole('button', { name: 'Make moderator' }).waitFor();
      await page.keyboard.press('Escape');
      await expect.poll(() => betaOwner.getByRole('button', { name: 'Make moderator' }).isVisible()).toBe(false);
      await focusLandsOn(page, ownerMenu);
      await page.keyboard.press('Enter');
      await press(page, betaOwner.getByRole('button', { name: 'Make moderator' }));
      await betaOwner.getByTestId('member-role').getByText('moderator').waitFor();
      await focusLandsOn(page, ownerMenu);
      const member = async (user: string) => (await alpha.admin('GET', `/rooms/${enc(roomId)}`)).body.members.find((m: { user_id: string }) => m.user_id === user);
      expect((await member(BETA_OWNER)).role).toBe('moderator');
      // Remove them.
      await page.keyboard.press('Enter');
      page.once('dialog', (dialog) => void dialog.accept()); // it asks first
      await press(page, betaOwner.getByRole('button', { name: 'Remove', exact: true }));
      await expect.poll(async () => (await member(BETA_OWNER)).membership).toBe('leave');
      await expect.poll(() => betaOwner.count()).toBe(0);
      await focusKept(page);
      // Ban bob with a reason typed into the menu.
      const bob = page.getByTestId(`member-${BOB}`);
      await press(page, bob.getByLabel(`Actions for ${BOB}`));
      await tabTo(page, bob.getByLabel('Reason (optional)'));
      await page.keyboard.type('rude');
      page.once('dialog', (dialog) => void dialog.accept());
      await press(page, bob.getByRole('button', { name: 'Ban' }));
      await page.getByTestId(`ban-${BOB}`).getByText('rude').waitFor();
      expect((await alpha.admin('GET', `/rooms/${enc(roomId)}/bans`)).body.bans).toMatchObject([{ user_id: BOB, reason: 'rude' }]);
      await focusKept(page);
      // Unban.
      await press(page, page.getByTestId(`ban-${BOB}`).getByRole('button', { name: 'Unban' }));
      await expect.poll(async () => (await alpha.admin('GET', `/rooms/${enc(roomId)}/bans`)).body.bans).toEqual([]);
      await focusKept(page);

      // Search: Enter searches, Escape closes the results back to the field, Enter on a result jumps to it.
      await press(page, page.getByRole('link', { name: 'quiet' }));
      await page.getByRole('heading', { name: 'quiet' }).waitFor();
      const search = page.getByTestId('search-input');
      await tabTo(page, search, { back: true });
      await page.keyboard.type('pineapple');
      await page.keyboard.press('Enter');
      const result = page.getByTestId('search-result');
      await result.first().waitFor();
      await page.keyboard.press('Escape');
      await expect.poll(() => result.count()).toBe(0);
      await focusLandsOn(page, search);
      expect(await search.inputValue()).toBe('pineapple');
      await page.keyboard.press('Enter');
      await press(page, result.first());
      await page.getByRole('heading', { name: 'civil' }).waitFor();
      const target = page.locator('.message.jumped');
      await target.waitFor();
      expect(await target.textContent()).toContain('try the pineapple smoothie');
      await focusLandsOn(page, target);
    });

    it('peers & trust: quarantine/block/allow, trust details with "use default", release/purge held events, revoke a link', async ({ browser }) => {
      const room = (await beta.admin('POST', '/rooms', { name: 'from beta' })).body.room_id as string;
      await inviteAndJoin(beta, room, alpha, '@owner:alpha.test');
      const { page } = await signedIn(browser, alpha);
      await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
      await press(page, page.getByRole('link', { name: 'Peers & trust' }));
      await page.getByRole('heading', { name: 'Peers & trust' }).waitFor();
      const row = page.getByTestId('peer-beta.test');
      const details = row.getByRole('button', { name: 'Details…' });
      const trust = async () => (await alpha.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'beta.test');

      // Block: the inline question takes focus; Escape cancels it back to "Details…".
      await press(page, row.getByRole('button', { name: 'Block' }));
      await focusLandsOn(page, page.getByTestId('trust-reason'));
      await page.keyboard.press('Escape');
      await expect.poll(() => page.getByTestId('trust-reason').count()).toBe(0);
      await focusLandsOn(page, details);
      expect((await trust()).trust).toBe('allow');
      // Block for real, with a reason typed and Enter.
      await press(page, row.getByRole('button', { name: 'Block' }), 'Enter', { back: true });
      await focusLandsOn(page, page.getByTestId('trust-reason'));
      await page.keyboard.type('testing');
      await page.keyboard.press('Enter');
      await expect.poll(async () => (await trust()).trust).toBe('block');
      expect((await trust()).reason).toBe('testing');
      await focusLandsOn(page, details);
      // Allow again.
      await press(page, row.getByRole('button', { name: 'Allow' }), 'Enter', { back: true });
      await expect.poll(async () => (await trust()).trust).toBe('allow');
      await focusKept(page);

      // Trust details: the form opens with focus in it; a limit is saved, then "use default" and saved again; Escape closes.
      await press(page, details);
      const form = page.getByRole('form', { name: 'Trust settings of beta.test' });
      await focusLandsOn(page, form.getByLabel('Trust'));
      await tabTo(page, form.getByLabel(/Requests per second/));
      await page.keyboard.type('5');
      await page.keyboard.press('Tab');
      await page.keyboard.type('20');
      await page.keyboard.press('Enter');
      await form.getByText('beta.test: saved').waitFor();
      expect((await trust()).rate_limit).toEqual({ per_second: 5, burst: 20 });
      await press(page, form.getByRole('button', { name: 'Use default limit' }));
      await focusLandsOn(page, form.getByLabel(/Requests per second/));
      expect(await form.getByLabel(/Requests per second/).inputValue()).toBe('');
      await press(page, form.getByRole('button', { name: 'Save' }));
      await form.getByText('beta.test: saved').waitFor();
      expect((await trust()).rate_limit).toBeNull();
      await focusKept(page);
      await page.keyboard.press('Escape');
      await expect.poll(() => form.count()).toBe(0);
      await focusLandsOn(page, details);
      // ...and "Close" closes it too.
      await page.keyboard.press('Enter');
      await press(page, form.getByRole('button', { name: 'Close' }));
      await expect.poll(() => form.count()).toBe(0);
      await focusLandsOn(page, details);

      // Quarantine (reason optional: just Enter), held events, release.
      await press(page, row.getByRole('button', { name: 'Quarantine' }), 'Enter', { back: true });
      await focusLandsOn(page, page.getByTestId('trust-reason'));
      await page.keyboard.press('Enter');
      await expect.poll(async () => (await trust()).trust).toBe('quarantine');
      await send(beta, room, 'held, then released');
      await page.getByTestId('held-beta.test').getByText('held, then released').waitFor({ timeout: 15_000 });
      await press(page, page.getByRole('button', { name: 'Release all' }));
      await page.getByRole('status').getByText('Released 1 event.', { exact: true }).waitFor();
      await eventually(async () => expect((await messages(alpha, room)).map((m) => m.body)).toContain('held, then released'));
      await expect.poll(() => page.getByTestId('held-beta.test').count()).toBe(0);
      await focusKept(page);
      await send(beta, room, 'held, then purged');
      await page.getByTestId('held-beta.test').getByText('held, then purged').waitFor({ timeout: 15_000 });
      await press(page, page.getByRole('button', { name: 'Purge all' }));
      await expect.poll(async () => (await alpha.admin('GET', '/quarantine')).body.held.length).toBe(0);
      expect((await messages(alpha, room)).map((m) => m.body)).not.toContain('held, then purged');
      await focusKept(page);

      // Make an invite link and revoke it.
      await press(page, page.getByRole('button', { name: 'Create an invite link' }), 'Enter', { back: true });
      await page.getByTestId('invite-link').waitFor();
      const links = page.getByTestId('peer-invites');
      await press(page, links.getByRole('button', { name: 'Revoke' }));
      await expect.poll(async () => (await alpha.admin('GET', '/invites/peer')).body.invites.map((i: { state: string }) => i.state)).toEqual(['revoked']);
      await focusKept(page);
    });
  });
});
