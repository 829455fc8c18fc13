/**
 * Local accidents (issue #14 items 17–20; docs/SECURITY.md): a lost identity or database, two
 * nodes on one data directory, a stale node.json, a too-old Node.js. Real processes through
 * bin/paracord-node.js, real files, real sockets.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
import { join } from 'node:path';
import semver from 'semver';
import { request } from 'undici';
import { describe, expect, it, type Nodes } from './helpers/fixtures.ts';
import { compareVersions, nodeVersionProblem, REQUIRED_NODE } from '../bin/node-version.js';
import { dataDirPaths } from '../main/core/data-dir.ts';
import { lockDataDir, StartupRefusedError } from '../main/core/data-dir-lock.ts';
import { CLI, REPO_ROOT, runCli } from './helpers/node-process.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { tempDir } from './helpers/temp-dir.ts';

function run(args: string[], node = process.execPath) {
  const result = spawnSync(node, [CLI, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, PARACORD_LOG_LEVEL: 'warn' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `serve` that is expected to refuse: it must exit by itself. */
function serve(dataDir: string, extra: string[] = []) {
  return run(['serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--insecure-http', ...extra]);
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0]!;
}

/** A node that ran, has a room, and was stopped: a data directory worth protecting. */
async function usedDataDir(nodes: Nodes, serverName: string) {
  const node = nodes.process({ serverName });
  await node.start();
  const room = await node.admin('POST', '/rooms', { name: 'family' });
  expect(room.status).toBe(200);
  const keyId = (await node.admin('GET', '/status')).body.key_id as string;
  expect(await node.stop()).toBe(0);
  return { node, dataDir: node.dataDir, roomId: room.body.room_id as string, keyId };
}

function removeDatabase(dataDir: string): void {
  for (const suffix of ['', '-wal', '-shm']) rmSync(join(dataDir, `paracord.db${suffix}`), { force: true });
}

describe('17. a lost identity or database is not a fresh start', () => {
  it('serve --server-name over a database whose identity.json is gone exits 1 and makes no key; --new-identity makes one on purpose', async ({ fileNodes }) => {
    const { node, dataDir, roomId, keyId } = await usedDataDir(fileNodes, 'lost-key.test');
    rmSync(join(dataDir, 'identity.json'));

    const refused = serve(dataDir, ['--server-name', 'lost-key.test']);
    expect(refused.code).toBe(1);
    const line = oneLine(refused.stderr);
    expect(line).toContain('identity.json is missing');
    expect(line).toContain('backup');
    expect(line).toContain('--new-identity');
    expect(existsSync(join(dataDir, 'identity.json'))).toBe(false);
    expect(queryNodeDb<{ room_id: string }>(dataDir, 'SELECT room_id FROM rooms').map((r) => r.room_id)).toEqual([roomId]);
    // Without a name it does not fall into the setup wizard either (which would make a key too).
    expect(serve(dataDir).code).toBe(1);
    // `init` is refused the same way.
    const init = run(['init', '--data', dataDir, '--server-name', 'lost-key.test']);
    expect(init.code).toBe(1);
    expect(oneLine(init.stderr)).toContain('identity.json is missing');
    expect(existsSync(join(dataDir, 'identity.json'))).toBe(false);

    // Deliberately: a new key for the same server name, the data kept.
    const ready = await node.start(['--new-identity']);
    expect(ready.mode).toBe('running');
    const status = (await node.admin('GET', '/status')).body;
    expect(status.server_name).toBe('lost-key.test');
    expect(status.key_id).not.toBe(keyId);
    expect((await node.admin('GET', `/rooms/${encodeURIComponent(roomId)}`)).status).toBe(200);
    expect(node.stderr).toContain('new_identity');
    expect(await node.stop()).toBe(0);

    // --new-identity left in place does not make yet another key: refused while an identity exists.
    const again = serve(dataDir, ['--new-identity']);
    expect(again.code).toBe(1);
    expect(oneLine(again.stderr)).toContain('already has an identity');
  });

  it('a deleted or zero-length database next to an identity exits 1 and stays as it is; --new-database starts empty on purpose', async ({ fileNodes }) => {
    const { node, dataDir } = await usedDataDir(fileNodes, 'lost-db.test');
    removeDatabase(dataDir);
    const missing = serve(dataDir);
    expect(missing.code).toBe(1);
    expect(oneLine(missing.stderr)).toMatch(/paracord\.db is missing but .* has the identity of lost-db\.test: put paracord\.db back from your backup, or start with --new-database/);
    expect(existsSync(join(dataDir, 'paracord.db'))).toBe(false);

    writeFileSync(join(dataDir, 'paracord.db'), '');
    const empty = serve(dataDir, ['--server-name', 'lost-db.test']);
    expect(empty.code).toBe(1);
    expect(oneLine(empty.stderr)).toContain('is empty (0 bytes)');
    expect(statSync(join(dataDir, 'paracord.db')).size).toBe(0);

    const ready = await node.start(['--new-database']);
    expect(ready.mode).toBe('running');
    expect((await node.admin('GET', '/rooms')).body.rooms).toEqual([]);
    expect(await node.stop()).toBe(0);

    // With data in it, --new-database is refused rather than ignored.
    await node.start();
    await node.admin('POST', '/rooms', { name: 'again' });
    expect(await node.stop()).toBe(0);
    const overData = serve(dataDir, ['--new-database']);
    expect(overData.code).toBe(1);
    expect(oneLine(overData.stderr)).toContain('already holds a node\'s data');
  });

  it('a truncated database with an identity is refused even after a first refusal (nothing was written)', async ({ fileNodes }) => {
    const { dataDir } = await usedDataDir(fileNodes, 'truncated.test');
    removeDatabase(dataDir);
    writeFileSync(join(dataDir, 'paracord.db'), '');
    truncateSync(join(dataDir, 'paracord.db'), 0);
    expect(serve(dataDir).code).toBe(1);
    expect(serve(dataDir).code).toBe(1);
    expect(statSync(join(dataDir, 'paracord.db')).size).toBe(0);
  });
});

