/**
 * The desktop app end to end with Playwright's `_electron`: launch, the first-run wizard in the
 * window, and the tray state reachable through `app.evaluate`. It runs wherever an Electron
 * binary is installed (`node node_modules/electron/install.js` fetches it; `npm run desktop`
 * does that). Where it is absent — this workplace refuses the download — it is skipped and says
 * why.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { _electron as electron } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/node-process.ts';
import { removeTempDirs, tempDir } from '../helpers/temp-dir.ts';

/**
 * Finds an installed Electron binary without `require('electron')`, which would try to
 * download one (a test must not reach out to the internet).
 */
function electronBinary(): { path?: string; reason?: string } {
  if (process.env.ELECTRON_PATH) return existsSync(process.env.ELECTRON_PATH) ? { path: process.env.ELECTRON_PATH } : { reason: `ELECTRON_PATH ${process.env.ELECTRON_PATH} does not exist` };
  let packageDir: string;
  try {
    packageDir = dirname(createRequire(import.meta.url).resolve('electron/package.json'));
  } catch {
    return { reason: 'the electron package is not installed (npm install)' };
  }
  const pathFile = join(packageDir, 'path.txt');
  const binary = existsSync(pathFile) ? join(packageDir, 'dist', readFileSync(pathFile, 'utf8').trim()) : undefined;
  if (!binary || !existsSync(binary)) {
    return { reason: 'no Electron binary installed (this workplace refuses its download); run `node node_modules/electron/install.js` where the download is allowed, or set ELECTRON_PATH' };
  }
  return { path: binary };
}

const binary = electronBinary();
if (!binary.path) console.warn(`Desktop e2e test skipped: ${binary.reason}`);

afterAll(() => removeTempDirs());

describe.skipIf(!binary.path)('desktop app (skipped without an Electron binary: see the warning above)', () => {
  it('starts, shows the wizard, sets up the node, and reports its state to the tray', async () => {
    const userData = tempDir('paracord-electron-');
    const app = await electron.launch({
      executablePath: binary.path!,
      args: [REPO_ROOT, `--user-data-dir=${userData}`, '--no-sandbox'],
      env: { ...process.env, PARACORD_INSECURE_HTTP: '1', PARACORD_LISTEN: '127.0.0.1:0' },
    });
    try {
      const window = await app.firstWindow();
      await window.getByLabel('Server name').fill('desktop.test');
      await window.getByRole('button', { name: 'Create my server' }).click();
      await window.getByTestId('wizard-invite-link').waitFor();
      await window.screenshot({ path: join(REPO_ROOT, 'test-artifacts', 'screenshots', 'desktop-wizard.png') });
      const tray = await app.evaluate(() => (globalThis as { paracordTray?: { state: string; tooltip: string } }).paracordTray);
      expect(tray).toBeDefined();
      await expect.poll(async () => (await app.evaluate(() => (globalThis as { paracordTray?: { state: string } }).paracordTray?.state))).toBe('running');
    } finally {
      await app.close();
    }
  });
});
