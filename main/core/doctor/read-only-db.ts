/** The node's database as the doctor reads it (doctor.ts): read-only, and every read survives a database it cannot read. */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import type { DataDirPaths } from '../data-dir.ts';

export function openDb(paths: DataDirPaths): Database.Database | null {
  if (!existsSync(paths.database)) return null;
  try {
    const db = new Database(paths.database, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return db;
  } catch {
    return null;
  }
}

export function setting(db: Database.Database, key: string): string | undefined {
  try {
    return db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(key)?.value;
  } catch {
    return undefined;
  }
}

export function allowedPeerCount(db: Database.Database | null): number {
  try {
    return db?.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM federation_servers WHERE trust = 'allow'").get()?.n ?? 0;
  } catch {
    return 0;
  }
}
