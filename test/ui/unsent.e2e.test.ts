/// <reference lib="dom" />
/**
 * Messages not sent yet outlive the room screen (a helper's audit: they lived inside Room.svelte,
 * which is made anew for each room, so opening another room or the Account page lost them without
 * a word, and their promised resend never ran). In real Chromium against a real node: a message
 * sent while the node cannot be reached (the owner's node stopped; a member's phone offline) still
 * waits in its room after another room and another page were opened, goes out by itself once the
 * node is back while another page is open, exactly once, and shows sent in its room. A member's
 * also waits across a reload of the tab (the browser asks before the page goes).
 */
import type { Browser, Page } from 'playwright-core';
import { describe, expect, it, type Nodes } from '../helpers/fixtures.ts';
import { HAVE_CHROMIUM, signedIn } from '../helpers/browser.ts';
import type { NodeProcess } from '../helpers/node-process.ts';
import { enc, inviteAndJoin } from '../helpers/rooms.ts';

/** How many times `body` is stored in the room, as the node holds it. */
async function storedCount(node: NodeProcess, roomId: string, body: string): Promise<number> {
  const answer = await node.admin<{ messages: Array<{ body: string }> }>('GET', `/rooms/${enc(roomId)}/messages?limit=50`);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return answer.body.messages.filter((m) => m.body === body).length;
}

/**
 * Opens the room named `name` from the Rooms list (its last known list). With `unreachableId`
 * (its id) the node does not answer, so the room cannot be read: its pane is open, without it.
 */
const openRoom = async (page: Page, name: string, unreachableId?: string) => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Rooms' }).click();
  await page.getByRole('link', { name, exact: true }).click();
  if (unreachableId) await page.locator(`.room-pane[data-room="${unreachableId}"]`).waitFor({ state: 'attached' });
  else await page.getByRole('heading', { name, exact: true }).waitFor();
};

const OWNER_WAITING = 'Not sent yet: your node does not answer. It is sent by itself when your node is back (never twice).';

/**
 * The owner's opening: a node with rooms named `names`, signed in, the first one open; the node
 * stops, and `body` is sent there and waits, with the words that say so. The rooms' ids in order.
 */
async function ownerSendsWhileStopped<const Names extends readonly [string, ...string[]]>(browser: Browser, fileNodes: Nodes, serverName: string, names: Names, body: string) {
  const node = await fileNodes.start({ serverName, keepAdminPort: true });
  const rooms: string[] = [];
  for (const name of names) rooms.push(String((await node.admin('POST', '/rooms', { name })).body.room_id));
  const { page } = await signedIn(browser, node);
  await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
  await openRoom(page, names[0]);

  await node.stop();
  await page.getByTestId('node-unreachable').waitFor({ timeout: 5_000 });
  await page.getByTestId('composer').fill(body);
  await page.getByRole('button', { name: 'Send' }).click();
  await page.getByTestId('outgoing').filter({ hasText: body }).getByText(OWNER_WAITING).waitFor();
  return { node, page, rooms: rooms as { [K in keyof Names]: string } };
}