describe('18. one node per data directory', () => {
  it('a second serve exits 1 naming the running pid, and node.json keeps pointing at the first', async ({ fileNodes }) => {
    const first = fileNodes.process({ serverName: 'locked.test' });
    await first.start();
    const runtime = readFileSync(join(first.dataDir, 'node.json'), 'utf8');

    const second = serve(first.dataDir);
    expect(second.code).toBe(1);
    expect(oneLine(second.stderr)).toContain(`another node is already running on ${first.dataDir} (pid ${first.child.pid})`);
    expect(readFileSync(join(first.dataDir, 'node.json'), 'utf8')).toBe(runtime);
    const status = run(['status', '--data', first.dataDir]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).server_name).toBe('locked.test');
    expect((await first.admin('GET', '/status')).status).toBe(200);

    // init on the running node's directory is refused the same way, and changes nothing.
    const identityBefore = readFileSync(join(first.dataDir, 'identity.json'), 'utf8');
    const init = run(['init', '--data', first.dataDir, '--server-name', 'locked.test']);
    expect(init.code).toBe(1);
    expect(oneLine(init.stderr)).toContain(`another node is already running on ${first.dataDir} (pid ${first.child.pid})`);
    expect(readFileSync(join(first.dataDir, 'identity.json'), 'utf8')).toBe(identityBefore);
    expect((await first.admin('GET', '/status')).status).toBe(200);

    // A clean stop gives the lock back.
    expect(await first.stop()).toBe(0);
    expect(existsSync(join(first.dataDir, 'node.lock'))).toBe(false);
    // Then init runs (the directory is already initialized: it answers its identity) and leaves no lock.
    const again = run(['init', '--data', first.dataDir, '--server-name', 'locked.test']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout).server_name).toBe('locked.test');
    expect(existsSync(join(first.dataDir, 'node.lock'))).toBe(false);
  });

  it('after SIGKILL of the holder, the next start takes the lock over at once', async ({ fileNodes }) => {
    const node = fileNodes.process({ serverName: 'killed.test' });
    await node.start();
    const killedPid = node.child.pid!;
    await node.stop('SIGKILL');
    // The lock directory is still there, naming a dead pid.
    expect(JSON.parse(readFileSync(join(node.dataDir, 'node.lock', 'owner.json'), 'utf8')).pid).toBe(killedPid);

    await node.start();
    expect(node.child.pid).not.toBe(killedPid);
    expect(JSON.parse(readFileSync(join(node.dataDir, 'node.lock', 'owner.json'), 'utf8')).pid).toBe(node.child.pid);
    const status = run(['status', '--data', node.dataDir]);
    expect(status.code).toBe(0);
    expect(serve(node.dataDir).code).toBe(1);
    expect(await node.stop()).toBe(0);
  });

  it.skipIf(!existsSync('/proc/sys/kernel/random/boot_id'))('after a crash, a lock naming a pid that is now another live process (same pid, other start time or boot) does not stop serve', async ({ fileNodes }) => {
    // The dead holder's pid now belongs to some unrelated live process (here: this test
    // runner, certainly alive). Its recorded start time or boot id tells it apart.
    const reused = (extra: Record<string, unknown>) => JSON.stringify({ pid: process.pid, host: hostname(), started_at: 0, nonce: 'dead-run', ...extra });
    const currentBoot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    for (const [what, owner] of [
      ['another start time', reused({ boot_id: currentBoot, proc_start: '1' })],
      ['another boot', reused({ boot_id: '00000000-0000-0000-0000-000000000000', proc_start: '1' })],
    ] as const) {
      const node = fileNodes.process({ serverName: 'reused-pid.test' });
      mkdirSync(join(node.dataDir, 'node.lock'), { recursive: true });
      writeFileSync(join(node.dataDir, 'node.lock', 'owner.json'), owner);
      const ready = await node.start();
      expect(ready.mode, what).toBe('running');
      const held = JSON.parse(readFileSync(join(node.dataDir, 'node.lock', 'owner.json'), 'utf8'));
      expect(held.pid).toBe(node.child.pid);
      expect(held.boot_id).toBe(currentBoot);
      expect(held.proc_start).toMatch(/^\d+$/);
      // And the lock it now holds is respected: same pid, same start time, same boot.
      const second = serve(node.dataDir);
      expect(second.code).toBe(1);
      expect(oneLine(second.stderr)).toContain(`(pid ${node.child.pid})`);
      expect(await node.stop()).toBe(0);
    }
  });

  it('a lock naming this very process\'s pid is a dead predecessor\'s (a container or boot-time restart), unless this process holds it', () => {
    const paths = dataDirPaths(tempDir());
    // Written by an earlier run that had our pid (no boot id or start time: an older version).
    mkdirSync(paths.lock);
    writeFileSync(join(paths.lock, 'owner.json'), JSON.stringify({ pid: process.pid, host: hostname(), started_at: 0, nonce: 'earlier-run' }));
    writeFileSync(`${paths.lock}.takeover`, JSON.stringify({ pid: process.pid, host: hostname(), started_at: 0, nonce: 'earlier-mutex' }));
    const lock = lockDataDir(paths);
    const owner = JSON.parse(readFileSync(join(paths.lock, 'owner.json'), 'utf8'));
    expect(owner.pid).toBe(process.pid);
    expect(owner.nonce).not.toBe('earlier-run');
    expect(existsSync(`${paths.lock}.takeover`)).toBe(false);
    // A second node in this same process is still refused: the lock is held here.
    expect(() => lockDataDir(paths)).toThrow(`another node is already running on ${paths.root} (pid ${process.pid})`);
    lock.release();
    expect(existsSync(paths.lock)).toBe(false);
  });

  it('a lock held from another host is respected while fresh and taken over once stale', () => {
    const paths = dataDirPaths(tempDir());
    const plant = (ageMs: number) => {
      mkdirSync(paths.lock);
      writeFileSync(join(paths.lock, 'owner.json'), JSON.stringify({ pid: 4242, host: `not-${hostname()}`, started_at: 0 }));
      const at = new Date(Date.now() - ageMs);
      utimesSync(paths.lock, at, at);
    };
    plant(0);
    let refusal: unknown;
    try {
      lockDataDir(paths);
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(StartupRefusedError);
    expect((refusal as StartupRefusedError).message).toContain(`pid 4242 on not-${hostname()}`);
    rmSync(paths.lock, { recursive: true });

    plant(10 * 60_000);
    const lock = lockDataDir(paths);
    expect(JSON.parse(readFileSync(join(paths.lock, 'owner.json'), 'utf8')).pid).toBe(process.pid);
    lock.release();
    expect(existsSync(paths.lock)).toBe(false);
  });
});

