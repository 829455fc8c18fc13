import Database from 'better-sqlite3';
import { chmodSync, existsSync } from 'node:fs';
import { runMigrations } from './migrations.ts';

export type Db = Database.Database;

/**
 * Opens the node's SQLite file. WAL + synchronous=FULL: a commit is on disk before the
 * caller hears about it, which is what lets us acknowledge (2xx) only durable data.
 */
/**
 * Every SQL text is compiled once: `prepare` returns the same statement for the same text.
 * Preparing is far costlier than running a simple statement, and the hot paths (ingest,
 * delivery) would otherwise prepare on every event.
 */
function cacheStatements(db: Db): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, ReturnType<typeof prepare>>();
  db.prepare = ((sql: string) => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = prepare(sql);
      cache.set(sql, statement);
    }
    return statement;
  }) as typeof db.prepare;
}

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
  runMigrations(db);
  // Keeps the query planner's statistics current (cheap; analyses only what needs it).
  db.pragma('optimize=0x10002');
  return db;
}
