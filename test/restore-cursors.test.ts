/**
 * A restored node hands out none of the ids its original handed out after the backup (a helper's
 * audit, 2026-11-28): a friend that pulls from us holds a cursor past them, so entries made again
 * under those ids were skipped by its pulls and deleted unserved by its acknowledgements (or its
 * acknowledgement was refused as an unknown cursor). Here beta pulls from alpha; alpha is backed
 * up, sends more (beta acknowledges them), dies and is restored while beta is away: what the
 * restored alpha sends meanwhile reaches beta.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from './helpers/fixtures.ts';
import { CLI, startPeered } from './helpers/node-process.ts';
import { eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';
import { tempDir } from './helpers/temp-dir.ts';
import { pullingFrom } from './helpers/pull-friend.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';

const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });

describe('a restored node and a friend that pulls from it', () => {
  it('what the restored node sends reaches the friend, whose cursor had moved past the backup', async ({ fileNodes }) => {
    const alpha = fileNodes.process({ serverName: 'alpha.test', args: ['--retry-initial', '200', '--retry-max', '1000'] });
    const beta = fileNodes.process({ serverName: 'beta.test' });
    await startPeered([alpha, beta]);
    // The room is beta's: what alpha sends reaches it only through alpha's outbox (beta catches up from nobody).
    const roomId = await roomWithMembers(beta, 'restored', [[alpha, '@owner:alpha.test']]);
    const { restart } = await pullingFrom(alpha, beta);
    const pulled = async () => (await messages(beta, roomId)).map((m) => m.event_id);
    const acked = () => queryNodeDb<{ n: number }>(alpha.dataDir, "SELECT COUNT(*) AS n FROM federation_outbox WHERE destination = 'beta.test' AND state = 'pending'")[0]!.n;

    const backupFile = join(tempDir('restore-cursors-'), 'alpha.pcbak');
    const made = run(['backup', '--data', alpha.dataDir, '--out', backupFile]);
    expect(made.status, made.stderr).toBe(0);
    // After the backup: ten more, pulled and acknowledged (beta's cursor moves past the backup's ids).
    const after: string[] = [];
    for (let i = 0; i < 10; i++) after.push(await send(alpha, roomId, `after the backup ${i}`));
    await eventually(async () => expect(await pulled()).toEqual(expect.arrayContaining(after)), 60_000, 100);
    await eventually(async () => expect(acked()).toBe(0), 30_000, 100);

    // alpha's box dies, and beta is away while the restored alpha (at the same address) sends more
    // than the ids the original handed out after the backup. Before: the new entries took those ids
    // again, below beta's cursor, and once the ids passed it, beta's pulls skipped them and its
    // acknowledgement deleted them unserved. Back, beta pulls them all.
    const cursor = () => queryNodeDb<{ cursor: number }>(beta.dataDir, "SELECT cursor FROM pull_sources WHERE server_name = 'alpha.test'")[0]!.cursor;
    expect(await beta.stop()).toBe(0);
    const port = new URL(alpha.federationUrl).port;
    await alpha.stop('SIGKILL');
    const fresh = join(tempDir(), 'alpha-restored');
    const restoredRun = run(['restore', '--data', fresh, '--in', backupFile]);
    expect(restoredRun.status, restoredRun.stderr).toBe(0);
    const restored = fileNodes.process({ serverName: 'alpha.test', dataDir: fresh, args: ['--retry-initial', '200', '--retry-max', '1000'] });
    await restored.start(['--listen', `127.0.0.1:${port}`]);
    const away: string[] = [];
    // More than the ten the original handed out after the backup (every start also moves the counters on: store/id-cursors.ts).
    expect(cursor()).toBeGreaterThan(0);
    for (let i = 0; i < 15; i++) away.push(await send(restored, roomId, `while beta was away ${i}`));
    await restart();
    await eventually(async () => expect(await pulled()).toEqual(expect.arrayContaining(away)), 60_000, 100);
  }, 240_000);
});
