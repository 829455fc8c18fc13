/// <reference lib="dom" />
/**
 * Debian's Chromium driven by playwright-core (no browser download). `.ci/run` installs it
 * when missing; without it the browser tests say so and are skipped. A test file gets the
 * browser from the `browser` fixture (test/helpers/fixtures.ts), launched once for the file.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { REPO_ROOT, type NodeProcess } from './node-process.ts';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const HAVE_CHROMIUM = existsSync(CHROMIUM);
/** Why the browser tests of a file skip (`describe.skipIf(!HAVE_CHROMIUM)`), said once per file that imports this. */
export const NO_CHROMIUM = `UI tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium; .ci/run does it)`;
if (!HAVE_CHROMIUM) console.warn(NO_CHROMIUM);
export const ARTIFACTS = join(REPO_ROOT, 'test-artifacts', 'screenshots');

/** A screenshot of the page into ARTIFACTS as `name`.png. */
export const shot = (page: Page, name: string, fullPage = false) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage });

let axeSource: string | undefined;
/** Serious or critical axe violations of the page as it is now. */
export async function axeViolations(page: Page): Promise<string[]> {
  // Evaluated through the DevTools protocol: the page's CSP (script-src 'self') stays on.
  axeSource ??= readFileSync(join(REPO_ROOT, 'node_modules/axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (ctx: Document, opts: object) => Promise<{ violations: Array<{ id: string; impact: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
    return axe.run(document, { resultTypes: ['violations'] });
  });
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).slice(0, 3).join(', ')}`);
}

/** `extraArgs`: more Chromium switches (e.g. `--host-resolver-rules=MAP home.test 127.0.0.1`, a name that is not loopback). */
export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  mkdirSync(ARTIFACTS, { recursive: true });
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic', ...extraArgs],
  });
}

/** A new browser context signed in to `node` with a fresh one-time login link (the ready line's link works once). */
export async function signedIn(browser: Browser, node: NodeProcess, viewport = { width: 1200, height: 850 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const fresh = await node.admin<{ login_url: string }>('POST', '/login-links', {});
  await page.goto(fresh.status === 200 ? fresh.body.login_url : node.ready.login_url);
  return { context, page };
}

/** On a member link's join page: a user name, `passphrase` twice, Join; then the Rooms page. */
export async function joinByLink(page: Page, name: string, passphrase: string): Promise<void> {
  await page.getByLabel('User name').fill(name);
  await page.getByTestId('new-passphrase').fill(passphrase);
  await page.getByTestId('new-passphrase-again').fill(passphrase);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.getByRole('heading', { name: 'Rooms' }).waitFor();
}
