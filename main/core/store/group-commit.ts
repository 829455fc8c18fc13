import type { Db } from './database.ts';
import type { WalSync } from './wal-sync.ts';

type Job<T> = { run: (db: Db) => T; resolve: (value: T) => void; reject: (error: unknown) => void };

/**
 * Group commit (DESIGN.md §7): writes requested in the same turn of the event loop share one
 * transaction. Each job runs in its own savepoint, so one job that throws rolls back only its
 * own writes and gets its own error; the others commit. Callers answer their HTTP request only
 * after the promise resolves, i.e. after the durable commit.
 *
 * With a WalSync, the fsync is taken off the event loop: transactions are committed without
 * waiting for the disk, and their jobs resolve once a WAL flush that started after their commit
 * has finished. Flushes do not overlap; the commits made during one share the next.
 * Without one, every commit waits for its own fsync (synchronous = FULL).
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

  /** Called when a job or a whole commit was rolled back (in-memory caches may be stale). */
  onRollback?: () => void;

  /** One transaction (or, nested, savepoint) wrapper for every job: making one per job costs more than the savepoint. */
  private readonly inTransaction: (run: (db: Db) => unknown, db: Db) => unknown;

  constructor(db: Db, options: { walSync?: WalSync } = {}) {
    this.db = db;
    this.walSync = options.walSync;
    this.inTransaction = db.transaction((run: (db: Db) => unknown, database: Db) => run(database));
  }

  run<T>(job: (db: Db) => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.pending.push({ run: job, resolve, reject } as Job<unknown>);
      if (!this.scheduled) {
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
    // Only this transaction skips SQLite's own fsync; every other write keeps synchronous = FULL.
    if (this.walSync) this.db.prepare('PRAGMA synchronous = NORMAL').run();
    try {
      this.inTransaction(() => {
        for (const job of jobs) {
          try {
            results.push({ ok: true, value: this.inTransaction(job.run, this.db) });
          } catch (error) {
            results.push({ ok: false, error });
            this.onRollback?.();
          }
        }
      }, this.db);
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nothing was stored, tell everyone.
      this.onRollback?.();
      for (const job of jobs) job.reject(error);
      return;
    } finally {
      if (this.walSync) this.db.prepare('PRAGMA synchronous = FULL').run();
    }
    this.stats.commits++;
    this.stats.jobs += jobs.length;
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
      let failure: unknown;
      try {
        await this.walSync!.sync();
        this.stats.syncs++;
      } catch (error) {
        // Committed but not known to be on disk: the callers must not acknowledge it.
        failure = error ?? new Error('WAL flush failed');
      }
      for (const settle of waiting) settle(failure);
    }
    this.syncing = null;
  }

  /**
   * Inside a job: runs `run` in a savepoint of its own (the job's one transaction wrapper), so a
   * part of a job can fail alone. On failure the savepoint is rolled back, `onRollback` told, and
   * the error rethrown.
   */
  savepoint<T>(run: () => T): T {
    try {
      return this.inTransaction(run, this.db) as T;
    } catch (error) {
      this.onRollback?.();
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
