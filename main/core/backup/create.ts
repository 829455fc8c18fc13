/**
 * A consistent online backup of a data directory into one archive (archive.ts).
 *
 * The database is copied with SQLite's online backup API (better-sqlite3 `backup()`), which
 * works while the node runs: from the node's own connection (scheduled backups) or from a
 * second connection in another process (the CLI), since the database is in WAL mode. The other
 * files of the data dir (identity, admin token, TLS certificate and key, and any other file
 * the node keeps there) are read as they are; logs, the runtime file and locks are left out.
 *
 * The archive is written to a temporary file next to FILE (an unpredictable name, created
 * exclusively, 0600: util/atomic-file.ts) and renamed to FILE only once complete and on disk, so
 * a backup killed half-way leaves the previous FILE untouched; the next backup removes what it
 * left. A folder any user may write into (no sticky bit) is refused: another local user could
 * swap the file (SECURITY.md "A local user on the same machine").
 *
 * The database copy is staged inside the data directory (0700, which already holds the same
 * data), never next to FILE: the output folder is often a USB stick, a NAS or a synced folder,
 * and an encrypted backup must not put a plaintext copy of every message there, not even for
 * a moment (SECURITY.md "Operations"). A staging folder left by a killed backup is removed by
 * the next backup and when the node starts (removeStaleStaging). The output may not be inside
 * the data directory (backupTargetProblem): `--out DATA/paracord.db` would replace the live
 * database with the archive.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, realpathSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { isProcessAlive } from '../util/process-alive.ts';
import { createTempNextTo } from '../util/atomic-file.ts';
import { createReason, fsErrorCode, fsReason } from '../util/fs-reason.ts';
import Database from 'better-sqlite3';
import { dataDirPaths } from '../data-dir.ts';
import { VERSION } from '../version.ts';
import type { Db } from '../store/database.ts';
import { ARCHIVE_FORMAT, ArchiveWriter, BackupError, FORMAT_VERSION, MAGIC, type Manifest, type ManifestFile } from './archive.ts';

export const DATABASE_ENTRY = 'paracord.db';
/** Top-level entries of a data dir that are not part of a backup. */
const EXCLUDED_DIRS = new Set(['logs', 'backups']);
/** The database and the search index's file (derived: rebuilt from the events after a restore). */
const EXCLUDED_FILE = /^(paracord(-search)?\.db(-wal|-shm|-journal)?|node\.json)$|\.tmp|\.lock$|^\.paracord-/;
/** Other files above this size are not node state (someone's stray file): refused, not archived. */
const MAX_SIDE_FILE = 16 * 1024 * 1024;

export interface CreateBackupOptions {
  dataDir: string;
  out: string;
  /** Encrypts the archive with a key derived from it; plaintext archive without. */
  passphrase?: Buffer | null;
  /** The running node's own connection (scheduled backups); else a second connection is opened. */
  db?: Db;
  /** A portable identity.json to store instead of the file (keys sealed at rest by the desktop app). */
  identityText?: string;
  now?: number;
}

export interface BackupResult {
  file: string;
  size: number;
  manifest: Manifest;
  warnings: string[];
}

/** The data dir's files that go into a backup (besides the database), relative, sorted. */
export function sideFiles(dataDir: string, exclude: readonly string[] = []): string[] {
  const root = resolve(dataDir);
  const skip = new Set(exclude.map((p) => resolve(p)));
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    for (const name of readdirSync(dir).sort()) {
      const full = join(dir, name);
      if (skip.has(full) || EXCLUDED_FILE.test(name)) continue;
      const stat = lstatSync(full);
      if (stat.isDirectory()) {
        if (depth === 0 && !EXCLUDED_DIRS.has(name)) walk(full, 1);
      } else if (stat.isFile()) {
        found.push(relative(root, full).split(sep).join('/'));
      }
    }
  };
  walk(root, 0);
  return found;
}

function sha256File(file: string): string {
  const hash = createHash('sha256');
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(1024 * 1024);
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  return hash.digest('hex');
}

/** Opens a second connection to a node's database, for the online backup (no migrations run). */
function openSecondConnection(file: string): Db {
  try {
    const db = new Database(file, { fileMustExist: true });
    db.pragma('busy_timeout = 10000');
    return db;
  } catch (error) {
    throw new BackupError(`cannot open the database ${file}: ${(error as Error).message}`);
  }
}