describe('19. a stale node.json does not get the admin token', () => {
  /** A program that took over the admin port: answers everything, records what it was sent. */
  async function impostor(nodes: Nodes, answerWhoami: (challenge: string) => unknown) {
    const seen: { url: string; headers: IncomingHttpHeaders }[] = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url ?? '', headers: req.headers });
      res.setHeader('content-type', 'application/json');
      const url = new URL(req.url ?? '/', 'http://x');
      if (url.pathname.endsWith('/whoami')) res.end(JSON.stringify(answerWhoami(url.searchParams.get('challenge') ?? '')));
      else res.end(JSON.stringify({ server_name: 'impostor.test', federation: { paused: false } }));
    });
    nodes.servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { server, seen, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
  }

  it('node.json of a SIGKILLed node, its port now someone else\'s: exit 1, no request with the token', async ({ fileNodes, nodes }) => {
    const node = fileNodes.process({ serverName: 'stale.test' });
    await node.start();
    const deadPid = node.child.pid!;
    await node.stop('SIGKILL');
    const fake = await impostor(nodes, () => ({ proof: '0'.repeat(64) }));
    const runtime = JSON.parse(readFileSync(join(node.dataDir, 'node.json'), 'utf8'));
    writeFileSync(join(node.dataDir, 'node.json'), JSON.stringify({ ...runtime, admin_url: fake.url }));
    const status = await runCli(['status', '--data', node.dataDir]);
    expect(status.code).toBe(1);
    expect(oneLine(status.stderr)).toBe(`paracord-node: no node is running for ${node.dataDir} (stale node.json from pid ${deadPid})`);
    expect(fake.seen.filter((r) => r.headers.authorization !== undefined)).toEqual([]);
  });

  it('a live pid (reused) and a listener that cannot prove the run\'s nonce: exit 1 (doctor: a warning), the token is never sent', async ({ nodes }) => {
    const dataDir = tempDir();
    const token = 'a'.repeat(64);
    writeFileSync(join(dataDir, 'admin.token'), token + '\n', { mode: 0o600 });
    for (const answer of [() => ({ proof: 'f'.repeat(64) }), () => ({}), (challenge: string) => ({ proof: challenge.slice(0, 64) })]) {
      const fake = await impostor(nodes, answer);
      // process.pid: certainly alive, and certainly not a node for this directory.
      writeFileSync(join(dataDir, 'node.json'), JSON.stringify({ pid: process.pid, federation_url: null, admin_url: fake.url, started_at: 0, nonce: 'b'.repeat(64) }), { mode: 0o600 });
      for (const command of [['status'], ['peer', 'list'], ['keys', 'rotate']]) {
        const result = await runCli([...command, '--data', dataDir]);
        expect(result.code).toBe(1);
        expect(oneLine(result.stderr)).toContain(`no node is running for ${dataDir} (stale node.json from pid ${process.pid})`);
      }
      // doctor asks the same proof before it sends the token (for /status and /reachability).
      const doctor = await runCli(['doctor', '--json', '--data', dataDir, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0']);
      const running = (JSON.parse(doctor.stdout) as Array<{ check: string; status: string; message: string }>).find((r) => r.check === 'node_running');
      expect(running?.status).toBe('warning');
      expect(running?.message).toContain(`node.json names pid ${process.pid}, but that is not this node running`);
      expect(doctor.stdout).not.toContain('impostor.test');
      expect(fake.seen.length).toBeGreaterThan(0);
      expect(fake.seen.every((r) => r.url.includes('/whoami?challenge=') && r.headers.authorization === undefined)).toBe(true);
      expect(JSON.stringify(fake.seen)).not.toContain(token);
    }
  });

  it('whoami answers without the token, proves the nonce, and still checks Host and input', async ({ nodes }) => {
    const { dataDir, started } = await nodes.inProcess('whoami.test');
    const runtime = JSON.parse(readFileSync(join(dataDir, 'node.json'), 'utf8'));
    expect(runtime.nonce).toMatch(/^[0-9a-f]{64}$/);
    expect(statSync(join(dataDir, 'node.json')).mode & 0o777).toBe(0o600);
    const { whoamiProof } = await import('../main/core/admin/middleware/whoami.ts');
    const challenge = 'c'.repeat(64);
    const url = `${started.admin_url}/_paracord/admin/v1/whoami?challenge=${challenge}`;
    const ok = await request(url);
    expect(ok.statusCode).toBe(200);
    expect(await ok.body.json()).toEqual({ proof: whoamiProof(runtime.nonce, challenge), pid: process.pid });
    const badHost = await request(url, { headers: { host: 'evil.example' } });
    expect(badHost.statusCode).toBe(403);
    expect(await badHost.body.json()).toMatchObject({ error: 'host_not_allowed' });
    const bad = await request(`${started.admin_url}/_paracord/admin/v1/whoami?challenge=../../x`);
    expect(bad.statusCode).toBe(400);
    expect(await bad.body.json()).toMatchObject({ error: 'bad_challenge' });
    // Nothing else is open without the token.
    expect((await request(`${started.admin_url}/_paracord/admin/v1/status`)).statusCode).toBe(401);
  });
});

