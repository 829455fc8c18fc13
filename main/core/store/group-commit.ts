import type { Db } from './database.ts';
import type { WalSync } from './wal-sync.ts';

/** A failure of the database, as callers tell them apart (util/local-failure.ts): "not now", never a verdict. */
const rolledBackBatch = () => Object.assign(new Error('the database rolled this batch back'), { code: 'SQLITE_ABORT' });

type Job<T> = { run: (db: Db) => T; resolve: (value: T) => void; reject: (error: unknown) => void; committed?: ((value: T) => void) | undefined };

/**
 * Group commit (docs/ARCHITECTURE.md §Durability: group commit): writes requested in the same turn of the event loop share one
 * transaction. Each job runs in its own savepoint, so one job that throws rolls back only its
 * own writes and gets its own error; the others commit. Callers answer their HTTP request only
 * after the promise resolves, i.e. after the durable commit.
 *
 * With a WalSync, the fsync is taken off the event loop: transactions are committed without
 * waiting for the disk, and their jobs resolve once a WAL flush that started after their commit
 * has finished. Flushes do not overlap. Jobs that arrive while a flush is under way would wait for
 * the next flush anyway, so they are not committed one turn at a time: they wait, and all of them
 * are committed in one transaction the moment the flush ends, then flushed together (issue #17:
 * each transaction costs a WAL commit, index page writes and an FTS segment, whatever its size).
 * Without one, every commit waits for its own fsync (synchronous = FULL).
 *
 * Latency: the first job to arrive during a flush is still committed at once (one early commit
 * per flush), so a lone message is not held back by a flush it has nothing to do with. A job's
 * `committed` callback runs right after its transaction commits, before the WAL flush: work that
 * may safely start early (sending the event on, telling the UI of an event received) does not
 * wait for the disk, while the job's promise, i.e. every acknowledgement, still does.
 */
export class GroupCommit {
  private pending: Job<unknown>[] = [];
  private scheduled = false;
  private readonly db: Db;
  /** Transactions committed, jobs run and WAL flushes made (for the benchmark and tests). */
  readonly stats = { commits: 0, jobs: 0, syncs: 0 };
  private readonly walSync: WalSync | undefined;
  /** Settles the jobs of commits made since the last flush started. */
  private awaitingSync: Array<(error?: unknown) => void> = [];
  private syncing: Promise<void> | null = null;
  /** Whether a commit was made while the current flush runs (at most one early commit per flush). */
  private committedDuringSync = false;
  private readonly syncNormal;
  private readonly syncFull;

  /**
   * Called when a job or a whole commit was rolled back after it wrote (in-memory caches may be
   * stale). A job that throws before any write — a refused event, as every stranger may send —
   * leaves nothing to forget: caches change only with a write (or hold what was read), so the
   * caches stay, and a flood of refusals cannot empty them for everybody else.
   */
  onRollback?: () => void;
  /** Rows this connection changed so far (SQLite's total_changes(): never goes back, counts every completed write). */
  private readonly totalChangesStmt;

  /** One transaction (or, nested, savepoint) wrapper for every job: making one per job costs more than the savepoint. */
  private readonly inTransaction: (run: (db: Db) => unknown, db: Db) => unknown;

  constructor(db: Db, options: { walSync?: WalSync; onRollback?: () => void } = {}) {
    this.db = db;
    this.walSync = options.walSync;
    if (options.onRollback) this.onRollback = options.onRollback;
    this.inTransaction = db.transaction((run: (db: Db) => unknown, database: Db) => run(database));
    this.syncNormal = db.prepare('PRAGMA synchronous = NORMAL');
    this.syncFull = db.prepare('PRAGMA synchronous = FULL');
    this.totalChangesStmt = db.prepare<[], number>('SELECT total_changes()').pluck();
  }

  private totalChanges(): number {
    return this.totalChangesStmt.get()!;
  }

  /** After a savepoint was rolled back: what it wrote may be in caches, or SQLite rolled the whole transaction back. */
  private rolledBack(changesBefore: number): void {
    if (!this.onRollback) return;
    let wrote = true;
    try {
      wrote = this.totalChanges() !== changesBefore || !this.db.inTransaction;
    } catch {
      // the connection was closed meanwhile: told, and the job's own error stays the one thrown
    }
    if (wrote) this.onRollback();
  }