/** Staging folders in the data dir: `.paracord-backup-<pid>-XXXXXX` (the pid tells a live one). */
const STAGING_PREFIX = '.paracord-backup-';
const STAGING_NAME = /^\.paracord-backup-(\d+)-[A-Za-z0-9]{6}$/;
/** What versions before 0.1 left next to the output file (a plaintext database): removed on sight. */
const LEGACY_STAGING_NAME = /^\.paracord-backup-[A-Za-z0-9]{6}$/;
/** Staging folders this process is using right now. */
const stagingHere = new Set<string>();

/** Removes the folders (not followed: a symbolic link is none) of this process's user in `dir` whose names `stale` picks; what it removed. */
export function removeFoldersWhere(dir: string, stale: (name: string) => boolean): string[] {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    if (!stale(name)) continue;
    const full = join(dir, name);
    try {
      const stat = lstatSync(full);
      if (!stat.isDirectory() || (uid !== undefined && stat.uid !== uid)) continue;
      rmSync(full, { recursive: true, force: true });
      removed.push(full);
    } catch {
      // gone meanwhile, or not ours to remove
    }
  }
  return removed;
}

/**
 * Removes staging folders of backups that were killed: in the data dir those whose process is
 * gone, and in `outputDir` (a backup's folder) the plaintext copies older versions left there.
 * Returns what it removed.
 */
export function removeStaleStaging(dataDir: string, outputDir?: string): string[] {
  const removed: string[] = [];
  const sweep = (dir: string, stale: (name: string) => boolean) => {
    removed.push(...removeFoldersWhere(dir, (name) => name.startsWith(STAGING_PREFIX) && !stagingHere.has(join(dir, name)) && stale(name)));
  };
  sweep(resolve(dataDir), (name) => {
    const pid = Number(STAGING_NAME.exec(name)?.[1] ?? NaN);
    return Number.isSafeInteger(pid) && (pid === process.pid || !isProcessAlive(pid));
  });
  if (outputDir !== undefined) {
    // Only a folder holding nothing but a (partial) database copy: never anything else.
    sweep(resolve(outputDir), (name) => {
      if (!LEGACY_STAGING_NAME.test(name)) return false;
      try {
        return readdirSync(join(outputDir, name)).every((entry) => /^paracord\.db(-journal)?$/.test(entry));
      } catch {
        return false;
      }
    });
  }
  return removed;
}

/** Temporary files of backups into `out` (createTempNextTo) whose writer is gone: removed. Never another user's file. */
function removeStaleTemps(out: string): void {
  const prefix = `${basename(out)}.`;
  let names: string[];
  try {
    names = readdirSync(dirname(out));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const pid = Number(/^(\d+)-[0-9a-f]{16}\.tmp$/.exec(name.slice(prefix.length))?.[1] ?? NaN);
    if (!Number.isSafeInteger(pid) || (pid !== process.pid && isProcessAlive(pid))) continue;
    const full = join(dirname(out), name);
    try {
      const stat = lstatSync(full);
      if (stat.isFile() && (process.getuid === undefined || stat.uid === process.getuid())) unlinkSync(full);
    } catch {
      // gone meanwhile
    }
  }
}

/**
 * Why the folder `dir` is no place to write a backup, or null: any user of this machine may
 * create, rename and remove files in it (world-writable, or writable by a group that is not
 * ours, without the sticky bit of /tmp), so another local user could swap the archive.
 */
export function unsafeFolderProblem(dir: string): string | null {
  return unsafeFolder(dir)?.message ?? null;
}

/** Why a backup folder is not safe, as a code the UI words (`other_owner`, `writable_by_others`) and the sentence; null when it is. */
export function unsafeFolder(dir: string): { reason: 'other_owner' | 'writable_by_others'; message: string } | null {
  if (process.platform === 'win32') return null;
  const stat = statSync(dir);
  // Its owner can rename, remove or replace whatever is in it, sticky bit or not (as ssh asks of ~/.ssh).
  const me = process.getuid?.();
  if (me !== undefined && stat.uid !== me && stat.uid !== 0) {
    return { reason: 'other_owner', message: `${dir} belongs to another user (uid ${stat.uid}), who could replace or remove a backup there: choose a folder of your own` };
  }
  if (stat.mode & 0o1000) return null;
  const others = stat.mode & 0o002 ? 'every user of this machine' : stat.mode & 0o020 && stat.gid !== process.getgid?.() ? `the users of group ${stat.gid}` : null;
  if (!others) return null;
  return { reason: 'writable_by_others', message: `${dir} can be written by ${others}, who could replace or remove a backup there: choose a folder only you can write (or chmod o-w,g-w ${dir})` };
}