describe.skipIf(!HAVE_CHROMIUM)('unsent messages outlive the room screen (real Chromium, a real node)', () => {
  it("owner: a message sent while the node is stopped still waits after another room and the Dashboard, and is sent once by itself when the node is back", async ({ browser, fileNodes }) => {
    const body = 'written while the node was down, then another room';
    const { node, page, rooms: [first, second] } = await ownerSendsWhileStopped(browser, fileNodes, 'unsent-owner.test', ['first', 'second'], body);

    // Another room: it is not there; back in its room: it still waits, with its words.
    await openRoom(page, 'second', second);
    expect(await page.getByTestId('outgoing').count()).toBe(0);
    await openRoom(page, 'first', first);
    await page.getByTestId('outgoing').filter({ hasText: body }).getByText(OWNER_WAITING).waitFor({ timeout: 3_000 });

    // Another page while the node comes back: it goes out by itself, once.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await node.start();
    await page.getByTestId('node-unreachable').waitFor({ state: 'detached', timeout: 10_000 });
    await expect.poll(() => storedCount(node, first, body), { timeout: 10_000 }).toBe(1);

    // Its room shows it sent, once, and nothing waits.
    await openRoom(page, 'first');
    await page.getByTestId('message').getByText(body).waitFor();
    expect(await page.getByTestId('outgoing').count()).toBe(0);
    expect(await page.getByTestId('message').getByText(body).count()).toBe(1);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await storedCount(node, first, body)).toBe(1);
  });

  it('member: a message sent offline still waits after another room and the Account page, is sent once when back, and waits across a reload', async ({ browser, fileNodes }) => {
    const node = await fileNodes.start({ serverName: 'unsent-member.test' });
    const ann = '@ann:unsent-member.test';
    const token = String((await node.admin('POST', '/members/invites', {})).body.link).split('#/join/')[1]!;
    // http://localhost: a secure context, where the app shell's worker serves the page offline.
    const app = `http://localhost:${new URL(node.federationUrl).port}/app/`;
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
    const page = await phone.newPage();
    await page.goto(app);
    await page.getByTestId('sign-in').waitFor();
    const joined = await page.evaluate(
      async (t) => (await fetch('/_paracord/client/v1/join', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: t, localpart: 'ann', passphrase: 'kettle orbit lantern mosaic' }) })).status,
      token,
    );
    expect(joined).toBe(200);
    const rooms: Record<string, string> = {};
    for (const name of ['first', 'second']) {
      rooms[name] = String((await node.admin('POST', '/rooms', { name })).body.room_id);
      await inviteAndJoin(node, rooms[name]!, node, ann);
    }
    await page.reload();
    await page.getByRole('heading', { name: 'Rooms' }).waitFor();
    await openRoom(page, 'first');

    await phone.setOffline(true);
    await page.getByTestId('offline').waitFor();
    const body = 'written offline, then another room and Account';
    await page.getByTestId('composer').fill(body);
    await page.keyboard.press('Enter');
    const waiting = 'Not sent yet: there is no connection. It is sent by itself when you are back (never twice).';
    await page.getByTestId('outgoing').filter({ hasText: body }).getByText(waiting).waitFor();

    await openRoom(page, 'second', rooms.second);
    expect(await page.getByTestId('outgoing').count()).toBe(0);
    await openRoom(page, 'first', rooms.first);
    await page.getByTestId('outgoing').filter({ hasText: body }).getByText(waiting).waitFor({ timeout: 3_000 });

    // The Account page while the phone is back: it goes out by itself, once.
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Account' }).click();
    await page.getByRole('heading', { name: 'Your account' }).waitFor();
    await phone.setOffline(false);
    await expect.poll(() => storedCount(node, rooms.first!, body), { timeout: 15_000 }).toBe(1);
    await openRoom(page, 'first');
    await page.getByTestId('message').getByText(body).waitFor();
    expect(await page.getByTestId('outgoing').count()).toBe(0);
    expect(await page.getByTestId('message').getByText(body).count()).toBe(1);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await storedCount(node, rooms.first!, body)).toBe(1);

    // A reload of the tab keeps what waits (the browser asks before the page goes), and it is sent once back.
    await page.evaluate(async () => void (await navigator.serviceWorker.ready));
    await phone.setOffline(true);
    await page.getByTestId('offline').waitFor();
    const kept = 'written offline, then the page reloaded';
    await page.getByTestId('composer').fill(kept);
    await page.keyboard.press('Enter');
    await page.getByTestId('outgoing').filter({ hasText: kept }).getByText(waiting).waitFor();
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.type());
      void dialog.accept();
    });
    await page.reload();
    expect(dialogs).toEqual(['beforeunload']);
    expect(await storedCount(node, rooms.first!, kept)).toBe(0);
    await phone.setOffline(false);
    await page.getByTestId('composer').waitFor();
    await expect.poll(() => storedCount(node, rooms.first!, kept), { timeout: 15_000 }).toBe(1);
    await page.getByTestId('message').getByText(kept).waitFor();
    await expect.poll(() => page.getByTestId('outgoing').count()).toBe(0);
    // The box kept its text across the reload, as that message: it went with it (no second copy to send).
    expect(await page.getByTestId('composer').inputValue()).toBe('');
    await new Promise((r) => setTimeout(r, 2_000));
    expect(await storedCount(node, rooms.first!, kept)).toBe(1);
  });

  it('the same words typed anew while the first copy waits stay in the box when that copy goes out by itself', async ({ browser, fileNodes }) => {
    const body = 'see you at eight';
    const { node, page, rooms: [room] } = await ownerSendsWhileStopped(browser, fileNodes, 'unsent-again.test', ['again'], body);
    expect(await page.getByTestId('composer').inputValue()).toBe(body);
    // The user empties the box and writes the same words again: a second message, not yet sent.
    await page.getByTestId('composer').fill('');
    await page.getByTestId('composer').fill(body);

    await node.start();
    await expect.poll(() => storedCount(node, room, body), { timeout: 15_000 }).toBe(1);
    await page.getByTestId('message').getByText(body).waitFor();
    await expect.poll(() => page.getByTestId('outgoing').count()).toBe(0);
    expect(await page.getByTestId('composer').inputValue()).toBe(body);
  });
});
