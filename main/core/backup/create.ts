/**
 * A consistent online backup of a data directory into one archive (archive.ts).
 *
 * The database is copied with SQLite's online backup API (better-sqlite3 `backup()`), which
 * works while the node runs: from the node's own connection (scheduled backups) or from a
 * second connection in another process (the CLI), since the database is in WAL mode. The other
 * files of the data dir (identity, admin token, TLS certificate and key, and any other file
 * the node keeps there) are read as they are; logs, the runtime file and locks are left out.
 *
 * The archive is written to FILE.tmp and renamed to FILE only once complete and on disk, so a
 * backup killed half-way leaves the previous FILE untouched.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, lstatSync, mkdtempSync, openSync, readFileSync, readSync, readdirSync, renameSync, rmSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import Database from 'better-sqlite3';
import { dataDirPaths } from '../data-dir.ts';
import { VERSION } from '../version.ts';
import type { Db } from '../store/database.ts';
import { ARCHIVE_FORMAT, ArchiveWriter, BackupError, FORMAT_VERSION, type Manifest, type ManifestFile } from './archive.ts';

export const DATABASE_ENTRY = 'paracord.db';
/** Top-level entries of a data dir that are not part of a backup. */
const EXCLUDED_DIRS = new Set(['logs', 'backups']);
const EXCLUDED_FILE = /^(paracord\.db(-wal|-shm|-journal)?|node\.json)$|\.tmp|\.lock$|^\.paracord-/;
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
  try {
    if (!statSync(dirname(out)).isDirectory()) throw new Error('not a directory');
  } catch {
    throw new BackupError(`cannot write ${out}: the folder ${dirname(out)} does not exist`);
  }

  const staging = mkdtempSync(join(dirname(out), '.paracord-backup-'));
  const temp = `${out}.tmp`;
  const ownDb = options.db ? null : openSecondConnection(paths.database);
  try {
    const db = options.db ?? ownDb!;
    const schemaVersion = db.pragma('user_version', { simple: true }) as number;
    const stagedDb = join(staging, DATABASE_ENTRY);
    // After the first step, copy everything that is left in one step (one read transaction).
    await db.backup(stagedDb, { progress: () => 0x7fffffff });
    ownDb?.close();

    const files: Array<ManifestFile & { source: string | Buffer }> = [
      { path: DATABASE_ENTRY, size: statSync(stagedDb).size, sha256: sha256File(stagedDb), source: stagedDb },
    ];
    for (const path of sideFiles(paths.root, [out, temp, staging])) {
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

    const fd = openSync(temp, 'w', 0o600);
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
    renameSync(temp, out);
    syncDir(dirname(out));
    return { file: out, size: statSync(out).size, manifest, warnings };
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // not written yet
    }
    throw error;
  } finally {
    if (ownDb?.open) ownDb.close();
    rmSync(staging, { recursive: true, force: true });
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
