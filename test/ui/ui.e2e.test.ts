/**
 * The UI end to end, in a real browser against real headless nodes: the first-run wizard, two
 * nodes peered through their UIs with one's invite link, a message that appears in the other
 * UI without reload, and a block that stops a peer's messages. Screenshots of each main screen
 * go to test-artifacts/screenshots (not committed).
 */
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { ARTIFACTS, HAVE_CHROMIUM } from '../helpers/browser.ts';
import type { NodeProcess } from '../helpers/node-process.ts';

async function open(browser: Browser, node: NodeProcess, watch?: (page: Page) => void): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 850 } });
  const page = await context.newPage();
  watch?.(page);
  await page.goto(node.ready.login_url);
  return page;
}

const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

describe.skipIf(!HAVE_CHROMIUM)('the UI in a real browser (skipped without Chromium: see the warning above)', () => {
  it('refuses the API without a login, and a login link works only once', async ({ browser, fileNodes }) => {
    const node = await fileNodes.start({ serverName: 'login.test' });
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(node.ready.admin_url);
    await expect.poll(() => page.getByRole('heading', { name: 'Log in to your Paracord node' }).isVisible()).toBe(true);
    await page.goto(node.ready.login_url);
    await expect.poll(() => page.getByRole('heading', { name: 'Dashboard' }).isVisible()).toBe(true);
    const again = await (await browser.newContext()).newPage();
    const response = await again.goto(node.ready.login_url);
    expect(response?.status()).toBe(403);
    const csp = (await page.request.get(node.ready.admin_url)).headers()['content-security-policy'];
    expect(csp).toContain("script-src 'self'");
  });

  it('the first-run wizard sets up an empty data directory', async ({ browser, fileNodes }) => {
    const node = fileNodes.process({});
    const ready = await node.start();
    expect(ready.mode).toBe('setup');
    const page = await open(browser, node);
    await page.getByLabel('Server name').fill('not a name!');
    expect(await page.getByRole('button', { name: 'Create my server' }).isDisabled()).toBe(true);
    await shot(page, 'wizard-name');
    // A valid name friends elsewhere could not find is pointed out, not refused (the UI check of
    // 2026-11-27: "localhost" was taken without a word, though the name cannot change later).
    await page.getByLabel('Server name').fill('localhost');
    await page.getByTestId('server-name-warning').getByText(/^Only computers on your own network can find a server named localhost/).waitFor();
    expect(await page.getByRole('button', { name: 'Create my server' }).isDisabled()).toBe(false);
    await page.getByLabel('Server name').fill('wizard.test');
    expect(await page.getByTestId('server-name-warning').count()).toBe(0);
    // The default address and the certificate choice match how the node runs (the UI check of
    // 2026-11-27: under --insecure-http it said https and offered certificates it never uses).
    await page.getByText('Advanced: address, certificate, restore a backup').click();
    expect(await page.getByTestId('public-address-hint').innerText()).toContain('Leave empty for http://<server name>:<port>');
    await page.getByTestId('plain-http-note').getByText(/started with --insecure-http/).waitFor();
    expect(await page.getByText('I have my own certificate').count()).toBe(0);
    const secure = fileNodes.process({ secure: true });
    await secure.start();
    const securePage = await open(browser, secure);
    await securePage.getByText('Advanced: address, certificate, restore a backup').click();
    expect(await securePage.getByTestId('public-address-hint').innerText()).toContain('Leave empty for https://<server name>:<port>');
    await securePage.getByText('I have my own certificate').waitFor();
    expect(await securePage.getByTestId('plain-http-note').count()).toBe(0);
    await page.getByRole('button', { name: 'Create my server' }).click();
    // Straight to the dashboard, with a first invite link ready to send (issue #16 item 9).
    await page.getByRole('heading', { name: 'Dashboard' }).waitFor();
    const link = page.getByTestId('invite-link');
    await link.waitFor();
    expect(await link.inputValue()).toMatch(/^paracord:\/\/peer\//);
    // The wizard checks that the server answers at its address, and says so in plain words.
    expect(await page.getByTestId('reachability').textContent()).toContain('Your server answers at');
    await shot(page, 'wizard-first-peer');
    // With no friend yet, nobody tested it: not "Last tested just now" beside "will be tested once
    // the first peer is added" (the UI check of 2026-11-27).
    const reach = page.getByTestId('reachability-status');
    await reach.getByText('will be tested once the first peer is added').waitFor();
    expect(await reach.innerText()).not.toMatch(/Last tested|Last tried|no friend could run/);
    expect(await page.locator('.brand').textContent()).toContain('wizard.test');
    expect((await node.admin('GET', '/status')).body).toMatchObject({ mode: 'running', server_name: 'wizard.test' });
  });

  it('two nodes peer through their UIs, talk live, and a block stops a peer', async ({ browser, fileNodes }) => {
    const alpha = fileNodes.process({ serverName: 'alpha.test' });
    const beta = fileNodes.process({ serverName: 'beta.test' });
    await Promise.all([alpha.start(), beta.start()]);
    // What alpha's page sends over the admin stream (issue #17), and its HTTP writes of messages.
    const framesSent: string[] = [];
    const httpSends: string[] = [];
    const a = await open(browser, alpha, (page) => {
      page.on('websocket', (ws) => ws.on('framesent', (frame) => framesSent.push(String(frame.payload))));
      page.on('request', (request) => {
        if (request.method() === 'POST' && /\/messages$/.test(new URL(request.url()).pathname)) httpSends.push(request.url());
      });
    });
    // What beta's page asks its node (each message a friend sends should cost a few reads, not ten).
    const betaFrames: Array<{ op: string; input: { since?: string } }> = [];
    const betaOps: string[] = [];
    const b = await open(browser, beta, (page) =>
      page.on('websocket', (ws) =>
        ws.on('framesent', (frame) => {
          const sent = JSON.parse(String(frame.payload)) as { op: string; input: { since?: string } };
          betaFrames.push(sent);
          betaOps.push(sent.op);
        }),
      ),
    );

    // Peering: alpha's invite link, pasted into beta's UI.
    await a.getByRole('link', { name: 'Peers & trust' }).click();
    await a.getByRole('button', { name: 'Create an invite link' }).click();
    const link = await a.getByTestId('invite-link').inputValue();
    // The Copy button sits on the field's line (a label's margin put it lower).
    const field = (await a.getByTestId('invite-link').boundingBox())!;
    const copy = (await a.getByTestId('invite-link').locator('xpath=ancestor::*[contains(@class, "copy-field")][1]').getByRole('button', { name: 'Copy' }).boundingBox())!;
    expect(Math.abs(field.y + field.height - (copy.y + copy.height))).toBeLessThan(4);
    await shot(a, 'peers');
    await b.getByRole('link', { name: 'Peers & trust' }).click();
    await b.getByTestId('redeem-input').fill(link);
    await b.getByRole('button', { name: 'Check the link' }).click();
    await b.getByRole('button', { name: 'Peer with alpha.test' }).click();
    await b.getByText('You are now peered with alpha.test.').waitFor();
    await a.getByTestId('peer-beta.test').waitFor();
    // The link, used, is no longer offered as one that "works once" (the UI check of 2026-11-27:
    // it stayed until a reload); and each side has just heard from the other: "Online", not "Not
    // heard from yet" (the redeem is a signed request, its answer came from the link's server).
    await a.getByTestId('invite-link-over').filter({ hasText: 'Your link was used by beta.test' }).waitFor();
    await a.getByTestId('peer-beta.test').getByTestId('peer-line').filter({ hasText: /^Online/ }).waitFor();
    await b.getByTestId('peer-alpha.test').getByTestId('peer-line').filter({ hasText: /^Online/ }).waitFor();

    // A room on alpha, beta's owner invited and joining from beta's UI.
    // "Add a server by its address" (issue #19) shows why an address cannot be added.
    await a.getByTestId('add-by-address').getByLabel('Server address').fill('not an address');
    await a.getByRole('button', { name: 'Add server' }).click();
    await a.getByRole('alert').filter({ hasText: 'https://' }).waitFor();
    await a.getByRole('link', { name: 'Rooms' }).click();
    await a.getByLabel('New room name').fill('friends');
    await a.getByRole('button', { name: 'Create room' }).click();
    await a.getByRole('heading', { name: 'friends' }).waitFor();
    // "Join a room on a Paracord reference server" (issue #19) says honestly why beta's room cannot be joined that way.
    await a.getByLabel('Join a room on a Paracord reference server').fill('!123:beta.test');
    await a.getByRole('button', { name: 'Join room' }).click();
    await a.getByText(/Not joined\. .*not a Paracord reference server/).waitFor();
    await a.getByText('Members and invitations').click();
    // The label's example stays in its line (a rule for raw causes behind "details" made it a block).
    expect(await a.getByTestId('invitee').locator('xpath=preceding-sibling::span/code').evaluate((el) => getComputedStyle(el).display)).toBe('inline');
    await a.getByTestId('invitee').fill('@owner:beta.test');
    await a.getByRole('button', { name: 'Invite', exact: true }).click();
    await a.getByText('Invited @owner:beta.test').waitFor();
    await b.getByRole('link', { name: 'Rooms' }).click();
    await b.getByTestId('room-invite').getByRole('button', { name: 'Accept' }).click();
    await b.getByRole('heading', { name: 'friends' }).waitFor();

    // A message sent in alpha's UI shows up in beta's UI, live.
    await a.getByTestId('composer').fill('hello from the alpha UI');
    const betaOpsBefore = betaOps.length;
    await a.getByRole('button', { name: 'Send' }).click();
    await b.getByText('hello from the alpha UI').waitFor({ timeout: 15_000 });
    // Beta's page asked for the messages changed since its last answer and the rooms list, and set
    // its read marker; a message changes no bans, invitations or members, so neither those lists nor
    // the room nor its whole page were asked for again (notification-kinds.ts, issue #17).
    await expect.poll(() => betaOps.slice(betaOpsBefore)).toContain('markRead');
    await new Promise((resolve) => setTimeout(resolve, 500));
    const betaAsked = betaOps.slice(betaOpsBefore);
    expect(betaAsked).toContain('listMessages');
    expect(betaAsked.filter((op) => op === 'listBans' || op === 'listInvites' || op === 'getRoom')).toEqual([]);
    expect(betaFrames.slice(betaOpsBefore).filter((f) => f.op === 'listMessages' && f.input.since === undefined)).toEqual([]);
    // The page sent it as one frame over its admin stream, not as an HTTP request.
    const sends = framesSent.map((f) => JSON.parse(f) as { op: string; input: { body?: string } }).filter((f) => f.op === 'sendMessage');
    expect(sends.map((f) => f.input.body)).toEqual(['hello from the alpha UI']);
    expect(httpSends).toEqual([]);
    await b.getByTestId('composer').fill('and hello back');
    await b.getByRole('button', { name: 'Send' }).click();
    await a.getByText('and hello back').waitFor({ timeout: 15_000 });
    await shot(a, 'room');
    await shot(b, 'room-joined');

    // A message beta's node holds back (paused) waits, then shows as delivered once it is: the
    // node tells the page of each delivery outcome (it reloads only what changed, so nothing else would).
    expect((await beta.admin('POST', '/federation/pause', {})).status).toBe(200);
    await a.getByTestId('composer').fill('held for a moment');
    await a.getByRole('button', { name: 'Send' }).click();
    const held = a.getByTestId('message').filter({ hasText: 'held for a moment' }).getByTestId('delivery');
    await held.getByText(/^Waiting for beta\.test/).waitFor({ timeout: 15_000 });
    expect((await beta.admin('POST', '/federation/resume', {})).status).toBe(200);
    // beta reacts to alpha's first message: its request wakes alpha's delivery to beta at once.
    const friends = (await beta.admin('GET', '/rooms')).body.rooms.find((r: { name: string }) => r.name === 'friends').room_id as string;
    const onBeta = (await beta.admin('GET', `/rooms/${encodeURIComponent(friends)}/messages`)).body.messages as Array<{ event_id: string; body: string }>;
    const hello = onBeta.find((m) => m.body === 'hello from the alpha UI')!.event_id;
    expect((await beta.admin('PUT', `/rooms/${encodeURIComponent(friends)}/messages/${encodeURIComponent(hello)}/reactions/${encodeURIComponent('👍')}`)).status).toBe(200);
    await held.getByText('✓ Delivered to all').waitFor({ timeout: 15_000 });

    // alpha blocks beta: beta's next message never shows on alpha, and beta's UI says why.
    await a.getByRole('link', { name: 'Peers & trust' }).click();
    await a.getByTestId('peer-beta.test').getByRole('button', { name: 'Block' }).click();
    await a.getByTestId('trust-reason').fill('testing the block');
    await a.getByRole('button', { name: 'Block beta.test' }).click();
    await a.getByTestId('peer-beta.test').getByText('block', { exact: true }).waitFor();
    await b.getByTestId('composer').fill('can anyone hear me?');
    await b.getByRole('button', { name: 'Send' }).click();
    // The message itself says it was refused, and why, in words (issue #16 item 5).
    const refused = b.getByTestId('message').filter({ hasText: 'can anyone hear me?' }).getByTestId('delivery');
    await refused.getByText('Not delivered: refused by alpha.test. The other server blocks yours.').waitFor({ timeout: 15_000 });
    await shot(b, 'message-refused');
    await b.getByRole('link', { name: 'Dashboard' }).click();
    await b.getByTestId('refusal').getByText('The other server blocks yours.').first().waitFor({ timeout: 15_000 });
    await shot(b, 'dashboard-failed-delivery');
    await a.getByRole('link', { name: 'Rooms' }).click();
    await a.getByRole('link', { name: 'friends' }).click();
    await a.getByText('and hello back').waitFor();
    expect(await a.getByText('can anyone hear me?').count()).toBe(0);
    await a.getByRole('link', { name: 'Dashboard' }).click();
    await a.getByRole('heading', { name: 'Dashboard' }).waitFor();
    // Tested through beta when beta was added (at once, not at the watch's next tick): its only friend
    // blocked since, the dashboard still says what that test found, never "once the first peer is added".
    // (The words when no friend can run the test: test/reachability.test.ts.)
    await a.getByTestId('reachability-status').getByText(/^Reachable from friends/).waitFor();
    expect(await a.getByTestId('reachability-status').getByText(/first peer/).count()).toBe(0);
    await shot(a, 'dashboard');

    // The detailed trust form: a quarantine with an end time and a rate limit of its own.
    await a.getByRole('link', { name: 'Peers & trust' }).click();
    await a.getByTestId('peer-beta.test').getByRole('button', { name: 'Details…' }).click();
    const form = a.getByRole('form', { name: 'Trust settings of beta.test' });
    await form.getByLabel('Trust').selectOption('quarantine');
    await form.getByLabel('Reason').fill('a day to think');
    await form.getByLabel(/End after/).fill('24');
    await form.getByLabel(/Requests per second/).fill('5');
    await form.getByLabel('Burst').fill('20');
    await form.getByRole('button', { name: 'Save' }).click();
    await a.getByText('beta.test: saved').waitFor();
    const peer = (await alpha.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'beta.test');
    expect(peer).toMatchObject({ trust: 'quarantine', reason: 'a day to think', rate_limit: { per_second: 5, burst: 20 } });
    expect(peer.until_ms).toBeGreaterThan(Date.now() + 23 * 3600_000);
    await shot(a, 'peer-details');
  });
});
