/**
 * Issue #18, backup and restore with two real nodes: alpha is backed up while it runs, a
 * second backup is killed half-way (the first stays valid), alpha's box "dies", beta keeps
 * talking, and alpha is restored on a fresh folder: same identity, every room and message,
 * what beta sent meanwhile arrives, and beta accepts alpha's new events.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync, watch, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from './helpers/fixtures.ts';
import { CLI, type NodeProcess } from './helpers/node-process.ts';
import { enc, eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';
import { tempDir } from './helpers/temp-dir.ts';

function run(args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** One line on stderr, exit 1: what bad input gets. */
function expectOneLineRefusal(result: { code: number | null; stderr: string }, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stderr.trim().split('\n'), result.stderr).toHaveLength(1);
  expect(result.stderr).toMatch(pattern);
}

/** Files under `dir` (any depth) that are SQLite databases: a plaintext copy of the messages. */
function plaintextDatabasesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const file = join(entry.parentPath, entry.name);
    if (readFileSync(file).subarray(0, 16).toString('latin1') === 'SQLite format 3\0') found.push(file);
  }
  return found;
}

function snapshot(dir: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const name of readdirSync(dir)) out[name] = statSync(join(dir, name)).mtimeMs;
  return out;
}

let alpha: NodeProcess;
let beta: NodeProcess;
const work = tempDir('paracord-backups-');
const passFile = join(work, 'passphrase');
const backupFile = join(work, 'alpha.pcbak');

beforeAll(async ({ fileNodes }) => {
  writeFileSync(passFile, 'a long passphrase for tests\n', { mode: 0o600 });
  alpha = fileNodes.process({ serverName: 'alpha.test' });
  beta = fileNodes.process({ serverName: 'beta.test', args: ['--retry-initial', '200', '--retry-max', '1000'] });
  await Promise.all([alpha.start(), beta.start()]);
  await alpha.addPeer(beta);
  await beta.addPeer(alpha);
});

