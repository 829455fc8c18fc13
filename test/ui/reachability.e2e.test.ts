/**
 * Issue #15 in the browser: the dashboard's reachability line in each state — not tested yet /
 * no peer, reachable from friends, not reachable while a second test confirms it, and receiving
 * through pull mode (with the reason in words).
 * Screenshots go to test-artifacts/screenshots (the README's "Running at home" uses copies).
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { ARTIFACTS, HAVE_CHROMIUM } from '../helpers/browser.ts';
import type { NodeProcess } from '../helpers/node-process.ts';
import { eventually } from '../helpers/rooms.ts';

async function dashboard(browser: Browser, n: NodeProcess): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1200, height: 850 } });
  const page = await context.newPage();
  await page.goto(n.ready.login_url);
  await expect.poll(() => page.getByRole('heading', { name: 'Dashboard' }).isVisible()).toBe(true);
  return page;
}

const line = (page: Page) => page.getByTestId('reachability-status').getByRole('status').innerText();
const shot = (page: Page, name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

describe.skipIf(!HAVE_CHROMIUM)('reachability on the dashboard', () => {
  it('shows each state in words', async ({ browser, fileNodes }) => {
    // alpha answers a reachability probe every second, so beta's confirming test is not refused.
    const alpha = fileNodes.process({ serverName: 'alpha.test', args: ['--reach-probe-interval', '1'] });
    const beta = fileNodes.process({ serverName: 'beta.test' });
    await Promise.all([alpha.start(), beta.start()]);
    // No peer yet.
    await eventually(async () => expect((await alpha.admin('GET', '/reachability')).body.checked_at).not.toBeNull(), 20_000);
    const lonely = await dashboard(browser, alpha);
    await expect.poll(() => line(lonely), { timeout: 15_000 }).toBe('Reachability: will be tested once the first peer is added');
    await shot(lonely, 'reachability-no-peer');

    // Reachable.
    await alpha.addPeer(beta);
    await beta.addPeer(alpha);
    expect((await alpha.admin('POST', '/reachability/check', { via: 'beta.test' })).body.reachable).toBe(true);
    await expect.poll(() => line(lonely), { timeout: 15_000 }).toBe('Reachable from friends');
    await shot(lonely, 'reachability-reachable');

    // beta publishes a closed port: alpha cannot call it back; beta receives through pull mode.
    const status = (await beta.admin('GET', '/status')).body;
    await beta.stop();
    const spare = createServer();
    await new Promise<void>((r) => spare.listen(0, '127.0.0.1', r));
    const closed = `http://127.0.0.1:${(spare.address() as { port: number }).port}`;
    await new Promise((r) => spare.close(r));
    expect((await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: closed, key_id: status.key_id, public_key: status.public_key })).status).toBe(200);
    // Its first failed test is confirmed by a second one 12 s later: meanwhile it says so.
    await beta.start(['--public-url', closed, '--no-port-mapping', '--reachability-confirm-seconds', '12']);
    await eventually(async () => expect((await beta.admin('GET', '/reachability')).body.reachable).toBe(false), 20_000);
    const pulled = await dashboard(browser, beta);
    await expect.poll(() => line(pulled), { timeout: 10_000 }).toBe('Not reachable: testing again');
    // Counted down from when the node will test (next_test_at): at most the 12 s it was scheduled for.
    const again = /Testing again through alpha\.test (?:in (\d+) s|any moment now) before switching to pull mode\.$/.exec(await pulled.getByTestId('reachability-error').innerText());
    expect(again).not.toBeNull();
    expect(Number(again![1] ?? 0)).toBeLessThanOrEqual(12);
    await shot(pulled, 'reachability-testing-again');
    await eventually(async () => expect((await beta.admin('GET', '/reachability')).body.mode).toBe('pull'), 40_000);
    await expect.poll(() => line(pulled), { timeout: 15_000 }).toBe('Receiving through pull mode');
    expect(await pulled.getByTestId('reachability-error').innerText()).toMatch(/connection refused/);
    await shot(pulled, 'reachability-pull-mode');
  }, 120_000);
});
