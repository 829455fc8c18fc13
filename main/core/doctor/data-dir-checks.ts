/** The doctor's checks of this machine and the data folder (doctor.ts): Node.js, permissions, identity, writing, disk space. */
import { randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, existsSync, openSync, statSync, statfsSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type Database from 'better-sqlite3';
import type { DataDirPaths } from '../data-dir.ts';
import { note, ok, problem, warning, type CheckResult } from './check-result.ts';
import { setting } from './read-only-db.ts';
import { searchDatabaseFile } from '../rooms/search-db.ts';
import { readIdentityJson } from '../identity/identity.ts';
import { fsErrorCode, fsReason } from '../util/fs-reason.ts';
import { PACKAGE_ROOT, PACKAGE_ROOT_FOUND } from '../version.ts';

export const DEFAULT_MIN_FREE_BYTES = 256 * 1024 ** 2;

/**
 * The Node.js check of `paracord-node` itself, bin/node-version.js (plain JavaScript that every
 * command runs before anything else): one requirement, read from there at run time (the bundle
 * and dist/main are built from main/, bin/ stays beside them in the package).
 */
async function nodeVersionCheck(): Promise<typeof import('../../../bin/node-version.js')> {
  return (await import(pathToFileURL(join(PACKAGE_ROOT, 'bin', 'node-version.js')).href)) as typeof import('../../../bin/node-version.js');
}

export async function checkNodeVersion(version = process.versions.node, packageFound = PACKAGE_ROOT_FOUND): Promise<CheckResult> {
  // Without our package.json the root is the working folder: no code is loaded from there (a review).
  if (!packageFound) return problem('node_version', `Node.js ${version}: the program's own files (bin/node-version.js beside its package.json) were not found, so its requirement could not be checked; reinstall paracord-node.`);
  const { REQUIRED_NODE, nodeVersionProblem } = await nodeVersionCheck();
  const tooOld = nodeVersionProblem(version);
  if (tooOld === null) return ok('node_version', `Node.js ${version} (needs ${REQUIRED_NODE} or newer).`);
  return problem('node_version', `${tooOld}: install a newer Node.js (for example the current LTS from nodejs.org).`);
}

/** The database's files and the search index's (rooms/search-db.ts): every message is in both. */
function databaseFiles(paths: DataDirPaths): string[] {
  const search = searchDatabaseFile(paths.database);
  return [paths.database, `${paths.database}-wal`, `${paths.database}-shm`, search, `${search}-wal`, `${search}-shm`];
}

export function checkPermissions(paths: DataDirPaths): CheckResult {
  if (process.platform === 'win32') return note('data_dir', `Permissions of ${paths.root} are not checked on Windows: keep the folder in your own profile.`);
  const wrong: string[] = [];
  const dirMode = statSync(paths.root).mode & 0o777;
  if (dirMode & 0o077) wrong.push(`chmod 700 ${paths.root} (it is ${dirMode.toString(8)})`);
  const secrets = [paths.adminToken, paths.identity, paths.tlsKey, ...databaseFiles(paths)];
  for (const file of secrets) {
    if (!existsSync(file)) continue;
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) wrong.push(`chmod 600 ${file} (it is ${mode.toString(8)})`);
  }
  if (wrong.length > 0) return problem('data_dir', `Other users of this machine can read the node's secrets: run ${wrong.join('; ')}.`);
  return ok('data_dir', `${paths.root} and its secrets are private to you (0700 / 0600).`);
}

/** Whether identity.json is this database's server (the node refuses another server's: startup-checks.ts). */
export function checkIdentity(paths: DataDirPaths, db: Database.Database | null): CheckResult | null {
  const stored = db ? setting(db, 'server_name') ?? null : null;
  if (!existsSync(paths.identity)) {
    return stored ? problem('identity', `${paths.identity} is missing but the database holds the data of ${stored}: the node will not start; put back the identity.json of ${stored} from a backup of ${stored}.`) : null;
  }
  let name: unknown;
  try {
    name = (readIdentityJson(paths.identity) as { server_name?: unknown } | null)?.server_name;
  } catch (error) {
    return problem('identity', `${(error as Error).message}: put it back from a backup.`);
  }
  if (typeof name !== 'string') return problem('identity', `${paths.identity} is not an identity file: put it back from a backup.`);
  if (stored && stored !== name) {
    return problem('identity', `${paths.identity} is the identity of ${name}, but the database holds the data of ${stored}: the node will not start; put back the identity.json of ${stored} (from a backup of ${stored}).`);
  }
  return ok('identity', `The signing identity is ${name}'s${stored ? ', the server whose data the database holds' : ''}.`);
}

