import Database from 'better-sqlite3';
import { chmodSync, existsSync } from 'node:fs';
import { runMigrations } from './migrations.ts';

export type Db = Database.Database;

/**
 * Opens the node's SQLite file. WAL + synchronous=FULL: a commit is on disk before the
 * caller hears about it, which is what lets us acknowledge (2xx) only durable data.
 */
export function openDatabase(file: string): Db {
  const db = new Database(file);
  if (file !== ':memory:') {
    for (const suffix of ['', '-wal', '-shm']) {
      if (existsSync(file + suffix)) chmodSync(file + suffix, 0o600);
    }
  }
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  runMigrations(db);
  return db;
}
