/**
 * Issue #37 item 13, doctor: a data folder the node cannot write any more — even as root, with
 * the immutable attribute (chattr +i), which root cannot bypass — is named as a problem in words:
 * the data folder, the database, the log folder and file, the scheduled backup folder, each
 * found by a real write probe. Run as root for a folder another user owns, a file left by
 * `sudo …` (root's, not the node user's) is named too. Real node processes, real files.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from './helpers/fixtures.ts';
import { BACKUP_SETTING_KEYS } from '../main/core/backup/records.ts';
import { CLI, type NodeProcess } from './helpers/node-process.ts';
import { tempDir } from './helpers/temp-dir.ts';

interface Check {
  check: string;
  status: 'ok' | 'warning' | 'problem' | 'note';
  message: string;
}

const chattr = spawnSync('which', ['chattr'], { encoding: 'utf8' }).stdout.trim();
const isRoot = process.getuid?.() === 0;
if (!chattr) console.warn('doctor-writable: chattr is not installed (e2fsprogs): the immutable-attribute cases are skipped');

function doctor(dataDir: string) {
  const result = spawnSync(process.execPath, [CLI, 'doctor', '--data', dataDir, '--json', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0'], { encoding: 'utf8', timeout: 60_000 });
  const checks = JSON.parse(result.stdout) as Check[];
  return { code: result.status, stderr: result.stderr, writable: checks.find((c) => c.check === 'writable') };
}

/** Runs `body` with `path` immutable (chattr +i), always removing the attribute afterwards. */
function immutable<T>(path: string, body: () => T): T {
  execFileSync(chattr, ['+i', path]);
  try {
    return body();
  } finally {
    execFileSync(chattr, ['-i', path]);
  }
}

let node: NodeProcess;
let backups: string;

beforeAll(async ({ fileNodes }) => {
  node = fileNodes.process({ serverName: 'writable.test' });
  await node.start();
  expect(await node.stop()).toBe(0);
  backups = tempDir('paracord-backups-');
  const db = new Database(join(node.dataDir, 'paracord.db'));
  db.prepare('INSERT INTO settings (key, value) VALUES (?, ?)').run(BACKUP_SETTING_KEYS.schedule, JSON.stringify({ dir: backups, every: 'daily', keep: 7 }));
  db.close();
});

describe('doctor: can the node write its data?', () => {
  it('says so when it can (checked by writing), and leaves no probe behind', () => {
    const result = doctor(node.dataDir);
    expect(result.writable).toMatchObject({ status: 'ok', message: expect.stringContaining('backup folder (checked by writing)') });
    for (const dir of [node.dataDir, join(node.dataDir, 'logs'), backups]) expect(readdirSync(dir).filter((name) => name.startsWith('.paracord-doctor'))).toEqual([]);
  });

  it.skipIf(!chattr)('names an immutable database, data folder, log and backup folder as a problem, even to root', () => {
    const cases: Array<[string, string]> = [
      [join(node.dataDir, 'paracord.db'), 'cannot write the database'],
      [node.dataDir, 'cannot create files in the data folder'],
      [join(node.dataDir, 'logs'), 'cannot create files in the log folder'],
      // node.log names the current file (a symbolic link: log/rotation.ts); the attribute goes on that file.
      [realpathSync(join(node.dataDir, 'logs', 'node.log')), 'cannot write the log'],
      [backups, 'cannot create files in the backup folder'],
    ];
    for (const [path, words] of cases) {
      const result = immutable(path, () => doctor(node.dataDir));
      const named = path.includes(join('logs', 'node.')) ? join(node.dataDir, 'logs', 'node.log') : path;
      expect(result.writable, path).toMatchObject({ status: 'problem', message: expect.stringContaining(`${words} ${named}`) });
      expect(result.writable!.message).toContain('chattr -i');
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('writable');
    }
    // The attribute removed, all is well again.
    expect(doctor(node.dataDir).writable?.status).toBe('ok');
  });

  it.skipIf(!chattr)('while the node runs, a data folder made immutable is a problem', async () => {
    await node.start();
    try {
      const result = immutable(node.dataDir, () => doctor(node.dataDir));
      expect(result.writable).toMatchObject({ status: 'problem', message: expect.stringContaining(`cannot create files in the data folder ${node.dataDir}`) });
    } finally {
      expect(await node.stop()).toBe(0);
    }
  });

  it.skipIf(!isRoot)('run as root for a node user\'s folder: a file root left there is named; chowned back, all is well', () => {
    const uid = 1000;
    const own = (path: string, owner: number) => chownSync(path, owner, owner);
    for (const entry of [node.dataDir, ...readdirSync(node.dataDir, { recursive: true }).map((p) => join(node.dataDir, String(p)))]) own(entry, uid);
    try {
      own(join(node.dataDir, 'paracord.db'), 0);
      const result = doctor(node.dataDir);
      expect(result.writable).toMatchObject({ status: 'problem', message: expect.stringContaining(`${join(node.dataDir, 'paracord.db')} belongs to uid 0, not to the node's user (uid ${uid}`) });
      own(join(node.dataDir, 'paracord.db'), uid);
      expect(doctor(node.dataDir).writable?.status).toBe('ok');
    } finally {
      for (const entry of [node.dataDir, ...readdirSync(node.dataDir, { recursive: true }).map((p) => join(node.dataDir, String(p)))]) own(entry, 0);
    }
  });
});
