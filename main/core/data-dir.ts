/**
 * The data directory (README "Data directory"):
 *   admin.token      bearer token of the admin API (0600)
 *   identity.json    signing keys (0600)
 *   paracord.db      SQLite database, WAL (0600)
 *   paracord-search.db  the message search index, derived from the database (0600; rooms/search-db.ts)
 *   tls/             cert.pem, key.pem (0600) — generated self-signed unless provided
 *   node.json        present while the node runs: pid, URLs and a per-run nonce (0600, used by `status`)
 *   node.lock/       held while a node runs (data-dir-lock.ts): one node per directory
 *   logs/node.log    structured log, one JSON event per line
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from './util/atomic-file.ts';
import { createReason, makeFolders } from './util/fs-reason.ts';

export interface DataDirPaths {
  root: string;
  adminToken: string;
  identity: string;
  database: string;
  tlsDir: string;
  tlsCert: string;
  tlsKey: string;
  runtime: string;
  lock: string;
  logsDir: string;
  logFile: string;
}

export function dataDirPaths(root: string): DataDirPaths {
  const dir = resolve(root);
  return {
    root: dir,
    adminToken: join(dir, 'admin.token'),
    identity: join(dir, 'identity.json'),
    database: join(dir, 'paracord.db'),
    tlsDir: join(dir, 'tls'),
    tlsCert: join(dir, 'tls', 'cert.pem'),
    tlsKey: join(dir, 'tls', 'key.pem'),
    runtime: join(dir, 'node.json'),
    lock: join(dir, 'node.lock'),
    logsDir: join(dir, 'logs'),
    logFile: join(dir, 'logs', 'node.log'),
  };
}

/** `$PARACORD_DATA`, else the per-user data folder of the platform. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PARACORD_DATA) return env.PARACORD_DATA;
  if (process.platform === 'win32' && env.APPDATA) return join(env.APPDATA, 'paracord-node');
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'paracord-node');
  return join(env.XDG_DATA_HOME ?? join(homedir(), '.local', 'share'), 'paracord-node');
}

/**
 * Creates the data folder (0700, and its missing parents) or checks the one there, in words:
 * `--data` naming a file was a raw EEXIST. Folders are made one at a time (makeFolders): where
 * mkdir answers ENOENT although the parent exists (/proc), Node's recursive mkdir retries forever.
 */
function makeDataFolder(root: string): void {
  const kind = (path: string) => {
    try {
      return statSync(path).isDirectory() ? 'folder' : 'file';
    } catch {
      return null;
    }
  };
  const here = kind(root);
  if (here === 'folder') return;
  if (here === 'file') throw new Error(`${root} is a file, not a folder: --data names the node's data folder`);
  try {
    makeFolders(root, 0o700);
  } catch (error) {
    throw new Error(`cannot create the data folder ${root}: ${createReason(error)}`, { cause: error });
  }
}

/** Creates the directory (0700) and the admin token (0600) if missing. */
export function ensureDataDir(paths: DataDirPaths): void {
  makeDataFolder(paths.root);
  chmodSync(paths.root, 0o700);
  mkdirSync(paths.logsDir, { recursive: true, mode: 0o700 });
  if (!existsSync(paths.adminToken)) writeFileAtomic(paths.adminToken, randomBytes(32).toString('hex') + '\n');
}

export function readAdminToken(paths: DataDirPaths): string {
  return readFileSync(paths.adminToken, 'utf8').trim();
}

export interface RuntimeInfo {
  pid: number;
  federation_url: string | null;
  admin_url: string;
  started_at: number;
  /**
   * Secret of this run (hex): the node proves it is the one node.json describes by answering
   * GET /whoami?challenge=… with HMAC(nonce, challenge) (admin/middleware/whoami.ts).
   */
  nonce?: string;
}

export function readRuntimeInfo(paths: DataDirPaths): RuntimeInfo | undefined {
  if (!existsSync(paths.runtime)) return undefined;
  try {
    const info = JSON.parse(readFileSync(paths.runtime, 'utf8')) as Partial<RuntimeInfo>;
    if (typeof info.pid !== 'number' || typeof info.admin_url !== 'string') return undefined;
    return info as RuntimeInfo;
  } catch {
    return undefined;
  }
}
