/**
 * Verifies and restores a backup archive (archive.ts). A restore writes into a temporary
 * folder next to the target, checks every file against the manifest and the archive's end,
 * and only then renames the folder into place: a wrong passphrase, a truncated or damaged
 * archive leaves nothing behind. The target must not exist or be an empty folder, so a backup
 * is never restored over a live node's data.
 */
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fsyncSync, mkdirSync, openSync, readFileSync, readdirSync, renameSync, rmSync, rmdirSync, statSync, writeSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { z } from 'zod';
import { ARCHIVE_FORMAT, ArchiveReader, BackupError, FORMAT_VERSION, openForReading, type Manifest } from './archive.ts';
import { removeFoldersWhere, syncDir } from './create.ts';
import { MIGRATIONS } from '../store/migrations.ts';
import { recordBackupInDatabase } from './records.ts';
import { markRestoredInDatabase } from './restored-mark.ts';
import { createReason, fsErrorCode, fsReason, makeFolders } from '../util/fs-reason.ts';
import { moveIdCursorsPast } from '../store/id-cursors.ts';
import { isProcessAlive } from '../util/process-alive.ts';

const LATEST_SCHEMA = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

const MAX_MANIFEST = 1024 * 1024;
const SAFE_PATH = /^(?!.*(^|\/)\.\.?(\/|$))[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)?$/;

const manifestSchema = z.object({
  format: z.literal(ARCHIVE_FORMAT),
  format_version: z.literal(FORMAT_VERSION),
  server_name: z.string().min(1).max(255),
  key_id: z.string().min(1).max(64),
  created_at: z.number().int().nonnegative(),
  node_version: z.string().max(64),
  schema_version: z.number().int().nonnegative(),
  encrypted: z.boolean(),
  files: z
    .array(z.object({ path: z.string().regex(SAFE_PATH), size: z.number().int().nonnegative().max(2 ** 50), sha256: z.string().regex(/^[0-9a-f]{64}$/) }))
    .min(1)
    .max(10_000),
});

type Sink = { open(path: string): void; write(data: Buffer): void; close(): void };

/** Reads a whole archive, handing each file's bytes to `sink`; throws a BackupError on any defect. */
function readArchive(input: string, passphrase: Buffer | null, sink?: Sink): Manifest {
  const fd = openForReading(input);
  try {
    const reader = new ArchiveReader(fd);
    reader.unlock(passphrase);
    const length = reader.read(4).readUInt32LE(0);
    if (length === 0 || length > MAX_MANIFEST) throw new BackupError('the backup manifest has an impossible size: the file is damaged');
    let raw: unknown;
    try {
      raw = JSON.parse(reader.read(length).toString('utf8'));
    } catch {
      throw new BackupError('the backup manifest is not JSON: the file is damaged');
    }
    const parsed = manifestSchema.safeParse(raw);
    if (!parsed.success) throw new BackupError(`the backup manifest is not valid (${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message})`);
    const manifest = parsed.data as Manifest;
    if (manifest.encrypted !== reader.encrypted) throw new BackupError(`the backup manifest says the file is ${manifest.encrypted ? 'encrypted' : 'not encrypted'}, and it is ${reader.encrypted ? 'encrypted' : 'not'}: the file was altered`);
    if (manifest.schema_version > LATEST_SCHEMA) {
      throw new BackupError(`this backup was made by paracord-node ${manifest.node_version} (database schema ${manifest.schema_version}); this one reads schema ${LATEST_SCHEMA} at most: upgrade paracord-node first`);
    }
    const paths = new Set(manifest.files.map((f) => f.path));
    if (paths.size !== manifest.files.length) throw new BackupError('the backup manifest lists a file twice: the file is damaged');
    for (const path of paths) {
      const folder = path.split('/')[0]!;
      if (folder !== path && paths.has(folder)) throw new BackupError(`the backup manifest lists ${folder} both as a file and as a folder: the file is damaged`);
    }
    for (const required of ['paracord.db', 'identity.json']) {
      if (!paths.has(required)) throw new BackupError(`the backup has no ${required}: it cannot restore a node`);
    }
    for (const file of manifest.files) {
      const hash = createHash('sha256');
      sink?.open(file.path);
      let left = file.size;
      while (left > 0) {
        const chunk = reader.read(Math.min(left, 1024 * 1024));
        hash.update(chunk);
        sink?.write(chunk);
        left -= chunk.length;
      }
      sink?.close();
      if (hash.digest('hex') !== file.sha256) throw new BackupError(`${file.path} in the backup does not match its checksum: the file is damaged`);
    }
    reader.finish();
    return manifest;
  } finally {
    closeSync(fd);
  }
}

