/**
 * A connection to the node's SQLite file and the transaction helpers every store uses. Apart from
 * database.ts (which opens and migrates the file) so that a worker thread's connection
 * (rooms/search-worker.ts) loads neither the migrations nor what they import: each module a
 * worker loads is compiled again at every start (issue #36: the search worker's start cost
 * ~100 ms of CPU, ~40 ms of it the migrations' chunk, at every burst).
 */
import Database from 'better-sqlite3';
import { stablePlanSql } from './stable-plans.ts';

export type Db = Database.Database;

/**
 * Every SQL text is compiled once: `prepare` returns the same statement for the same text.
 * Preparing is far costlier than running a simple statement, and the hot paths (ingest,
 * delivery) would otherwise prepare on every event. Compiled as stablePlanSql writes it, so that
 * no run compiles it again (stable-plans.ts).
 */
export function cacheStatements(db: Db): void {
  cacheTransactions(db);
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

type TransactionFn = Database.Transaction<(...args: unknown[]) => unknown>;

/**
 * `db.transaction(fn)` made cheap: better-sqlite3 builds four wrappers and defines twenty
 * properties for every call (~23 µs on this project's 2-core VM, 2026-11-29), and the stores call
 * it for each write they make (a delivery's outcome, a read marker, a fold of the search index).
 * One wrapper of each kind is built once for the connection, and each call only closes over its
 * function: the same BEGIN or SAVEPOINT, COMMIT or RELEASE, rollback and promise check as before.
 */
function cacheTransactions(db: Db): void {
  const original = db.transaction.bind(db);
  const generic = original(function (this: unknown, fn: (...args: unknown[]) => unknown, args: unknown[]) {
    return fn.apply(this, args);
  }) as unknown as TransactionFn;
  db.transaction = ((fn: (...args: unknown[]) => unknown) => {
    if (typeof fn !== 'function') throw new TypeError('Expected first argument to be a function');
    const kind = (wrapper: (this: unknown, ...params: unknown[]) => unknown) =>
      function (this: unknown, ...args: unknown[]) {
        return wrapper.call(this, fn, args);
      };
    const wrapped = kind(generic.default);
    return Object.assign(wrapped, { default: wrapped, deferred: kind(generic.deferred), immediate: kind(generic.immediate), exclusive: kind(generic.exclusive), database: db });
  }) as typeof db.transaction;
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
