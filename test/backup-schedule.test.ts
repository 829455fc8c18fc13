/**
 * Issue #18, scheduled backups through the admin API of a real (in-process) node: bad input
 * is refused and changes nothing; backups go into the folder, the oldest beyond `keep` are
 * removed, and the status, the list and /metrics show the last backup.
 */
import { eventually } from './helpers/rooms.ts';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it, type InProcessNode } from './helpers/fixtures.ts';
import { request } from 'undici';
import { tempDir } from './helpers/temp-dir.ts';
import { verifyBackup } from '../main/core/backup/restore.ts';
import { pino } from 'pino';

let alpha: InProcessNode;
/** alpha's warnings and errors, one JSON object a line. */
const logLines: string[] = [];

beforeAll(async ({ fileNodes }) => {
  alpha = await fileNodes.inProcess('alpha.test', { log: pino({ level: 'warn' }, { write: (line: string) => void logLines.push(line) }) });
});

describe('backup schedule (admin API)', () => {
  it('refuses bad input without changing anything', async () => {
    expect((await alpha.admin('GET', '/status')).body.backup).toEqual({ last_at: null, scheduled: false, warning: expect.stringContaining('No backup yet'), next_at: null });
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
    // Why a folder cannot be used, in words (not Node's "ENOTDIR: not a directory, stat …").
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'x');
    for (const [dir, why, reason] of [[file, 'not a folder', 'not_a_folder'], [join(file, 'below'), 'a part of the path is a file, not a folder', 'not_a_folder'], ['/no/such/folder/here', 'no such folder', 'no_such_folder']]) {
      const answer = await alpha.admin('PUT', '/backups/schedule', { dir });
      expect(answer.body, dir).toEqual({ error: 'invalid_backup_dir', message: `the node cannot write backups into ${dir}: ${why}`, reason, dir });
    }
    // Backups into the data folder itself: refused (a file there could replace the live database).
    for (const dir of [alpha.dataDir, join(alpha.dataDir, 'logs')]) {
      const answer = await alpha.admin('PUT', '/backups/schedule', { dir });
      expect(answer.status, dir).toBe(400);
      expect(answer.body).toMatchObject({ error: 'invalid_backup_dir', message: expect.stringContaining('is inside the data directory'), reason: 'inside_data_dir', dir });
    }
    for (const out of [join(alpha.dataDir, 'paracord.db'), join(alpha.dataDir, 'x.pcbak')]) {
      const answer = await alpha.admin('POST', '/backups/run', { out });
      expect(answer.status, out).toBe(400);
      expect(answer.body).toMatchObject({ error: 'invalid_backup_out', message: expect.stringContaining('is inside the data directory') });
    }
    expect(existsSync(join(alpha.dataDir, 'x.pcbak'))).toBe(false);
    expect(existsSync(join(alpha.dataDir, 'paracord.db.tmp'))).toBe(false);
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
    writeFileSync(passFile, 'schedule passphrase\n', { mode: 0o600 });
    // Another server's backup in the same folder is never pruned.
    const foreign = join(dir, 'paracord-beta.test-20200101-000000.000Z.pcbak');
    writeFileSync(foreign, 'not ours');
    const set = await alpha.admin('PUT', '/backups/schedule', { dir, every: 'daily', keep: 2, passphrase_file: passFile });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect((await alpha.admin('GET', '/backups/schedule')).body.schedule).toEqual({ dir, every: 'daily', keep: 2, passphrase_file: passFile });
    // No backup yet: the first is made at once, not at the next minute's check (the UI check of
    // 2026-11-27: "never (scheduled)" beside "No backup yet: … or set a backup schedule").
    const first = await eventually(async () => {
      const list = (await alpha.admin('GET', '/backups')).body;
      expect(list.last_backup_file).toEqual(expect.stringContaining(dir));
      return list.last_backup_file as string;
    }, 10_000, 50);
    expect((await alpha.admin('GET', '/status')).body.backup).toMatchObject({ last_at: expect.any(Number), scheduled: true, warning: null });

    const files: string[] = [first];
    for (let i = 0; i < 3; i++) {
      const run = await alpha.admin('POST', '/backups/run', {});
      expect(run.status, JSON.stringify(run.body)).toBe(200);
      expect(run.body).toMatchObject({ server_name: 'alpha.test', encrypted: true });
      files.push(run.body.file);
    }
    const list = (await alpha.admin('GET', '/backups')).body;
    expect(list.backups.map((b: { file: string }) => b.file)).toEqual([files[3], files[2], foreign]);
    expect(existsSync(files[0]!)).toBe(false);
    expect(existsSync(files[1]!)).toBe(false);
    expect(existsSync(foreign)).toBe(true);
    expect(list.last_backup_file).toBe(files[3]);
    expect(verifyBackup(files[3]!, Buffer.from('schedule passphrase')).server_name).toBe('alpha.test');

    expect((await alpha.admin('GET', '/status')).body.backup).toMatchObject({ last_at: expect.any(Number), scheduled: true, warning: null });
    expect(logLines.filter((line) => line.includes('backup_unencrypted'))).toEqual([]);

    // A one-off backup to a given file, unencrypted: said in the answer, the log and the status.
    const out = join(tempDir(), 'one-off.pcbak');
    const oneOff = await alpha.admin('POST', '/backups/run', { out });
    expect(oneOff.status, JSON.stringify(oneOff.body)).toBe(200);
    expect(verifyBackup(out, null).encrypted).toBe(false);
    expect(oneOff.body.warnings[0]).toBe(`not encrypted: ${out} holds the signing keys and the admin token in the clear; keep it as safe as the data folder, or give a passphrase file`);
    expect(logLines.filter((line) => JSON.parse(line).event === 'backup_unencrypted').map((line) => JSON.parse(line).file)).toEqual([out]);

    const status = (await alpha.admin('GET', '/status')).body.backup;
    expect(status).toMatchObject({ last_at: expect.any(Number), scheduled: true, warning: `The last backup (${out}) is not encrypted: it holds the signing keys and the admin token in the clear. Keep it as safe as the data folder, or make encrypted ones (--passphrase-file).` });
    const metrics = await request(`${alpha.started.admin_url}/metrics`, { headers: { authorization: `Bearer ${alpha.token}` } });
    const text = await metrics.body.text();
    const value = Number(/^paracord_last_backup_timestamp_seconds (\S+)$/m.exec(text)?.[1]);
    expect(value * 1000).toBeCloseTo(status.last_at, -3);

    // A schedule without a passphrase: the status says every scheduled backup is in the clear.
    expect((await alpha.admin('PUT', '/backups/schedule', { dir, every: 'daily', keep: 2 })).status).toBe(200);
    expect((await alpha.admin('GET', '/status')).body.backup.warning).toBe(`Scheduled backups are not encrypted: each one holds the signing keys and the admin token in the clear. Give them a passphrase file (serve --backup-passphrase-file, or the schedule's passphrase file), or keep the backup folder as safe as the data folder.`);
    const plainRun = await alpha.admin('POST', '/backups/run', {});
    expect(plainRun.body.warnings[0]).toContain('in the clear');

    expect((await alpha.admin('DELETE', '/backups/schedule')).body).toEqual({ schedule: null });
    expect((await alpha.admin('GET', '/status')).body.backup.scheduled).toBe(false);
  });

  it('a folder corrected at once gets its first backup too (the first folder\'s, running or just made, did not count for it)', async () => {
    const first = join(tempDir(), 'typo');
    const second = join(tempDir(), 'meant');
    mkdirSync(first);
    mkdirSync(second);
    expect((await alpha.admin('PUT', '/backups/schedule', { dir: first, every: 'weekly', keep: 2 })).status).toBe(200);
    expect((await alpha.admin('PUT', '/backups/schedule', { dir: second, every: 'weekly', keep: 2 })).status).toBe(200);
    await eventually(async () => expect((await alpha.admin('GET', '/backups')).body.last_backup_file).toEqual(expect.stringContaining(second)), 15_000, 50);
    expect((await alpha.admin('GET', '/backups')).body.backups.map((b: { file: string }) => b.file)).toEqual([expect.stringContaining(second)]);
    expect((await alpha.admin('DELETE', '/backups/schedule')).body).toEqual({ schedule: null });
  });
});