/**
 * Checks that what a restore wrote into `dir` is the node its manifest names, before it is
 * renamed into place: identity.json of the manifest's server and key, and a database SQLite can
 * read, of a schema this version knows, holding that server's data (or none yet). An archive
 * whose frames and checksums are whole can still carry something else (made by hand, or the
 * copy of a damaged database); the node would then refuse to start on the restored folder.
 */
function readIdentity(file: string): { server_name?: unknown; active?: { key_id?: unknown } } | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { server_name?: unknown; active?: { key_id?: unknown } } | null;
  } catch {
    return null;
  }
}

function checkRestoredNode(dir: string, manifest: Manifest): void {
  const identity = readIdentity(join(dir, 'identity.json'));
  const name = identity?.server_name;
  const keyId = identity?.active?.key_id;
  if (typeof name !== 'string' || typeof keyId !== 'string') throw new BackupError('the identity.json in the backup is not an identity file: the backup is damaged');
  if (name !== manifest.server_name || keyId !== manifest.key_id) {
    throw new BackupError(`the identity.json in the backup is ${name}'s (key ${keyId}), but the backup says it is ${manifest.server_name}'s (key ${manifest.key_id}): the backup is damaged or was not made by paracord-node`);
  }
  let db: Database.Database | null = null;
  try {
    // Read-write (nothing is written): the last connection to close removes the -wal and -shm
    // files it made, so the folder holds what the archive held and nothing more.
    db = new Database(join(dir, 'paracord.db'), { fileMustExist: true });
    const check = db.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new BackupError(`the database in the backup is damaged (${String(check)})`);
    const schema = db.pragma('user_version', { simple: true }) as number;
    if (schema > LATEST_SCHEMA) {
      throw new BackupError(`the database in the backup has schema ${schema}; this paracord-node reads schema ${LATEST_SCHEMA} at most: upgrade paracord-node first`);
    }
    const hasSettings = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'settings'`).get() !== undefined;
    const stored = hasSettings ? (db.prepare(`SELECT value FROM settings WHERE key = 'server_name'`).get() as { value: string } | undefined)?.value : undefined;
    if (stored !== undefined && stored !== name) {
      throw new BackupError(`the database in the backup holds the data of ${stored}, but its identity.json is ${name}'s: the backup is damaged or was not made by paracord-node`);
    }
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new BackupError(`the database in the backup cannot be read (${(error as Error).message}): the backup is damaged`);
  } finally {
    db?.close();
  }
}

/** Reads and checks a whole archive without writing anything. */
export function verifyBackup(input: string, passphrase: Buffer | null): Manifest {
  return readArchive(resolve(input), passphrase);
}

/** Staging folders `.<name>.restoring-<pid>-<hex>` in `parent` whose process is gone: removed (ours only; never followed). */
function removeKilledRestores(parent: string, name: string): void {
  const pattern = new RegExp(`^\\.${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.restoring-(\\d+)-[0-9a-f]{8}$`);
  removeFoldersWhere(parent, (entry) => {
    const pid = Number(pattern.exec(entry)?.[1] ?? Number.NaN);
    return Number.isSafeInteger(pid) && pid !== process.pid && !isProcessAlive(pid);
  });
}

/** Whether `dir` is absent or an empty directory; a reason otherwise. */
function checkTarget(dir: string): { exists: boolean } {
  let stat;
  try {
    stat = statSync(dir);
  } catch {
    return { exists: false };
  }
  if (!stat.isDirectory()) throw new BackupError(`refusing to restore into ${dir}: it is a file, not a folder`);
  if (readdirSync(dir).length > 0) {
    throw new BackupError(`refusing to restore into ${dir}: it is not empty (it may hold a live node's data); restore into a new, empty folder`);
  }
  return { exists: true };
}