/** The real path of `dir`, following symbolic links; for a missing folder, of its nearest existing parent. */
function realDir(dir: string): string {
  const full = resolve(dir);
  try {
    return realpathSync(full);
  } catch {
    const parent = dirname(full);
    return parent === full ? full : join(realDir(parent), basename(full));
  }
}

/**
 * Why `out` (a backup file, or with `isDir` a backup folder) may not be used: it is inside the
 * data directory (or is it). Null when it is fine. Symbolic links are followed.
 */
export function backupTargetProblem(dataDir: string, out: string, isDir = false): string | null {
  const root = realDir(dataDir);
  const target = isDir ? realDir(out) : join(realDir(dirname(resolve(out))), basename(resolve(out)));
  const rel = relative(root, target);
  if (rel === '' || (!rel.startsWith('..') && !rel.startsWith(sep) && !/^[A-Za-z]:/.test(rel))) {
    return `${resolve(out)} is inside the data directory ${resolve(dataDir)}: put backups somewhere else (another disk is best), never in the folder they back up`;
  }
  return null;
}

/**
 * Why an existing `out` is not replaced, or null: only a Paracord backup (its file starts as one)
 * is. A backup written over any other file replaced it (a review, 2026-12-01: `out` may name any
 * absolute path, a document included); a link, a folder or a device is never replaced either.
 */
