/// <reference lib="dom" />
/**
 * Issue #37 items 14-16, "the last untruths of the UI", in real Chromium against real nodes: a node
 * that does not answer is never shown as running (what the page last heard is labelled "last
 * known", with its time); a draft outlives the room changing under it, with Copy and the reason;
 * the sign-in page attempts nothing that must fail.
 */
import type { Page } from 'playwright-core';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { HAVE_CHROMIUM, axeViolations, shot, signedIn } from '../helpers/browser.ts';

/** Console errors and failed requests (no answer, or an error status) of a page from now on, and the WebSockets it opened. */
function watch(page: Page): { failures: string[]; sockets: string[] } {
  const failures: string[] = [];
  const sockets: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') failures.push(`console: ${message.text()}`);
  });
  page.on('pageerror', (error) => failures.push(`page error: ${error.message}`));
  page.on('requestfailed', (request) => {
    // A reload aborts what the page it leaves had under way (its event stream, a load): that failed at no node.
    if (request.failure()?.errorText === 'net::ERR_ABORTED') return;
    failures.push(`request failed: ${request.url()} (${request.failure()?.errorText})`);
  });
  page.on('response', (response) => {
    if (response.status() >= 400) failures.push(`HTTP ${response.status()}: ${response.url()}`);
  });
  page.on('websocket', (socket) => {
    sockets.push(socket.url());
    socket.on('socketerror', (error) => failures.push(`websocket error: ${error}`));
  });
  return { failures, sockets };
}

