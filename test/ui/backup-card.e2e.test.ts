/// <reference lib="dom" />
/**
 * The Dashboard's backups (a user trial): a fresh node said, in red, "No backup yet: run
 * `paracord-node backup --out FILE --passphrase-file F` …" with its backticks, to desktop users
 * without a command line, and offered no way to back up now; a folder the node refused was said in
 * a general sentence that hid the node's own reason and fix. Real Chromium, a real node from dist/.
 */
import { chmodSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { HAVE_CHROMIUM, axeViolations, signedIn } from '../helpers/browser.ts';
import { tempDir } from '../helpers/temp-dir.ts';

describe.skipIf(!HAVE_CHROMIUM)('the backup card (real Chromium, a real node)', () => {
  it('says "no backup yet" in words with the command apart, backs up now into a folder, and says why a folder is refused', async ({ browser, fileNodes }) => {
    const node = await fileNodes.start({ serverName: 'backup.test' });
    const { page } = await signedIn(browser, node);
    const warning = page.getByTestId('backup-warning');
    await expect.poll(() => warning.textContent()).toBe('No backup yet: make one with "Back up now", or set a backup schedule.');
    expect(await page.getByTestId('backup-command').locator('code').textContent()).toBe('paracord-node backup --out FILE --passphrase-file F');
    expect(await page.locator('main').innerText()).not.toContain('`');

    // A folder every user may write into: the node's reason and its fix, the field marked.
    const open = join(tempDir(), 'shared');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const folder = page.getByLabel('Back up daily into this folder (absolute path)');
    await folder.fill(open);
    await page.getByTestId('backup-now').click();
    const refused = page.getByTestId('backup-now-error');
    await expect.poll(() => refused.innerText()).toContain(`Other users of this machine can write into ${open}, so they could replace or remove a backup there. Choose a folder only you can write into, or take their write access away with the command chmod o-w,g-w ${open}`);
    expect(await folder.getAttribute('aria-invalid')).toBe('true');
    expect(readdirSync(open)).toEqual([]);
    // The same reason when scheduling into it.
    await page.getByRole('button', { name: 'Schedule daily backups' }).click();
    await expect.poll(() => page.getByTestId('backup-form-error').innerText()).toContain(`Other users of this machine can write into ${open}`);

    // A folder of its own: backed up now, said where; the warning goes.
    const mine = join(tempDir(), 'mine');
    mkdirSync(mine);
    await folder.fill(mine);
    await page.getByTestId('backup-now').click();
    await expect.poll(() => page.getByTestId('backup-made').textContent()).toMatch(new RegExp(`^Backup written: ${mine}/paracord-backup\\.test-.*\\.pcbak \\(not encrypted: keep it as safe as the data folder\\)$`));
    expect(readdirSync(mine)).toHaveLength(1);
    await expect.poll(() => page.getByTestId('last-backup').textContent()).not.toBe('never');
    await expect.poll(() => warning.textContent()).not.toContain('No backup yet');
    expect(await axeViolations(page)).toEqual([]);
  });
});
