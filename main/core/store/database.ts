import Database from 'better-sqlite3';
import { chmodSync, existsSync } from 'node:fs';
import { runMigrations } from './migrations.ts';
import { stablePlanSql } from './stable-plans.ts';

export type Db = Database.Database;

/**
 * Opens the node's SQLite file. WAL + synchronous=FULL: a commit is on disk before the
 * caller hears about it, which is what lets us acknowledge (2xx) only durable data.
 */
/**
 * Every SQL text is compiled once: `prepare` returns the same statement for the same text.
 * Preparing is far costlier than running a simple statement, and the hot paths (ingest,
 * delivery) would otherwise prepare on every event. Compiled as stablePlanSql writes it, so that
 * no run compiles it again (stable-plans.ts).
 */
function cacheStatements(db: Db): void {
  const prepare = db.prepare.bind(db);
  const cache = new Map<string, ReturnType<typeof prepare>>();
  db.prepare = ((sql: string) => {
    let statement = cache.get(sql);
    if (!statement) {
      statement = prepare(stablePlanSql(sql));
      cache.set(sql, statement);
    }
    return statement;
  }) as typeof db.prepare;
}

/**
 * Runs `run` in a transaction that commits without waiting for the disk (synchronous = NORMAL
 * for this commit only). For writes whose loss on a power failure is harmless because they are
 * redone or re-derived: a delivery's outcome (the event is sent again and the receiver drops the
 * copy), the attempts log. The next durable commit's WAL flush makes them durable too (the WAL is
 * written in order). A process crash loses nothing: the frames are in the OS already.
 */
export function transactionWithoutFsync<T>(db: Db, run: () => T): T {
  // Inside another transaction: part of it, durable as it is.
  if (db.inTransaction) return db.transaction(run)();
  db.prepare('PRAGMA synchronous = NORMAL').run();
  try {
    return db.transaction(run)();
  } finally {
    db.prepare('PRAGMA synchronous = FULL').run();
  }
}

/**
 * Runs `read`, which only reads, inside one read transaction: the statements share one WAL read
 * lock instead of taking and dropping one each. On this project's 2-core VM an autocommit read
 * costs ~7 µs of lock work alone (issue #17: three per event in a received batch, ~20 µs an event
 * against ~7 µs inside one transaction). Inside another transaction it just runs.
 */
export function inOneRead<T>(db: Db, read: () => T): T {
  if (db.inTransaction) return read();
  db.prepare('BEGIN').run();
  try {
    return read();
  } finally {
    // SQLite may have rolled the transaction back already (an I/O error in a write made on the way).
    if (db.inTransaction) db.prepare('COMMIT').run();
  }
}

/**
 * Another connection to a node's database made and migrated by openDatabase (a worker thread's:
 * rooms/search-worker.ts): the same statement cache and pragmas, no migrations.
 */
export function openConnection(file: string): Db {
  const db = new Database(file, { fileMustExist: true });
  cacheStatements(db);
  db.pragma('busy_timeout = 5000');
  db.pragma('temp_store = MEMORY');
  return db;
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