describe.skipIf(!HAVE_CHROMIUM)('issue #37: the last untruths of the UI (real Chromium, real nodes)', () => {
  it('14: a node that does not answer is never shown as running: the node card, its friends, its reachability and a waiting message say "last known" with the time it last answered', async ({ browser, fileNodes }) => {
    const alpha = await fileNodes.start({ serverName: 'alpha.test', keepAdminPort: true });
    const beta = await fileNodes.start({ serverName: 'beta.test' });
    await alpha.addPeer(beta);
    await beta.addPeer(alpha);
    // beta's owner in a room alpha hosts; beta goes away, so alpha's next message waits for it.
    const room = (await alpha.admin('POST', '/rooms', { name: 'waiting room' })).body.room_id as string;
    await alpha.admin('POST', `/rooms/${encodeURIComponent(room)}/invites`, { user_id: '@owner:beta.test' });
    const invite = (await beta.admin('GET', '/invites')).body.invites[0];
    expect((await beta.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
    await beta.stop();
    await alpha.admin('POST', `/rooms/${encodeURIComponent(room)}/messages`, { body: 'are you there?' });

    const { page } = await signedIn(browser, alpha);
    const state = page.getByTestId('node-card-state');
    const betaLine = page.getByTestId('dash-peer-beta.test').getByTestId('peer-line');
    // Twin: while the node answers, it is running and its friend's line is current.
    await expect.poll(() => state.textContent()).toBe('Running');
    await expect.poll(() => betaLine.textContent(), { timeout: 20_000 }).toMatch(/^Offline since .+ — 1 message waiting/);
    await page.getByTestId('reachability-status').waitFor();
    expect(await page.getByTestId('reachability-status').innerText()).not.toContain('last known');
    // A second tab shows the room: the message waits for beta.
    const { page: inRoom } = await signedIn(browser, alpha);
    await inRoom.goto(`${alpha.ready.admin_url}/#/rooms/${encodeURIComponent(room)}`);
    const waiting = inRoom.getByTestId('message').filter({ hasText: 'are you there?' }).getByTestId('delivery');
    await expect.poll(() => waiting.textContent(), { timeout: 20_000 }).toMatch(/^Waiting for beta\.test/);
    expect(await waiting.textContent()).not.toContain('last known');

    await alpha.stop();
    const banner = page.getByTestId('node-unreachable');
    // The time the node last answered, as the page's banner says it; every state on the page is labelled with it.
    const lastAnswered = async (p: Page) => {
      await p.getByTestId('node-unreachable').waitFor();
      return /what it said at (.+?);/.exec(await p.getByTestId('node-unreachable').innerText())![1]!;
    };
    const at = await lastAnswered(page);
    const label = `(last known at ${at})`;
    await expect.poll(() => state.textContent()).toBe(`Not reachable now (last known at ${at}: running)`);
    expect(await page.getByTestId('queue-pending').textContent()).toBe(`1 ${label}`);
    expect(await betaLine.textContent()).toMatch(new RegExp(`^Offline since .+ — 1 message waiting.* \\(last known at ${at}\\)$`));
    // No badge beside the line while the node is down (it read "unknown" beside "Online · seen … (last known …)": a user trial); the line says the last known state.
    expect(await page.getByTestId('dash-peer-beta.test').locator('.pill').count()).toBe(0);
    expect(await page.getByTestId('reachability-status').locator('strong').textContent()).toMatch(new RegExp(` \\(last known at ${at}\\)$`));
    const dashboard = await page.locator('main').innerText();
    expect(dashboard).not.toMatch(/\bRunning\b|\bOnline\b/);
    expect(await page.getByTestId('node-state').textContent()).toBe('not reachable');
    // Nothing offered that needs the node: "Chat with …" waits for it.
    const chat = page.getByTestId('dash-peer-beta.test').getByRole('button', { name: 'Chat with beta.test' });
    expect(await chat.isDisabled()).toBe(true);
    await shot(page, 'dashboard-last-known', true);
    expect(await axeViolations(page)).toEqual([]);

    // Peers & trust, opened while the node is down: nothing it never loaded is said to be empty.
    await page.getByRole('link', { name: 'Peers & trust' }).click();
    await page.getByRole('heading', { name: 'Servers you know' }).waitFor();
    const peers = await page.locator('main').innerText();
    expect(peers).toContain('Not loaded: your node does not answer.');
    expect(peers).not.toMatch(/No peers yet|Nothing held|No links yet/);

    // The room: the message waiting for beta is as last known, with no countdown to a next try.
    const roomAt = await lastAnswered(inRoom);
    await expect.poll(() => waiting.textContent()).toMatch(new RegExp(`^Waiting for beta\\.test.* \\(last known at ${roomAt}\\)`));
    await shot(inRoom, 'room-last-known');
    expect(await waiting.textContent()).not.toContain('next try');

    // The node is back: the labels go, the state is current again.
    await alpha.start();
    await banner.waitFor({ state: 'detached', timeout: 15_000 });
    await page.getByRole('link', { name: 'Dashboard' }).click();
    await expect.poll(() => state.textContent()).toBe('Running');
    await expect.poll(() => betaLine.textContent()).toMatch(/^Offline since .+ — 1 message waiting/);
    expect(await betaLine.textContent()).not.toContain('last known');
    expect(await chat.isEnabled()).toBe(true);
  });

  it('15: a draft outlives the room changing under it (removed by the host, banned, left in another tab): its text stays with Copy, and why it cannot be sent', async ({ browser, fileNodes }) => {
    const alpha = await fileNodes.start({ serverName: 'alpha.test' });
    const beta = await fileNodes.start({ serverName: 'beta.test' });
    await alpha.addPeer(beta);
    await beta.addPeer(alpha);
    /** A room beta hosts, with alpha's owner in it. */
    const betaRoom = async (name: string) => {
      const room = (await beta.admin('POST', '/rooms', { name })).body.room_id as string;
      await beta.admin('POST', `/rooms/${encodeURIComponent(room)}/invites`, { user_id: '@owner:alpha.test' });
      const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === room);
      expect((await alpha.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
      return room;
    };
    const club = await betaRoom('club');
    const lounge = await betaRoom('lounge');
    const notes = (await alpha.admin('POST', '/rooms', { name: 'notes' })).body.room_id as string;

    const { page, context } = await signedIn(browser, alpha);
    await context.grantPermissions(['clipboard-read', 'clipboard-write']);
    const open = async (room: string, draft: string) => {
      await page.goto(`${alpha.ready.admin_url}/#/rooms/${encodeURIComponent(room)}`);
      await page.getByTestId('composer').fill(draft);
    };
    const kept = page.getByTestId('kept-draft');
    const reason = page.getByTestId('cannot-send');

    // Removed by the room's host while writing: the text stays, Copy puts it on the clipboard.
    const draft = 'a draft I wrote\nover two lines';
    await open(club, draft);
    // Twin: a message that comes in meanwhile changes nothing of the draft.
    await beta.admin('POST', `/rooms/${encodeURIComponent(club)}/messages`, { body: 'still here?' });
    await page.getByTestId('message').getByText('still here?').waitFor({ timeout: 15_000 });
    expect(await page.getByTestId('composer').inputValue()).toBe(draft);
    await beta.admin('POST', `/rooms/${encodeURIComponent(club)}/members/${encodeURIComponent('@owner:alpha.test')}/remove`, {});
    await kept.waitFor({ timeout: 15_000 });
    expect(await kept.getByTestId('kept-draft-text').inputValue()).toBe(draft);
    expect(await reason.textContent()).toBe('Removed by @owner:beta.test. The messages from before stay here to read; nothing can be sent. Your message below was not sent.');
    expect(await page.getByTestId('composer').count()).toBe(0);
    await kept.getByRole('button', { name: 'Copy' }).click();
    await kept.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(draft);
    await shot(page, 'draft-kept');
    expect(await axeViolations(page)).toEqual([]);
    await kept.getByRole('button', { name: 'Discard it' }).click();
    await kept.waitFor({ state: 'detached' });
    expect(await reason.textContent()).toBe('Removed by @owner:beta.test. The messages from before stay here to read; nothing can be sent.');

    // Banned: the reason says so.
    await open(lounge, 'written before the ban');
    await beta.admin('POST', `/rooms/${encodeURIComponent(lounge)}/members/${encodeURIComponent('@owner:alpha.test')}/remove`, { ban: true });
    await kept.waitFor({ timeout: 15_000 });
    expect(await kept.getByTestId('kept-draft-text').inputValue()).toBe('written before the ban');
    await expect.poll(() => reason.textContent()).toBe('Banned by @owner:beta.test. Nothing can be sent here. Your message below was not sent.');

    // Left in another tab of the same browser.
    await open(notes, 'a note to self');
    const other = await context.newPage();
    await other.goto(`${alpha.ready.admin_url}/#/rooms/${encodeURIComponent(notes)}`);
    other.once('dialog', (dialog) => void dialog.accept());
    await other.getByRole('button', { name: 'Leave' }).click();
    await other.getByTestId('cannot-send').waitFor();
    await kept.waitFor({ timeout: 15_000 });
    expect(await kept.getByTestId('kept-draft-text').inputValue()).toBe('a note to self');
    expect(await reason.textContent()).toBe('You left. Nothing can be sent here. Your message below was not sent.');
  });

  it('16: the sign-in page attempts nothing that must fail (no call, no stream, no console error); a signed-in page opens its stream', async ({ browser, fileNodes }) => {
    const node = await fileNodes.start({ serverName: 'signin.test' });
    const page = await (await browser.newContext()).newPage();
    const { failures, sockets } = watch(page);
    await page.goto(node.ready.admin_url);
    await page.getByRole('heading', { name: 'Log in to your Paracord node' }).waitFor();
    // Anything the page would try later (the stream's retry after 1 s, a probe every 1.5 s) shows up meanwhile.
    await page.waitForTimeout(3_000);
    expect(failures).toEqual([]);
    expect(sockets).toEqual([]);

    // Twin: signed in, the same page opens its stream and loads the dashboard, still without an error.
    const fresh = (await node.admin<{ login_url: string }>('POST', '/login-links', {})).body.login_url;
    await page.goto(fresh);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await expect.poll(() => sockets.length).toBeGreaterThan(0);
    await page.getByTestId('sessions').getByText('this browser').waitFor();
    expect(failures).toEqual([]);

    // The session is signed out from elsewhere: a reload shows the sign-in page (saying why), and tries nothing more.
    const session = (await node.admin<{ sessions: Array<{ id: string }> }>('GET', '/sessions')).body.sessions[0]!.id;
    expect((await node.admin('DELETE', `/sessions/${session}`)).status).toBe(200);
    const before = sockets.length;
    await page.reload();
    await page.getByTestId('session-ended').waitFor();
    await page.waitForTimeout(3_000);
    expect(failures).toEqual([]);
    expect(sockets.length).toBe(before);
  });

  it('16: an open page whose session is signed out elsewhere says so, without a reload, and stops showing the dashboard as if it were live', async ({ browser, fileNodes }) => {
    const node = await fileNodes.start({ serverName: 'revoked.test' });
    const { page } = await signedIn(browser, node);
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    await page.getByTestId('sessions').getByText('this browser').waitFor();
    const session = (await node.admin<{ sessions: Array<{ id: string }> }>('GET', '/sessions')).body.sessions[0]!.id;
    expect((await node.admin('DELETE', `/sessions/${session}`)).status).toBe(200);
    // Its stream closes (ad262ad) and the next call is refused 401: the page shows the sign-in page, saying why.
    await page.getByTestId('session-ended').waitFor({ timeout: 15_000 });
    expect(await page.getByRole('heading', { name: 'Dashboard' }).count()).toBe(0);
  });
});