describe('backup and restore of a running node', () => {
  it('restores the same server with its rooms, catches up, and federates again', async ({ fileNodes }) => {
    // Room A is hosted by alpha, room B by beta; both servers are in both.
    const roomA = await roomWithMembers(alpha, 'hosted by alpha', [[beta, '@owner:beta.test']]);
    const roomB = await roomWithMembers(beta, 'hosted by beta', [[alpha, '@owner:alpha.test']]);
    const a1 = await send(alpha, roomA, 'before the backup, in A');
    const b1 = await send(beta, roomB, 'before the backup, in B');
    for (const node of [alpha, beta]) {
      await eventually(async () => expect((await messages(node, roomA)).map((m) => m.event_id)).toContain(a1));
      await eventually(async () => expect((await messages(node, roomB)).map((m) => m.event_id)).toContain(b1));
    }
    const statusBefore = (await alpha.admin('GET', '/status')).body;
    expect(statusBefore.backup).toMatchObject({ last_at: null, warning: expect.stringContaining('No backup yet') });

    // A backup while alpha runs, encrypted. The output folder (often a USB stick, a NAS or a
    // synced folder) sees nothing but the archive: watched while the backup runs.
    const created: string[] = [];
    const watcher = watch(work, (_event, name) => created.push(String(name)));
    const made = run(['backup', '--data', alpha.dataDir, '--out', backupFile, '--passphrase-file', passFile]);
    // inotify events arrive in order: once the sentinel is seen, every earlier one was.
    writeFileSync(join(work, 'sentinel'), '');
    await eventually(async () => expect(created).toContain('sentinel'));
    watcher.close();
    expect(created.filter((name) => name !== 'sentinel' && !name.startsWith('alpha.pcbak'))).toEqual([]);
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ file: backupFile, server_name: 'alpha.test', key_id: statusBefore.key_id, encrypted: true });
    expect(made.stderr).toBe('');
    expect((await alpha.admin('GET', '/status')).body.backup).toMatchObject({ last_at: expect.any(Number), warning: null });
    const good = readFileSync(backupFile);

    // A second backup to the same file, killed half-way (its temporary file exists, the rename has not happened).
    const second = spawn(process.execPath, [CLI, 'backup', '--data', alpha.dataDir, '--out', backupFile, '--passphrase-file', passFile], { stdio: 'ignore' });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => second.once('exit', (_code, signal) => resolve(signal)));
    await eventually(async () => expect(readdirSync(work).some((name) => /^alpha\.pcbak\.\d+-[0-9a-f]{16}\.tmp$/.test(name))).toBe(true), 20_000, 5);
    second.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    expect(readFileSync(backupFile).equals(good)).toBe(true);
    const verified = run(['verify-backup', '--in', backupFile, '--passphrase-file', passFile]);
    expect(verified.code, verified.stderr).toBe(0);
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, server_name: 'alpha.test' });
    // No plaintext copy of the database was left in the output folder by the killed backup; its
    // staging copy is in the (private) data folder, and the next backup removes it.
    expect(plaintextDatabasesUnder(work)).toEqual([]);
    expect(readdirSync(work).filter((name) => name.startsWith('.paracord-'))).toEqual([]);
    expect(readdirSync(alpha.dataDir).filter((name) => name.startsWith('.paracord-backup-'))).toHaveLength(1);
    const next = run(['backup', '--data', alpha.dataDir, '--out', backupFile, '--passphrase-file', passFile]);
    expect(next.code, next.stderr).toBe(0);
    expect(readdirSync(alpha.dataDir).filter((name) => name.startsWith('.paracord-backup-'))).toEqual([]);

    // The box dies; beta keeps talking in both rooms.
    const port = new URL(alpha.federationUrl).port;
    await alpha.stop('SIGKILL');
    const b2 = await send(beta, roomB, 'while alpha was gone, in B');
    const b3 = await send(beta, roomA, 'while alpha was gone, in A');
    // b2 (in beta's own room) is taken out of beta's outbox: it can only reach alpha by the
    // catch-up alpha runs at start. b3 (in alpha's room) stays queued: beta resends it.
    const queued = (await beta.admin('GET', '/queue?destination=alpha.test')).body.entries as Array<{ id: number; event_id: string }>;
    const b2Entry = queued.find((e) => e.event_id === b2);
    expect(b2Entry, JSON.stringify(queued)).toBeDefined();
    expect((await beta.admin('DELETE', `/queue/${b2Entry!.id}`)).body).toEqual({ dropped: true });
    expect(queued.some((e) => e.event_id === b3)).toBe(true);

    // Restore on a fresh folder and start it at the same address.
    const fresh = join(tempDir(), 'alpha-restored');
    const restoredRun = run(['restore', '--data', fresh, '--in', backupFile, '--passphrase-file', passFile]);
    expect(restoredRun.code, restoredRun.stderr).toBe(0);
    expect(JSON.parse(restoredRun.stdout)).toMatchObject({ server_name: 'alpha.test', key_id: statusBefore.key_id });
    expect(statSync(join(fresh, 'identity.json')).mode & 0o777).toBe(0o600);
    expect(existsSync(join(alpha.dataDir, 'paracord-search.db'))).toBe(true);
    expect(readdirSync(fresh).filter((name) => name.includes('search'))).toEqual([]);
    const restored = fileNodes.process({ serverName: 'alpha.test', dataDir: fresh });
    await restored.start(['--listen', `127.0.0.1:${port}`]);
    const status = (await restored.admin('GET', '/status')).body;
    expect(status).toMatchObject({ server_name: 'alpha.test', key_id: statusBefore.key_id, public_key: statusBefore.public_key });
    // Its last backup is the one it came from (it said the first backup's time, or "No backup yet").
    expect(status.backup).toMatchObject({ last_at: JSON.parse(restoredRun.stdout).created_at, warning: null });
    expect((await restored.admin('GET', '/backups')).body.last_backup_file).toBe(backupFile);
    const rooms = (await restored.admin('GET', '/rooms')).body.rooms.map((r: { room_id: string }) => r.room_id);
    expect(rooms).toEqual(expect.arrayContaining([roomA, roomB]));
    const node = restored;
    expect((await messages(node, roomA)).map((m) => m.event_id)).toContain(a1);
    expect((await messages(node, roomB)).map((m) => m.event_id)).toContain(b1);
    // The search index is not in the backup (derived data, its own file): the restored node
    // builds it again from the events.
    const found = (await node.admin('GET', `/search?${new URLSearchParams({ q: 'before the backup', room_id: roomA })}`)).body;
    expect(found.results.map((r: { event_id: string }) => r.event_id)).toEqual([a1]);

    // What it missed arrives: b2 by catch-up of the remote room at start, b3 by beta's outbox.
    await eventually(async () => expect((await messages(node, roomB)).map((m) => m.event_id)).toContain(b2), 30_000);
    await eventually(async () => expect((await messages(node, roomA)).map((m) => m.event_id)).toContain(b3), 30_000);

    // Beta accepts new events from the restored server, in both rooms.
    const a2 = await send(node, roomA, 'restored, in A');
    const a3 = await send(node, roomB, 'restored, in B');
    await eventually(async () => expect((await messages(beta, roomA)).map((m) => m.event_id)).toContain(a2));
    await eventually(async () => expect((await messages(beta, roomB)).map((m) => m.event_id)).toContain(a3));
    const queue = (await node.admin('GET', '/queue')).body;
    expect(queue.counts.failed).toBe(0);
    const room = (await beta.admin('GET', `/rooms/${enc(roomB)}`)).body;
    expect(room.members.find((m: { user_id: string }) => m.user_id === '@owner:alpha.test')?.membership).toBe('join');
  });

  it('refuses a wrong passphrase, a truncated archive and a non-empty target with one line, changing nothing', async () => {
    const target = join(tempDir(), 'never');
    const wrong = join(work, 'wrong');
    writeFileSync(wrong, 'not the passphrase\n', { mode: 0o600 });
    expectOneLineRefusal(run(['restore', '--data', target, '--in', backupFile, '--passphrase-file', wrong]), /wrong passphrase/);
    expect(existsSync(target)).toBe(false);

    const cut = join(work, 'cut.pcbak');
    const whole = readFileSync(backupFile);
    writeFileSync(cut, whole.subarray(0, Math.floor(whole.length / 2)));
    expectOneLineRefusal(run(['restore', '--data', target, '--in', cut, '--passphrase-file', passFile]), /ends early|truncated|damaged/);
    expect(existsSync(target)).toBe(false);
    expectOneLineRefusal(run(['verify-backup', '--in', cut, '--passphrase-file', passFile]), /ends early|truncated|damaged/);

    // alpha's backup over beta's live data folder.
    const before = snapshot(beta.dataDir);
    const identity = readFileSync(join(beta.dataDir, 'identity.json'));
    expectOneLineRefusal(run(['restore', '--data', beta.dataDir, '--in', backupFile, '--passphrase-file', passFile]), /not empty/);
    expect(readFileSync(join(beta.dataDir, 'identity.json')).equals(identity)).toBe(true);
    expect(Object.keys(snapshot(beta.dataDir)).sort()).toEqual(Object.keys(before).sort());
    // spawnSync blocked this process for seconds: let it see the keep-alive connection the node
    // closed meanwhile (10 s idle), or undici would send the request on it ("other side closed").
    await new Promise((resolve) => setImmediate(resolve));
    expect((await beta.admin('GET', '/status')).body.server_name).toBe('beta.test');
    // No stray restore folders next to the targets.
    expect(readdirSync(join(beta.dataDir, '..')).filter((n) => n.includes('.restoring-'))).toEqual([]);

    // Backups of a folder that is no node, or into a folder that does not exist.
    expectOneLineRefusal(run(['backup', '--data', join(work, 'nothing-here'), '--out', join(work, 'x.pcbak')]), /no identity\.json/);
    expectOneLineRefusal(run(['backup', '--data', beta.dataDir, '--out', join(work, 'missing', 'x.pcbak'), '--passphrase-file', passFile]), /does not exist/);
    expect(existsSync(join(work, 'x.pcbak'))).toBe(false);
    expectOneLineRefusal(run(['verify-backup', '--in', passFile]), /not a Paracord backup file/);

    // A backup without a passphrase says that the keys are in the clear.
    const plain = run(['backup', '--data', beta.dataDir, '--out', join(work, 'beta.pcbak')]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stderr).toMatch(/in the clear/);

    // A backup into the data folder itself is refused: `--out DATA/paracord.db` would put the
    // archive in place of the live database.
    const isDatabase = () => readFileSync(join(beta.dataDir, 'paracord.db')).subarray(0, 16).toString('latin1') === 'SQLite format 3\0';
    expect(isDatabase()).toBe(true);
    const listing = Object.keys(snapshot(beta.dataDir)).sort();
    for (const out of [join(beta.dataDir, 'paracord.db'), join(beta.dataDir, 'tls', 'x.pcbak'), join(beta.dataDir, 'x.pcbak')]) {
      expectOneLineRefusal(run(['backup', '--data', beta.dataDir, '--out', out]), /is inside the data directory .*: put backups somewhere else/);
    }
    expect(isDatabase()).toBe(true);
    expect(Object.keys(snapshot(beta.dataDir)).sort()).toEqual(listing);
  });
});