  /**
   * Runs `job` in the next group transaction; resolves once it is durable. `committed` (optional)
   * is called with the job's result as soon as the transaction has committed, before the flush:
   * only for work that is safe to do for data that a power cut could still take back.
   */
  run<T>(job: (db: Db) => T, committed?: (value: T) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run: job, resolve, reject, committed } as Job<unknown>);
      // During a WAL flush the jobs gather and the flush loop commits them when it ends; only
      // the first of them is committed at once.
      if (!this.scheduled && (!this.syncing || !this.committedDuringSync)) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const jobs = this.pending;
    this.pending = [];
    if (jobs.length === 0) return;
    const results: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      // Only this transaction skips SQLite's own fsync; every other write keeps synchronous = FULL.
      if (this.walSync) this.syncNormal.run();
      this.inTransaction(() => {
        for (const job of jobs) {
          // SQLite rolled the whole transaction back (a full disk, an I/O error in a job): a later job
          // run now would commit alone, while the failed commit below told its caller it failed
          // (a message stored, "not sent"; a helper's audit, 2026-11-28). None runs: all fail together.
          if (!this.db.inTransaction) {
            results.push({ ok: false, error: rolledBackBatch() });
            continue;
          }
          const changesBefore = this.onRollback ? this.totalChanges() : 0;
          try {
            results.push({ ok: true, value: this.inTransaction(job.run, this.db) });
          } catch (error) {
            results.push({ ok: false, error });
            this.rolledBack(changesBefore);
          }
        }
      }, this.db);
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nothing was stored, tell everyone.
      this.onRollback?.();
      for (const job of jobs) job.reject(error);
      return;
    } finally {
      try {
        if (this.walSync) this.syncFull.run();
      } catch {
        // the connection is closing; nothing more is committed through it
      }
    }
    this.stats.commits++;
    this.stats.jobs += jobs.length;
    if (this.syncing) this.committedDuringSync = true;
    jobs.forEach((job, index) => {
      const result = results[index]!;
      if (job.committed && result.ok) {
        try {
          job.committed(result.value);
        } catch {
          // the caller's early work failed; its job is committed all the same
        }
      }
    });
    const settle = (syncError?: unknown) =>
      jobs.forEach((job, index) => {
        const result = results[index]!;
        if (syncError !== undefined && result.ok) job.reject(syncError);
        else if (result.ok) job.resolve(result.value);
        else job.reject(result.error);
      });
    if (!this.walSync) return settle();
    this.awaitingSync.push(settle);
    if (!this.syncing) this.syncing = this.syncLoop();
  }

  /** Flushes the WAL until no commit is waiting for it (one flush at a time). */
  private async syncLoop(): Promise<void> {
    while (this.awaitingSync.length > 0) {
      const waiting = this.awaitingSync;
      this.awaitingSync = [];
      this.committedDuringSync = false;
      let failure: unknown;
      try {
        await this.walSync!.sync();
        this.stats.syncs++;
      } catch (error) {
        // Committed but not known to be on disk: the callers must not acknowledge it.
        failure = error ?? new Error('WAL flush failed');
      }
      for (const settle of waiting) settle(failure);
      // What arrived during the flush: one transaction now, made durable by the next round.
      if (this.pending.length > 0 && !this.scheduled) this.flush();
    }
    this.syncing = null;
    // A job queued by a settled caller after the last flush began and was committed above is
    // covered; one queued after that loop ended is scheduled here.
    if (this.pending.length > 0 && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Whether a transaction is open (a job's; SQLite may have rolled it back by itself: a full disk, an I/O error). */
  get transactionOpen(): boolean {
    return this.db.inTransaction;
  }

  /**
   * Inside a job: runs `run` in a savepoint of its own (the job's one transaction wrapper), so a
   * part of a job can fail alone. On failure the savepoint is rolled back, `onRollback` told (when
   * it had written), and the error rethrown.
   */

  savepoint<T>(run: () => T): T {
    // SQLite rolled the job's transaction back (a full disk, an I/O error) and the job goes on (a
    // batch stored one by one after its write failed): a "savepoint" now would be a transaction of
    // its own, committed at once, outside the job that then fails (a helper's review, 2026-11-30).
    if (!this.db.inTransaction) throw rolledBackBatch();
    const changesBefore = this.onRollback ? this.totalChanges() : 0;
    try {
      return this.inTransaction(run, this.db) as T;
    } catch (error) {
      this.rolledBack(changesBefore);
      throw error;
    }
  }

  /** Resolves when every commit made so far is durable and its jobs settled (before closing). */
  async drained(): Promise<void> {
    while (this.scheduled || this.syncing) {
      if (this.syncing) await this.syncing;
      else await new Promise((resolve) => setImmediate(resolve));
    }
  }
}
