import Database from 'better-sqlite3';
import { chmodSync, existsSync } from 'node:fs';
import { cacheStatements, type Db } from './connection.ts';
import { runMigrations } from './migrations.ts';

export { inOneRead, openConnection, transactionWithoutFsync, type Db } from './connection.ts';

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
  cacheStatements(db);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  // Statement journals and the search index's merge scratch in memory, not as files created and
  // removed in /var/tmp many times a second under load (issue #17).
  db.pragma('temp_store = MEMORY');
  runMigrations(db);
  // Keeps the query planner's statistics current (cheap; analyses only what needs it).
  db.pragma('optimize=0x10002');
  dropValueSamples(db);
  return db;
}

/**
 * Keeps the planner's statistics (sqlite_stat1: rows per index key) without their per-value
 * samples (sqlite_stat4, which better-sqlite3's SQLite gathers with every ANALYZE). With samples,
 * a statement comparing an indexed column to a parameter is planned for the value bound, so
 * SQLite marks it to be compiled again whenever that parameter is bound anew — and better-sqlite3
 * binds anew on every run. A node restarted with a history paid that on its hottest statements
 * (the membership check of every received event: 19.7 against 2.5 µs a run; docs/PERFORMANCE.md).
 * The node's queries name their indexes or are plain key lookups: the samples chose nothing better.
 */
function dropValueSamples(db: Db): void {
  if (!db.prepare("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat4'").get()) return;
  if (!db.prepare('SELECT 1 FROM sqlite_stat4 LIMIT 1').get()) return;
  db.exec('DELETE FROM sqlite_stat4');
  // Loads the statistics again: the connection forgets the samples it read.
  db.exec('ANALYZE sqlite_schema');
}
