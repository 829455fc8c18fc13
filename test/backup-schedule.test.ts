/**
 * Issue #18, scheduled backups through the admin API of a real (in-process) node: bad input
 * is refused and changes nothing; backups go into the folder, the oldest beyond `keep` are
 * removed, and the status, the list and /metrics show the last backup.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startInProcessNode } from './helpers/in-process-node.ts';
import { removeTempDirs, tempDir } from './helpers/temp-dir.ts';
import { verifyBackup } from '../main/core/backup/restore.ts';

let alpha: Awaited<ReturnType<typeof startInProcessNode>>;

beforeAll(async () => {
  alpha = await startInProcessNode('alpha.test');
});

afterAll(async () => {
  await alpha.node.stop();
  removeTempDirs();
});

describe('backup schedule (admin API)', () => {
  it('refuses bad input without changing anything', async () => {
    expect((await alpha.admin('GET', '/status')).body.backup).toEqual({ last_at: null, scheduled: false, warning: expect.stringContaining('No backup yet') });
    const refused: Array<[unknown, string]> = [
      [{ dir: 'relative/path' }, 'invalid_input'],
      [{ dir: '/no/such/folder/here' }, 'invalid_backup_dir'],
      [{ dir: tempDir(), keep: 0 }, 'invalid_input'],
      [{ dir: tempDir(), every: 'monthly' }, 'invalid_input'],
      [{ dir: tempDir(), passphrase_file: '/no/such/file' }, 'invalid_passphrase_file'],
      [{ dir: tempDir(), extra: true }, 'invalid_input'],
    ];
    for (const [body, code] of refused) {
      const answer = await alpha.admin('PUT', '/backups/schedule', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.error).toBe(code);
    }
    expect((await alpha.admin('GET', '/backups/schedule')).body).toEqual({ schedule: null });
    const run = await alpha.admin('POST', '/backups/run', {});
    expect(run.status).toBe(400);
    expect(run.body).toMatchObject({ error: 'backup_failed', message: expect.stringContaining('schedule') });
    expect((await alpha.admin('GET', '/status')).body.backup.last_at).toBeNull();
  });

  it('writes encrypted backups into the folder, keeps the newest N and shows the last one', async () => {
    const dir = join(tempDir(), 'backups');
    mkdirSync(dir);
    const passFile = join(tempDir(), 'pass');
    writeFileSync(passFile, 'schedule passphrase\n');
    // Another server's backup in the same folder is never pruned.
    const foreign = join(dir, 'paracord-beta.test-20200101-000000.000Z.pcbak');
    writeFileSync(foreign, 'not ours');
    const set = await alpha.admin('PUT', '/backups/schedule', { dir, every: 'daily', keep: 2, passphrase_file: passFile });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect((await alpha.admin('GET', '/backups/schedule')).body.schedule).toEqual({ dir, every: 'daily', keep: 2, passphrase_file: passFile });

    const files: string[] = [];
    for (let i = 0; i < 3; i++) {
      const run = await alpha.admin('POST', '/backups/run', {});
      expect(run.status, JSON.stringify(run.body)).toBe(200);
      expect(run.body).toMatchObject({ server_name: 'alpha.test', encrypted: true });
      files.push(run.body.file);
    }
    const list = (await alpha.admin('GET', '/backups')).body;
    expect(list.backups.map((b: { file: string }) => b.file)).toEqual([files[2], files[1], foreign]);
    expect(existsSync(files[0]!)).toBe(false);
    expect(existsSync(foreign)).toBe(true);
    expect(list.last_backup_file).toBe(files[2]);
    expect(verifyBackup(files[2]!, Buffer.from('schedule passphrase')).server_name).toBe('alpha.test');

    // A one-off backup to a given file, unencrypted.
    const out = join(tempDir(), 'one-off.pcbak');
    const oneOff = await alpha.admin('POST', '/backups/run', { out });
    expect(oneOff.status, JSON.stringify(oneOff.body)).toBe(200);
    expect(verifyBackup(out, null).encrypted).toBe(false);

    const status = (await alpha.admin('GET', '/status')).body.backup;
    expect(status).toMatchObject({ last_at: expect.any(Number), scheduled: true, warning: null });
    const metrics = await request(`${alpha.started.admin_url}/metrics`, { headers: { authorization: `Bearer ${alpha.token}` } });
    const text = await metrics.body.text();
    const value = Number(/^paracord_last_backup_timestamp_seconds (\S+)$/m.exec(text)?.[1]);
    expect(value * 1000).toBeCloseTo(status.last_at, -3);

    expect((await alpha.admin('DELETE', '/backups/schedule')).body).toEqual({ schedule: null });
    expect((await alpha.admin('GET', '/status')).body.backup.scheduled).toBe(false);
  });
});