/** What an error of a write probe means, in words. */
/** Why a path cannot be written, in words with the fix where there is one (fs-reason.ts words the rest). */
function whyNotWritable(error: unknown): string {
  const code = fsErrorCode(error);
  if (code === 'EPERM') return 'the system forbids it: an immutable or append-only attribute (lsattr shows i or a; remove it with chattr -i / chattr -a) or a security policy';
  if (code === 'EACCES') return 'permission denied (ls -l: it belongs to another user or is read-only; fix it with chown or chmod)';
  if (code === 'ENOENT') return 'it does not exist';
  return fsReason(error);
}

/**
 * Whether the node's user can really write where the node must: the data folder, the database
 * and its WAL, the logs and the backup folder. A real probe (a file created and removed, files
 * opened for writing), so an immutable attribute or a read-only mount shows even to root.
 * Run as root for a folder another user owns, also checks that the files are that user's.
 */
export function checkWritable(paths: DataDirPaths, backupDir: string | null): CheckResult {
  const wrong: string[] = [];
  const probeFolder = (dir: string, what: string) => {
    const probe = join(dir, `.paracord-doctor-${randomBytes(6).toString('hex')}`);
    try {
      closeSync(openSync(probe, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o600));
    } catch (error) {
      wrong.push(`cannot create files in ${what} ${dir}: ${whyNotWritable(error)}`);
      return;
    }
    try {
      unlinkSync(probe);
    } catch (error) {
      wrong.push(`cannot remove files in ${what} ${dir} (${probe} is left): ${whyNotWritable(error)}`);
    }
  };
  const probeFile = (file: string, what: string) => {
    if (!existsSync(file)) return;
    try {
      closeSync(openSync(file, 'r+'));
    } catch (error) {
      wrong.push(`cannot write ${what} ${file}: ${whyNotWritable(error)}`);
    }
  };
  probeFolder(paths.root, 'the data folder');
  probeFile(paths.database, 'the database');
  probeFile(`${paths.database}-wal`, 'the database\'s write-ahead log');
  probeFile(`${paths.database}-shm`, 'the database\'s shared-memory file');
  probeFile(searchDatabaseFile(paths.database), 'the search index');
  probeFile(`${searchDatabaseFile(paths.database)}-wal`, 'the search index\'s write-ahead log');
  probeFile(`${searchDatabaseFile(paths.database)}-shm`, 'the search index\'s shared-memory file');
  if (existsSync(paths.logsDir)) probeFolder(paths.logsDir, 'the log folder');
  probeFile(paths.logFile, 'the log');
  if (backupDir) probeFolder(backupDir, 'the backup folder');
  // Root passes the probes: a node running as the folder's owner may not (files left by `sudo …`).
  const owner = process.platform === 'win32' || process.getuid?.() !== 0 ? null : statSync(paths.root).uid;
  if (owner !== null && owner !== 0) {
    for (const file of [paths.root, ...databaseFiles(paths), paths.logsDir, paths.logFile, paths.identity, paths.adminToken]) {
      if (!existsSync(file)) continue;
      const stat = statSync(file);
      if (stat.uid !== owner) wrong.push(`${file} belongs to uid ${stat.uid}, not to the node's user (uid ${owner}, the data folder's owner): chown ${owner} ${file}`);
      else if (!(stat.mode & 0o200)) wrong.push(`${file} is read-only for its owner: chmod u+w ${file}`);
    }
  }
  if (wrong.length > 0) return problem('writable', `The node cannot save its data: it ${wrong.join('; it ')}.`);
  return ok('writable', `The node can write its data folder, database, log${backupDir ? ' and backup folder' : ''} (checked by writing).`);
}

export function checkDisk(paths: DataDirPaths, minFreeBytes = DEFAULT_MIN_FREE_BYTES): CheckResult {
  const stat = statfsSync(paths.root);
  const free = Number(stat.bavail) * Number(stat.bsize);
  const gib = (free / 1024 ** 3).toFixed(1);
  if (free < minFreeBytes) return problem('disk_space', `Only ${gib} GiB free where ${paths.root} is: the database cannot grow; free some space now.`);
  if (free < 8 * minFreeBytes) return warning('disk_space', `${gib} GiB free where ${paths.root} is: free some space before the disk fills.`);
  return ok('disk_space', `${gib} GiB free.`);
}