describe('back up now into a folder; why a folder is refused; when the next try comes', () => {
  it('says why a folder is refused as a code beside the message (reason, dir), for the schedule and for a backup now', async () => {
    const open = join(tempDir(), 'shared');
    mkdirSync(open);
    chmodSync(open, 0o777);
    for (const [method, path] of [['PUT', '/backups/schedule'], ['POST', '/backups/run']] as const) {
      const answer = await alpha.admin(method, path, { dir: open });
      expect(answer.status, path).toBe(400);
      expect(answer.body, path).toEqual({ error: 'invalid_backup_dir', reason: 'writable_by_others', dir: open, message: expect.stringContaining(`(or chmod o-w,g-w ${open})`) });
    }
    expect(readdirSync(open)).toEqual([]);
    const missing = await alpha.admin('POST', '/backups/run', { dir: '/no/such/folder/here' });
    expect(missing.body).toMatchObject({ error: 'invalid_backup_dir', reason: 'no_such_folder', dir: '/no/such/folder/here' });
    const inside = await alpha.admin('POST', '/backups/run', { dir: alpha.dataDir });
    expect(inside.body).toMatchObject({ error: 'invalid_backup_dir', reason: 'inside_data_dir' });
    const both = await alpha.admin('POST', '/backups/run', { dir: tempDir(), out: join(tempDir(), 'x.pcbak') });
    expect(both.body).toMatchObject({ error: 'invalid_input' });
  });

  it('backs up now into a folder without a schedule, named as scheduled ones are', async () => {
    expect((await alpha.admin('GET', '/backups/schedule')).body).toEqual({ schedule: null });
    const dir = join(tempDir(), 'once');
    mkdirSync(dir);
    const made = await alpha.admin('POST', '/backups/run', { dir });
    expect(made.status, JSON.stringify(made.body)).toBe(200);
    expect(made.body.file).toMatch(new RegExp(`^${dir}/paracord-alpha\\.test-\\d{8}-\\d{6}\\.\\d{3}Z\\.pcbak$`));
    expect(readdirSync(dir)).toHaveLength(1);
    expect((await alpha.admin('GET', '/status')).body.backup).toMatchObject({ last_at: made.body.created_at, scheduled: false, next_at: null });
  });

  it('after a failed try, next_at is its retry within the hour (and the scheduler keeps to it), not the interval after the last good one', async () => {
    const dir = join(tempDir(), 'retry');
    mkdirSync(dir);
    expect((await alpha.admin('PUT', '/backups/schedule', { dir, every: 'daily', keep: 2 })).status).toBe(200);
    await eventually(async () => expect((await alpha.admin('GET', '/backups')).body.last_backup_file).toEqual(expect.stringContaining(dir)), 15_000, 50);
    const good = (await alpha.admin('GET', '/status')).body.backup;
    expect(good.next_at).toBe(good.last_at + 24 * 3600_000);
    rmSync(dir, { recursive: true, force: true });
    const before = Date.now();
    expect((await alpha.admin('POST', '/backups/run', {})).status).toBe(400);
    const after = Date.now();
    const failed = (await alpha.admin('GET', '/status')).body.backup;
    expect(failed.warning).toContain('The last scheduled backup failed');
    expect(failed.next_at).toBeGreaterThanOrEqual(before + 3600_000);
    expect(failed.next_at).toBeLessThanOrEqual(after + 3600_000);
    expect((await alpha.admin('DELETE', '/backups/schedule')).body).toEqual({ schedule: null });
  });
});

