/**
 * A node's data directory before any service uses it: initialized (identity and server name),
 * locked (one node per directory), checked (no silent fresh start over a lost identity or
 * database, startup-checks.ts) and its database opened.
 */
import { removeStaleStaging } from '../backup/create.ts';
import type { NodeConfig } from '../config.ts';
import { lockDataDir, StartupRefusedError, type DataDirLock } from '../data-dir-lock.ts';
import { dataDirPaths, ensureDataDir, type DataDirPaths } from '../data-dir.ts';
import { Identity, type KeySealer } from '../identity/identity.ts';
import { checkDataDir, identityMismatch, inspectDatabase, lostIdentity, type StartIntent } from '../startup-checks.ts';
import { openDatabase, type Db } from '../store/database.ts';
import { Settings } from '../store/settings.ts';
import { START_ID_GAP, moveIdCursorsPast } from '../store/id-cursors.ts';

/**
 * Initializes a data dir: identity (new, or restored from a backup) and server name; with a
 * sealer the seeds are sealed at rest. Refuses a different name on an initialized dir.
 */
export async function initDataDir(dataDir: string, serverName: string, identityBackup?: string, sealer?: KeySealer, intent: StartIntent = {}): Promise<Identity> {
  const paths = dataDirPaths(dataDir);
  ensureDataDir(paths);
  if (Identity.exists(paths.identity)) {
    const identity = await Identity.open(paths.identity, sealer);
    if (identity.serverName !== serverName) {
      throw new Error(`${paths.root} is already initialized as ${identity.serverName}`);
    }
    const mismatch = identityMismatch(paths);
    if (mismatch) throw mismatch;
    return identity;
  }
  const refusal = lostIdentity(paths, { ...intent, restoringBackup: identityBackup !== undefined });
  if (refusal) throw refusal;
  const stored = inspectDatabase(paths.database).serverName;
  if (stored !== null && stored !== serverName) throw new StartupRefusedError('identity_mismatch', `${paths.database} holds the data of ${stored}, not ${serverName}`);
  const db = openDatabase(paths.database);
  try {
    new Settings(db).set('server_name', serverName);
  } finally {
    db.close();
  }
  try {
    const created = identityBackup ? Identity.restore(paths.identity, identityBackup) : Identity.create(paths.identity, serverName);
    return sealer ? await Identity.open(paths.identity, sealer) : created;
  } catch (error) {
    // No identity file came of it (a full disk, a backup that could not be written): the name is
    // not kept either, so that a setup under another name is not refused as another server's (a
    // review, 2026-12-01). The first failure is the one said, whatever the undo meets.
    if (!Identity.exists(paths.identity) && stored === null) {
      try {
        const undo = openDatabase(paths.database);
        try {
          undo.prepare("DELETE FROM settings WHERE key = 'server_name'").run();
        } finally {
          undo.close();
        }
      } catch {
        // (The name stays; the setup's own error is said.)
      }
    }
    throw error;
  }
}

/**
 * Locks the data dir, checks it and opens its database. A node whose lock is taken away stops
 * serving (`onLockLost`): never two nodes on one directory.
 */
export function openDataDir(paths: DataDirPaths, config: NodeConfig, onLockLost: (error: Error) => void): { lock: DataDirLock; db: Db } {
  const lock = lockDataDir(paths, onLockLost, { staleMs: config.dataDirLockStaleMs });
  let db: Db;
  try {
    checkDataDir(paths, config);
    db = openDatabase(paths.database);
  } catch (error) {
    lock.release();
    throw error;
  }
  try {
    // Ids a friend may hold that a power cut took back are not handed out again (store/id-cursors.ts).
    moveIdCursorsPast(db, START_ID_GAP);
  } catch (error) {
    db.close();
    lock.release();
    throw error;
  }
  // A backup killed half-way left its staging copy of the database here (backup/create.ts).
  removeStaleStaging(paths.root);
  return { lock, db };
}