/**
 * The node this backup came from went on handing ids out after it (store/id-cursors.ts); restored,
 * its counters would hand the same ones out again (a helper's audit, 2026-11-28). So the restored
 * counters start far past anything the original could have handed out since; and, as one backup
 * may be restored twice (a trial restore that federated, then the real one), past a floor that
 * grows with the time of the restore (100 a millisecond: 1.8e14 in 2026, within the cursors' 15
 * digits), so the second restore's ids are not the first's (a red-team review, 2026-11-30).
 */
export const RESTORED_ID_GAP = 1_000_000_000;
export const restoredIdFloor = (now = Date.now()): number => Math.min(now * 100, 5e14); // a clock far off stays within 15 digits

function moveCursorsPastTheOriginal(databaseFile: string): void {
  const db = new Database(databaseFile, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    moveIdCursorsPast(db, RESTORED_ID_GAP, restoredIdFloor());
  } finally {
    db.close();
  }
}

export function restoreBackup(options: { dataDir: string; input: string; passphrase: Buffer | null }): Manifest {
  const target = resolve(options.dataDir);
  const input = resolve(options.input);
  checkTarget(target);
  const parent = dirname(target);
  // Folders it creates are private whatever the umask (as ensureDataDir makes them): in a
  // folder others may write into, they could rename the restored data folder and put theirs there.
  try {
    makeFolders(parent, 0o700);
  } catch (error) {
    throw new BackupError(`cannot restore into ${target}: cannot create the folder ${parent}: ${createReason(error)}`);
  }
  // The pid in the name tells a live restore's folder from a killed one's, which held the
  // decrypted keys, admin token and database for good (a red-team review, 2026-11-30): removed here.
  removeKilledRestores(parent, basename(target));
  const staging = join(parent, `.${basename(target)}.restoring-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    mkdirSync(staging, { mode: 0o700 });
  } catch (error) {
    throw new BackupError(`cannot restore into ${target}: ${createReason(error)}`);
  }
  let fd: number | null = null;
  const sink: Sink = {
    open(path) {
      const parts = path.split('/');
      if (parts.length > 1) mkdirSync(join(staging, ...parts.slice(0, -1)), { recursive: true, mode: 0o700 });
      fd = openSync(join(staging, ...parts), 'wx', 0o600);
    },
    write(data) {
      let offset = 0;
      while (offset < data.length) offset += writeSync(fd!, data, offset, data.length - offset);
    },
    close() {
      fsyncSync(fd!);
      closeSync(fd!);
      fd = null;
    },
  };
  try {
    const manifest = readArchive(input, options.passphrase, sink);
    checkRestoredNode(staging, manifest);
    // The restored node's last backup is the one it was restored from (its dashboard said "No
    // backup yet", or named a backup older than this one).
    recordBackupInDatabase(join(staging, 'paracord.db'), manifest.created_at, input, manifest.encrypted);
    moveCursorsPastTheOriginal(join(staging, 'paracord.db'));
    // What the original sent after this backup, its rooms' members still hold: the restored node
    // asks them for its own events at its next start (rooms/own-recovery.ts).
    markRestoredInDatabase(join(staging, 'paracord.db'), manifest.server_name, manifest.created_at);
    // Checked again: someone may have put files there while we were reading.
    const { exists } = checkTarget(target);
    if (exists) rmdirSync(target);
    chmodSync(staging, 0o700);
    renameSync(staging, target);
    syncDir(parent);
    return manifest;
  } catch (error) {
    if (fd !== null) closeSync(fd);
    rmSync(staging, { recursive: true, force: true });
    // The disk filling up (or refusing a file) while the archive is written out: said in words.
    if (fsErrorCode(error) !== null) throw new BackupError(`cannot restore into ${target}: ${fsReason(error)}`);
    throw error;
  }
}
