/**
 * What a node checks about its data directory before it opens anything (SECURITY.md item 17):
 * a lost identity next to a database that has data, or a lost or emptied database next to an
 * identity, is an accident to be repaired, not a fresh start; so is another server's identity
 * next to this database. They refuse with one line and the way out; `newIdentity` /
 * `newDatabase` say the owner means to start over.
 * Shared by the CLI and the desktop app (createNode calls it).
 */
import Database from 'better-sqlite3';
import { existsSync, readFileSync, statSync } from 'node:fs';
import type { DataDirPaths } from './data-dir.ts';
import { StartupRefusedError } from './data-dir-lock.ts';

export interface StartIntent {
  /** Make a new signing key although the database has data (the old identity is lost). */
  newIdentity?: boolean;
  /** Start with an empty database although an identity exists (the old database is lost). */
  newDatabase?: boolean;
}

export interface DatabaseState {
  /** missing: no file; empty: 0 bytes; present: an SQLite file (data or not). */
  file: 'missing' | 'empty' | 'present';
  /** Whether it holds anything of a set-up node: a server name, rooms or peers. */
  hasData: boolean;
  serverName: string | null;
}

/** Looks into the database read-only, before the node opens (and migrates) it. */
export function inspectDatabase(file: string): DatabaseState {
  if (!existsSync(file)) return { file: 'missing', hasData: false, serverName: null };
  if (statSync(file).size === 0 && !existsSync(`${file}-wal`)) return { file: 'empty', hasData: false, serverName: null };
  let db: Database.Database | null = null;
  try {
    db = new Database(file, { readonly: true, fileMustExist: true });
    const tables = new Set((db.prepare(`SELECT name FROM sqlite_master WHERE type = 'table'`).all() as { name: string }[]).map((t) => t.name));
    const serverName = tables.has('settings')
      ? ((db.prepare(`SELECT value FROM settings WHERE key = 'server_name'`).get() as { value: string } | undefined)?.value ?? null)
      : null;
    const count = (table: string) => (tables.has(table) ? (db!.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n : 0);
    return { file: 'present', hasData: serverName !== null || count('rooms') > 0 || count('federation_servers') > 0, serverName };
  } catch {
    // Unreadable or not SQLite: opening it will say so; that is not this check's accident.
    return { file: 'present', hasData: true, serverName: null };
  } finally {
    db?.close();
  }
}

function identityServerName(file: string): string | null {
  try {
    const name = (JSON.parse(readFileSync(file, 'utf8')) as { server_name?: unknown }).server_name;
    return typeof name === 'string' ? name : null;
  } catch {
    return null;
  }
}

/** The refusal for a lost identity next to a database with data, or null. Also used by `init`. */
export function lostIdentity(paths: DataDirPaths, intent: StartIntent & { restoringBackup?: boolean }): StartupRefusedError | null {
  if (existsSync(paths.identity) || intent.newIdentity || intent.restoringBackup) return null;
  const db = inspectDatabase(paths.database);
  if (!db.hasData) return null;
  const server = db.serverName ? ` of ${db.serverName}` : '';
  const whose = db.serverName ? `the identity.json of ${db.serverName} back from a backup of ${db.serverName} (another server's is refused)` : `this server's identity.json back from its backup`;
  return new StartupRefusedError(
    'identity_missing',
    `${paths.identity} is missing but the database${server} has data: put ${whose}, ` +
      `or start with --new-identity to make a new signing key on purpose (peers that pinned the old key will refuse the new one until they accept it)`,
  );
}

/**
 * The refusal for another server's identity.json next to this database (the database records
 * its server's name: settings `server_name`), or null. Starting would run as that server over
 * this one's rooms, peers and history.
 */
export function identityMismatch(paths: DataDirPaths, db: DatabaseState = inspectDatabase(paths.database)): StartupRefusedError | null {
  const identityName = existsSync(paths.identity) ? identityServerName(paths.identity) : null;
  if (identityName === null || db.serverName === null || identityName === db.serverName) return null;
  return new StartupRefusedError(
    'identity_mismatch',
    `${paths.identity} is the identity of ${identityName}, but the database holds the data of ${db.serverName}: ` +
      `put back the identity.json of ${db.serverName} (from a backup of ${db.serverName}), and keep ${identityName}'s identity with its own data directory`,
  );
}

/** Throws StartupRefusedError when the data directory looks damaged by accident (see the file comment). */
export function checkDataDir(paths: DataDirPaths, intent: StartIntent = {}): void {
  const identityExists = existsSync(paths.identity);
  if (intent.newIdentity && identityExists) {
    throw new StartupRefusedError(
      'identity_exists',
      `--new-identity: ${paths.root} already has an identity (identity.json); a new one is only made when it is lost (to change keys, use \`paracord-node keys rotate\`)`,
    );
  }
  const refusal = lostIdentity(paths, intent);
  if (refusal) throw refusal;
  const db = inspectDatabase(paths.database);
  const mismatch = identityMismatch(paths, db);
  if (mismatch) throw mismatch;
  if (intent.newDatabase && db.hasData) {
    throw new StartupRefusedError(
      'database_exists',
      `--new-database: ${paths.database} already holds a node's data; move it away yourself if you really mean to start over`,
    );
  }
  if (identityExists && db.file !== 'present' && !intent.newDatabase) {
    const server = identityServerName(paths.identity);
    const what = db.file === 'missing' ? 'is missing' : 'is empty (0 bytes)';
    throw new StartupRefusedError(
      'database_missing',
      `${paths.database} ${what} but ${paths.root} has the identity${server ? ` of ${server}` : ''}: put paracord.db back from your backup, ` +
        `or start with --new-database to begin again with an empty one (rooms, peers and history are not recovered)`,
    );
  }
}
