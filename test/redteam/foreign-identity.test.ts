/**
 * Red team (issue #37 item 4; SECURITY.md "A local user on the same machine"), mitigated.
 * identity.json of server B copied into server A's data directory — as the node's own message
 * for a lost identity suggested ("put it back from your backup") — started the node as B over
 * A's database: A's rooms, peers and history served under B's name and key.
 * Now the database records its server's name (settings `server_name`: at init, and on the first
 * start of an older database that lacks it) and `serve`, `init` and `doctor` compare it with the
 * identity: one line, exit 1, nothing changed. The lost-identity message names whose
 * identity.json is needed. Real node processes through bin/paracord-node.js, real files.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, type Nodes } from '../helpers/fixtures.ts';
import { CLI } from '../helpers/node-process.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';

function run(args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000, env: { ...process.env, PARACORD_LOG_LEVEL: 'warn' } });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function serve(dataDir: string, extra: string[] = []) {
  return run(['serve', '--data', dataDir, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--insecure-http', ...extra]);
}

function oneLine(stderr: string): string {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  return lines[0]!;
}

/** A node that ran, has a room, and was stopped. */
async function usedDataDir(nodes: Nodes, serverName: string) {
  const node = nodes.process({ serverName });
  await node.start();
  const room = await node.admin('POST', '/rooms', { name: `${serverName} family` });
  expect(room.status).toBe(200);
  const keyId = (await node.admin('GET', '/status')).body.key_id as string;
  expect(await node.stop()).toBe(0);
  return { node, dataDir: node.dataDir, roomId: room.body.room_id as string, keyId };
}

function doctorIdentity(dataDir: string) {
  const result = run(['doctor', '--data', dataDir, '--json', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0']);
  return (JSON.parse(result.stdout) as Array<{ check: string; status: string; message: string }>).find((c) => c.check === 'identity');
}

describe('red team: another server\'s identity.json in our data directory', () => {
  it('serve, init and doctor refuse B\'s identity over A\'s database; A\'s own identity starts A', async ({ fileNodes }) => {
    const a = await usedDataDir(fileNodes, 'alpha-id.test');
    const b = await usedDataDir(fileNodes, 'beta-id.test');
    const own = readFileSync(join(a.dataDir, 'identity.json'));

    // The lost-identity message names whose identity.json is needed.
    rmSync(join(a.dataDir, 'identity.json'));
    const lost = oneLine(serve(a.dataDir).stderr);
    expect(lost).toContain('identity.json of alpha-id.test');
    expect(doctorIdentity(a.dataDir)).toMatchObject({ status: 'problem', message: expect.stringContaining('identity.json of alpha-id.test') });

    // B's identity where A's was: refused in one line, by serve (with or without a name) and init.
    copyFileSync(join(b.dataDir, 'identity.json'), join(a.dataDir, 'identity.json'));
    const refused = serve(a.dataDir);
    expect(refused.code).toBe(1);
    const line = oneLine(refused.stderr);
    expect(line).toContain('identity of beta-id.test');
    expect(line).toContain('holds the data of alpha-id.test');
    expect(line).toContain('identity.json of alpha-id.test');
    expect(serve(a.dataDir, ['--server-name', 'beta-id.test']).code).toBe(1);
    const init = run(['init', '--data', a.dataDir, '--server-name', 'beta-id.test']);
    expect(init.code).toBe(1);
    expect(oneLine(init.stderr)).toContain('holds the data of alpha-id.test');
    expect(doctorIdentity(a.dataDir)).toMatchObject({ status: 'problem', message: expect.stringContaining('identity of beta-id.test, but the database holds the data of alpha-id.test') });
    // Nothing changed: A's name and rooms, B's file as it was.
    expect(queryNodeDb<{ value: string }>(a.dataDir, "SELECT value FROM settings WHERE key = 'server_name'")).toEqual([{ value: 'alpha-id.test' }]);
    expect(queryNodeDb<{ room_id: string }>(a.dataDir, 'SELECT room_id FROM rooms').map((r) => r.room_id)).toEqual([a.roomId]);
    expect(readFileSync(join(a.dataDir, 'identity.json')).equals(readFileSync(join(b.dataDir, 'identity.json')))).toBe(true);

    // The legitimate twin: A's own identity back (as from A's backup), A starts as itself with its room.
    putBack(join(a.dataDir, 'identity.json'), own);
    expect(doctorIdentity(a.dataDir)?.status).toBe('ok');
    const ready = await a.node.start();
    expect(ready.mode).toBe('running');
    const status = (await a.node.admin('GET', '/status')).body;
    expect(status).toMatchObject({ server_name: 'alpha-id.test', key_id: a.keyId });
    expect((await a.node.admin('GET', `/rooms/${encodeURIComponent(a.roomId)}`)).status).toBe(200);
    expect(await a.node.stop()).toBe(0);
  });

  it('a database that does not record its server yet learns it at the next start, and is protected from then on', async ({ fileNodes }) => {
    const a = await usedDataDir(fileNodes, 'gamma-id.test');
    const b = await usedDataDir(fileNodes, 'delta-id.test');
    // An older database: no server_name setting.
    const db = new Database(join(a.dataDir, 'paracord.db'));
    db.prepare("DELETE FROM settings WHERE key = 'server_name'").run();
    db.close();
    await a.node.start();
    expect(await a.node.stop()).toBe(0);
    expect(queryNodeDb<{ value: string }>(a.dataDir, "SELECT value FROM settings WHERE key = 'server_name'")).toEqual([{ value: 'gamma-id.test' }]);

    const own = readFileSync(join(a.dataDir, 'identity.json'));
    copyFileSync(join(b.dataDir, 'identity.json'), join(a.dataDir, 'identity.json'));
    const refused = serve(a.dataDir);
    expect(refused.code).toBe(1);
    expect(oneLine(refused.stderr)).toContain('holds the data of gamma-id.test');
    putBack(join(a.dataDir, 'identity.json'), own);
    expect((await a.node.start()).mode).toBe('running');
    expect(await a.node.stop()).toBe(0);
  });
});

function putBack(file: string, data: Buffer): void {
  rmSync(file, { force: true });
  writeFileSync(file, data, { mode: 0o600 });
}
