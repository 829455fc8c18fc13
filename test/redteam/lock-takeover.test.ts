/**
 * Red team (issue #14 item 18 class: "one node per data directory"), fixed. The lock's
 * staleness rule used to apply to a LIVE holder on this host whose refresh timer could not run —
 * a node suspended with Ctrl-Z (SIGSTOP) or with a blocked event loop. A second `serve` then took
 * the lock, and the first, once resumed, only logged `data_dir_lock_lost` and kept serving.
 * Now: a live holder on this host is never stale (staleness by mtime only for other hosts), a
 * node that finds its lock taken away stops (exit 1, one line), and a takeover of a dead
 * holder's lock is atomic (6 starters racing: exactly one holder).
 * The staleness window is shortened (--lock-stale-ms) so the test does not wait 30 s.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { request } from 'undici';
import { dataDirPaths } from '../../main/core/data-dir.ts';
import type { NodeProcess } from '../helpers/node-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const STALE = ['--lock-stale-ms', '600'];
const alive = (n: NodeProcess) => n.child.exitCode === null && n.child.signalCode === null;
async function serving(n: NodeProcess): Promise<boolean> {
  if (!alive(n)) return false;
  try {
    const r = await request(`${n.federationUrl}/_paracord/federation/v1/keys`, { headersTimeout: 3000, bodyTimeout: 3000 });
    await r.body.text();
    return r.statusCode === 200;
  } catch {
    return false;
  }
}
/** Its exit code, once its output is read to the end too ('close': at 'exit' its stderr may not be). */
const exited = (n: NodeProcess) => new Promise<number | null>((r) => (alive(n) ? n.child.once('close', (code) => r(code)) : r(n.child.exitCode)));

describe('red team: the data-dir lock and a suspended node', () => {
  it('a suspended node (SIGSTOP, past the staleness window) keeps its data dir: the second serve is refused', async ({ fileNodes }) => {
    const first = fileNodes.process({ serverName: 'lock.test', args: STALE });
    await first.start();
    first.child.kill('SIGSTOP'); // Ctrl-Z
    await new Promise((r) => setTimeout(r, 1_500)); // 2.5 × the staleness window, no refresh
    const second = fileNodes.process({ serverName: 'lock.test', dataDir: first.dataDir, args: STALE });
    let refusal = '';
    try {
      await second.start();
    } catch (error) {
      refusal = (error as Error).message;
    }
    first.child.kill('SIGCONT'); // fg
    expect(refusal).toContain(`another node is already running on ${first.dataDir} (pid ${first.child.pid})`);
    expect(await serving(first)).toBe(true);
  }, 60_000);

  it('a node whose lock is taken away stops serving: exit 1 with one line', async ({ fileNodes }) => {
    const node = fileNodes.process({ serverName: 'lost.test', args: STALE });
    await node.start();
    const exit = exited(node);
    // Someone else's lock in its place (as if another node had taken it over).
    const lock = join(node.dataDir, 'node.lock');
    renameSync(lock, `${lock}.gone`);
    mkdirSync(lock);
    writeFileSync(join(lock, 'owner.json'), JSON.stringify({ pid: process.pid, host: hostname(), started_at: 0, nonce: 'x' }));
    // ... and its node.json, as that other node would have written it.
    const othersRuntime = JSON.stringify({ pid: process.pid, federation_url: null, admin_url: 'http://127.0.0.1:1', started_at: 0, nonce: 'y'.repeat(64) });
    writeFileSync(join(node.dataDir, 'node.json'), othersRuntime);
    expect(await exit).toBe(1);
    expect(readFileSync(join(node.dataDir, 'node.json'), 'utf8')).toBe(othersRuntime);
    const lines = node.stderr.split('\n').filter((l) => l.startsWith('paracord-node:') && l.includes('lock'));
    expect(lines).toEqual([`paracord-node: stopped: the data directory lock of ${node.dataDir} was taken away (another node may be running on it)`]);
    // It did not remove the lock that is not its own.
    expect(JSON.parse(readFileSync(join(lock, 'owner.json'), 'utf8')).nonce).toBe('x');
  }, 60_000);

  it('6 starters racing for a dead holder\'s lock: exactly one holds it, every round', async () => {
    // Each starter waits for the same instant, tries once, reports, and (holder or not) stays
    // alive until the test ends the round: a late starter must meet a LIVE holder.
    const script = `
      const { lockDataDir } = await import(${JSON.stringify(resolve('main/core/data-dir-lock.ts'))});
      const paths = { root: process.argv[1], lock: process.argv[1] + '/node.lock' };
      const at = Number(process.argv[2]);
      while (Date.now() < at) {}
      try { lockDataDir(paths); process.stdout.write('held'); }
      catch (e) { process.stdout.write(e.code === 'data_dir_in_use' ? 'refused' : 'error ' + e.message); }
      setInterval(() => {}, 60_000);
    `;
    for (let round = 0; round < 4; round++) {
      const dir = tempDir();
      const paths = dataDirPaths(dir);
      mkdirSync(paths.lock);
      writeFileSync(join(paths.lock, 'owner.json'), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), started_at: 0 }));
      const at = Date.now() + 2_000;
      const children: ChildProcess[] = [];
      const outcomes = await Promise.all(Array.from({ length: 6 }, () => new Promise<string>((done) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, dir, String(at)], { stdio: ['ignore', 'pipe', 'inherit'] });
        children.push(child);
        child.stdout!.once('data', (c: Buffer) => done(c.toString()));
        child.once('exit', () => done('exited'));
      })));
      for (const child of children) child.kill('SIGKILL');
      expect(outcomes.filter((o) => o === 'held'), `round ${round}: ${outcomes.join(', ')}`).toHaveLength(1);
      expect(outcomes.filter((o) => o === 'refused')).toHaveLength(5);
    }
  }, 120_000);
});
