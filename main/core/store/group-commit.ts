import type { Db } from './database.ts';

type Job<T> = { run: (db: Db) => T; resolve: (value: T) => void; reject: (error: unknown) => void };

/**
 * Group commit (DESIGN.md §7): writes requested in the same turn of the event loop share one
 * transaction, hence one fsync. Each job runs in its own savepoint, so one job that throws
 * rolls back only its own writes and gets its own error; the others commit. Callers answer
 * their HTTP request only after the promise resolves, i.e. after the durable commit.
 */
export class GroupCommit {
  private pending: Job<unknown>[] = [];
  private scheduled = false;
  private readonly db: Db;
  /** Number of transactions committed and jobs run (for the benchmark and tests). */
  readonly stats = { commits: 0, jobs: 0 };

  /** Called when a job or a whole commit was rolled back (in-memory caches may be stale). */
  onRollback?: () => void;

  constructor(db: Db) {
    this.db = db;
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
    try {
      this.db.transaction(() => {
        for (const job of jobs) {
          try {
            results.push({ ok: true, value: this.db.transaction(job.run)(this.db) });
          } catch (error) {
            results.push({ ok: false, error });
            this.onRollback?.();
          }
        }
      })();
    } catch (error) {
      // The commit itself failed (disk full, I/O error): nothing was stored, tell everyone.
      this.onRollback?.();
      for (const job of jobs) job.reject(error);
      return;
    }
    this.stats.commits++;
    this.stats.jobs += jobs.length;
    jobs.forEach((job, index) => {
      const result = results[index]!;
      if (result.ok) job.resolve(result.value);
      else job.reject(result.error);
    });
  }
}