describe('20. a too-old Node.js gets one line, not a segfault', () => {
  it('compares versions numerically and names the required one', () => {
    expect(compareVersions('22.19.0', '22.19.0')).toBe(0);
    expect(compareVersions('v22.9.0', '22.19.0')).toBe(-1);
    expect(compareVersions('22.19.1', '22.19.0')).toBe(1);
    expect(compareVersions('23.0.0', '22.19.0')).toBe(1);
    expect(compareVersions('100.0.0', '22.19.0')).toBe(1);
    expect(compareVersions('20.20.2', '22.19.0')).toBe(-1);
    expect(nodeVersionProblem('24.0.0-nightly2025')).toBeNull();
    expect(nodeVersionProblem('22.19.0')).toBeNull();
    expect(nodeVersionProblem('22.11.9')).toContain(`Node.js ${REQUIRED_NODE} or newer is required; this is Node.js 22.11.9`);
    // better-sqlite3's prebuilt binary crashes 22.12 and 22.13 (a segmentation fault at the first
    // database); undici 8 throws at load before 22.19.
    for (const tooOld of ['22.12.0', '22.13.1', '22.14.0', '22.18.0']) expect(nodeVersionProblem(tooOld)).toContain(`Node.js ${REQUIRED_NODE} or newer is required`);
    // Node.js 23 got zstd (which undici 8 loads) only in 23.8.
    expect(nodeVersionProblem('23.7.0')).toContain(`Node.js ${REQUIRED_NODE} or newer is required (23.8.0 or newer on Node.js 23); this is Node.js 23.7.0`);
    expect(nodeVersionProblem('23.8.0')).toBeNull();
    const engines = JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')).engines.node as string;
    expect(engines).toBe(`>=${REQUIRED_NODE}`);
  });

  it('the required version is at least what every runtime dependency asks (a newer library raises it)', () => {
    // The lockfile names each installed package's own "engines"; the node's runtime is what is not
    // "dev" (Electron's and the test tools' are not run by `npm start`).
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean; engines?: { node?: string } }> };
    const unmet = Object.entries(lock.packages)
      .filter(([path, pkg]) => path !== '' && !pkg.dev && typeof pkg.engines?.node === 'string')
      .filter(([, pkg]) => !semver.satisfies(REQUIRED_NODE, pkg.engines!.node!))
      .map(([path, pkg]) => `${path.replace(/^.*node_modules\//, '')} needs ${pkg.engines!.node}`);
    expect(unmet, `REQUIRED_NODE ${REQUIRED_NODE} (bin/node-version.js) is older than`).toEqual([]);
    // (Each package is read: one without engines or with a plain ">= 0.8" counts as met.)
    expect(semver.satisfies('22.18.0', lock.packages['node_modules/undici']!.engines!.node!)).toBe(false);
  });

  const OLD_NODE = '/usr/bin/node';
  const oldVersion = existsSync(OLD_NODE) ? spawnSync(OLD_NODE, ['--version'], { encoding: 'utf8' }).stdout.trim() : '';
  const haveOldNode = oldVersion !== '' && compareVersions(oldVersion, REQUIRED_NODE) < 0;
  it.skipIf(!haveOldNode)(`every command exits 1 with one line under an older Node.js (${haveOldNode ? `${OLD_NODE} ${oldVersion}` : `skipped: no Node.js older than ${REQUIRED_NODE} at ${OLD_NODE}`})`, () => {
    const dataDir = join(tempDir(), 'never-made');
    for (const args of [['init', '--server-name', 'old.test'], ['serve', '--server-name', 'old.test'], ['status'], ['keys', 'show']]) {
      const result = run([...args, '--data', dataDir], OLD_NODE);
      expect(result.code).toBe(1);
      expect(oneLine(result.stderr)).toBe(`paracord-node: Node.js ${REQUIRED_NODE} or newer is required; this is Node.js ${oldVersion.replace(/^v/, '')} (${OLD_NODE})`);
      expect(result.stdout).toBe('');
    }
    expect(existsSync(dataDir)).toBe(false);
  });
});