function notReplaceableProblem(out: string): string | null {
  let fd: number;
  try {
    fd = openSync(out, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    const code = fsErrorCode(error);
    if (code === 'ENOENT') return null;
    // A link (ELOOP) or a device or socket (ENXIO) is no backup; anything else could not be read.
    if (code === 'ELOOP' || code === 'ENXIO') return `${out} exists and is not a Paracord backup (${fsReason(error)}): it is not replaced; choose another file name`;
    return `${out} exists and could not be read to check that it is a Paracord backup (${fsReason(error)}): it is not replaced; choose another file name`;
  }
  try {
    const start = Buffer.alloc(MAGIC.length);
    const isBackup = fstatSync(fd).isFile() && readSync(fd, start, 0, start.length, 0) === start.length && start.equals(MAGIC);
    return isBackup ? null : `${out} exists and is not a Paracord backup: it is not replaced; choose another file name`;
  } finally {
    closeSync(fd);
  }
}

export async function createBackup(options: CreateBackupOptions): Promise<BackupResult> {
  const paths = dataDirPaths(options.dataDir);
  const out = resolve(options.out);
  const warnings: string[] = [];
  let identityText: string;
  try {
    identityText = options.identityText ?? readFileSync(paths.identity, 'utf8');
  } catch {
    throw new BackupError(`${paths.root} has no identity.json: nothing to back up there (is --data right?)`);
  }
  let identity: { server_name?: unknown; active?: { key_id?: unknown }; sealed_by?: unknown };
  try {
    identity = JSON.parse(identityText) as typeof identity;
  } catch {
    throw new BackupError(`${paths.identity} is not valid JSON; the identity is damaged`);
  }
  if (typeof identity.server_name !== 'string' || typeof identity.active?.key_id !== 'string') throw new BackupError(`${paths.identity} is not an identity file`);
  if (typeof identity.sealed_by === 'string') {
    warnings.push(`the keys are sealed by ${identity.sealed_by}: this backup restores only where that keychain is (use the app's "Download a backup of your keys" for a portable copy)`);
  }
  try {
    statSync(paths.database);
  } catch {
    throw new BackupError(`${paths.root} has no database (paracord.db): nothing to back up there`);
  }
  const inside = backupTargetProblem(paths.root, out);
  if (inside) throw new BackupError(inside);
  // A folder is not a file name: the archive would be written next to it, then fail to replace it.
  if (/[\\/]$/.test(options.out) || isDirectory(out)) {
    throw new BackupError(`${out} is a folder: give the backup file's name, for example ${join(out, backupFileName(identity.server_name, options.now ?? Date.now()))}`);
  }
  try {
    if (!statSync(dirname(out)).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new BackupError(`cannot write ${out}: the folder ${dirname(out)} does not exist`);
  }
  const unsafe = unsafeFolderProblem(dirname(out));
  if (unsafe) throw new BackupError(`cannot write ${out}: ${unsafe}`);
  const taken = notReplaceableProblem(out);
  if (taken) throw new BackupError(taken);
  removeStaleStaging(paths.root, dirname(out));
  removeStaleTemps(out);

  // Private to this user (0700 in the 0700 data dir), named by our pid so a later sweep knows it is live.
  const staging = mkdtempSync(join(paths.root, `${STAGING_PREFIX}${process.pid}-`));
  stagingHere.add(staging);
  let temp: string | null = null;
  let ownDb: Db | null = null;
  try {
    ownDb = options.db ? null : openSecondConnection(paths.database);
    const db = options.db ?? ownDb!;
    const schemaVersion = db.pragma('user_version', { simple: true }) as number;
    const stagedDb = join(staging, DATABASE_ENTRY);
    writeFileSync(stagedDb, '', { flag: 'wx', mode: 0o600 });
    // After the first step, copy everything that is left in one step (one read transaction).
    await db.backup(stagedDb, { progress: () => 0x7fffffff });
    ownDb?.close();

    const files: Array<ManifestFile & { source: string | Buffer }> = [
      { path: DATABASE_ENTRY, size: statSync(stagedDb).size, sha256: sha256File(stagedDb), source: stagedDb },
    ];
    for (const path of sideFiles(paths.root, [out, staging])) {
      const full = join(paths.root, ...path.split('/'));
      if (statSync(full).size > MAX_SIDE_FILE) {
        warnings.push(`${path} is larger than ${MAX_SIDE_FILE / 1024 / 1024} MiB and is not node state: left out`);
        continue;
      }
      const data = path === 'identity.json' ? Buffer.from(identityText) : readFileSync(full);
      files.push({ path, size: data.length, sha256: createHash('sha256').update(data).digest('hex'), source: data });
    }
    const manifest: Manifest = {
      format: ARCHIVE_FORMAT,
      format_version: FORMAT_VERSION,
      server_name: identity.server_name,
      key_id: identity.active.key_id,
      created_at: options.now ?? Date.now(),
      node_version: VERSION,
      schema_version: schemaVersion,
      encrypted: Boolean(options.passphrase),
      files: files.map(({ path, size, sha256 }) => ({ path, size, sha256 })),
    };

    let created;
    try {
      created = createTempNextTo(out);
    } catch (error) {
      throw new BackupError(`cannot write ${out}: ${createReason(error)}`);
    }
    temp = created.temp;
    const fd = created.fd;
    try {
      const writer = new ArchiveWriter(fd, options.passphrase ?? null);
      const manifestBytes = Buffer.from(JSON.stringify(manifest));
      const length = Buffer.alloc(4);
      length.writeUInt32LE(manifestBytes.length);
      writer.write(length);
      writer.write(manifestBytes);
      for (const file of files) {
        if (Buffer.isBuffer(file.source)) {
          writer.write(file.source);
          continue;
        }
        const input = openSync(file.source, 'r');
        try {
          let copied = 0;
          for (;;) {
            const buffer = Buffer.alloc(1024 * 1024);
            const n = readSync(input, buffer, 0, buffer.length, null);
            if (n === 0) break;
            copied += n;
            writer.write(buffer.subarray(0, n));
          }
          if (copied !== file.size) throw new BackupError(`${file.path} changed size while being archived`);
        } finally {
          closeSync(input);
        }
      }
      writer.finish();
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    // Checked again at the last moment: a file made there meanwhile is not replaced either.
    const takenMeanwhile = notReplaceableProblem(out);
    if (takenMeanwhile) throw new BackupError(takenMeanwhile);
    renameSync(temp, out);
    syncDir(dirname(out));
    return { file: out, size: statSync(out).size, manifest, warnings };
  } catch (error) {
    try {
      if (temp) unlinkSync(temp);
    } catch {
      // renamed, or already gone
    }
    // The disk filling up while the archive is written, or the rename refused: said in words.
    if (temp && fsErrorCode(error) !== null) throw new BackupError(`cannot write ${out}: ${fsReason(error)}`);
    throw error;
  } finally {
    if (ownDb?.open) ownDb.close();
    rmSync(staging, { recursive: true, force: true });
    stagingHere.delete(staging);
  }
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Makes a rename durable (no-op where directories cannot be opened, e.g. Windows). */
export function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // best effort
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** `paracord-<server>-<UTC yyyymmdd-hhmmss.mmm>Z.pcbak`, sortable by time. */
export function backupFileName(serverName: string, at: number): string {
  // Milliseconds too: two backups in one second must not overwrite each other.
  const stamp = new Date(at).toISOString().replace(/[-:]/g, '').replace('T', '-');
  return `paracord-${serverName.replace(/[^A-Za-z0-9.-]/g, '_')}-${stamp}.pcbak`;
}

export const BACKUP_FILE_PATTERN = /^paracord-.+-\d{8}-\d{6}\.\d{3}Z\.pcbak$/;