describe('a schedule from serve --backup-dir', () => {
  it('wins for the run that gives it, and a later start with another folder or without the flag follows the command line', async ({ nodes }) => {
    const dataDir = tempDir('paracord-inproc-');
    const [saved, first, second] = ['saved', 'first', 'second'].map((name) => {
      const dir = join(tempDir(), name);
      mkdirSync(dir);
      return dir;
    }) as [string, string, string];
    const start = (backup?: { dir: string; every?: 'hourly' | 'daily' | 'weekly'; keep?: number }) =>
      nodes.inProcess('flags.test', { dataDir, ...(backup ? { config: { backup } } : {}) });

    // A schedule saved through the API (the dashboard).
    let node = await start();
    expect((await node.admin('PUT', '/backups/schedule', { dir: saved, every: 'weekly', keep: 3 })).status).toBe(200);
    await node.node.stop();

    // serve --backup-dir FIRST: that is the schedule of this run; the API cannot change it meanwhile.
    node = await start({ dir: first, every: 'hourly', keep: 2 });
    expect((await node.admin('GET', '/backups/schedule')).body).toEqual({ schedule: { dir: first, every: 'hourly', keep: 2 } });
    const put = await node.admin('PUT', '/backups/schedule', { dir: saved });
    expect(put.status).toBe(409);
    expect(put.body).toMatchObject({ error: 'backup_schedule_from_command_line', message: expect.stringContaining(`serve --backup-dir (${first})`) });
    expect((await node.admin('DELETE', '/backups/schedule')).status).toBe(409);
    const run = await node.admin('POST', '/backups/run', {});
    expect(run.status, JSON.stringify(run.body)).toBe(200);
    expect(run.body.file.startsWith(`${first}/`)).toBe(true);
    await node.node.stop();

    // The flag changed: the new folder, not the one of the first run.
    node = await start({ dir: second });
    expect((await node.admin('GET', '/backups/schedule')).body).toEqual({ schedule: { dir: second, every: 'daily', keep: 7 } });
    await node.node.stop();

    // The flag removed: back to the schedule saved through the API, untouched.
    node = await start();
    expect((await node.admin('GET', '/backups/schedule')).body).toEqual({ schedule: { dir: saved, every: 'weekly', keep: 3 } });
    expect((await node.admin('DELETE', '/backups/schedule')).status).toBe(200);
    await node.node.stop();
    node = await start();
    expect((await node.admin('GET', '/backups/schedule')).body).toEqual({ schedule: null });
    expect((await node.admin('GET', '/status')).body.backup.scheduled).toBe(false);
  });
});
