import { pbkdf2 } from 'node:crypto';
import { afterEach, describe, expect, it, type TempDb } from '../../../test/helpers/fixtures.ts';
import type { Db } from './database.ts';
import { GroupCommit } from './group-commit.ts';
import { WalSync } from './wal-sync.ts';
import { isLocalFailure } from '../util/local-failure.ts';

const opened: WalSync[] = [];
// Before tempDb closes the database.
afterEach(async () => {
  for (const wal of opened.splice(0)) await wal.close();
});

function setup({ db, file }: TempDb) {
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL UNIQUE)');
  const wal = new WalSync(file);
  opened.push(wal);
  return { db, wal, commit: new GroupCommit(db, { walSync: wal }) };
}

const synchronous = (db: Db) => db.pragma('synchronous', { simple: true });

describe('GroupCommit with the WAL flushed off the event loop', () => {
  it('shares one transaction per turn, and settles jobs only after a WAL flush that followed their commit', async ({ tempDb }) => {
    const { db, commit } = setup(tempDb);
    const settledAfter: number[] = [];
    const jobs = ['a', 'b', 'c'].map((v) =>
      commit.run((d) => d.prepare('INSERT INTO t (v) VALUES (?)').run(v).lastInsertRowid).then((id) => {
        settledAfter.push(commit.stats.syncs);
        return id;
      }),
    );
    expect(await Promise.all(jobs)).toEqual([1, 2, 3]);
    expect(commit.stats).toMatchObject({ commits: 1, jobs: 3 });
    expect(settledAfter).toEqual([1, 1, 1]);
    // Only the group commit's own transaction ran with synchronous = NORMAL.
    expect(synchronous(db)).toBe(2);
  });

  it('keeps a failing job to itself: its writes roll back, the others commit', async ({ tempDb }) => {
    const { db, commit } = setup(tempDb);
    const results = await Promise.allSettled([
      commit.run((d) => d.prepare('INSERT INTO t (v) VALUES (?)').run('x')),
      commit.run((d) => {
        d.prepare('INSERT INTO t (v) VALUES (?)').run('y');
        d.prepare('INSERT INTO t (v) VALUES (?)').run('x'); // UNIQUE: this job fails, y goes too
      }),
      commit.run((d) => d.prepare('INSERT INTO t (v) VALUES (?)').run('z')),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(db.prepare('SELECT v FROM t ORDER BY v').pluck().all()).toEqual(['x', 'z']);
  });

  it('tells onRollback of a job or savepoint that wrote before it failed, or of a transaction SQLite rolled back; not of one refused before any write', async ({ tempDb }) => {
    const { db, wal } = setup(tempDb);
    let rollbacks = 0;
    const commit = new GroupCommit(db, { walSync: wal, onRollback: () => rollbacks++ });
    const insert = (d: Db, v: string) => d.prepare('INSERT INTO t (v) VALUES (?)').run(v);
    await commit.run((d) => insert(d, 'x'));
    // Refused before any write (as a stranger's refused event is): nothing to forget.
    await expect(commit.run(() => { throw new Error('refused'); })).rejects.toThrow('refused');
    // A statement that failed wrote nothing either.
    await expect(commit.run((d) => insert(d, 'x'))).rejects.toThrow(/UNIQUE/);
    expect(rollbacks).toBe(0);
    // A write, then a failure: its write is rolled back, and the caches are told.
    await expect(commit.run((d) => { insert(d, 'y'); insert(d, 'x'); })).rejects.toThrow(/UNIQUE/);
    expect(rollbacks).toBe(1);
    // The same inside a job's savepoint: one that wrote is told of, one refused first is not.
    await commit.run((d) => {
      expect(() => commit.savepoint(() => { throw new Error('refused'); })).toThrow('refused');
      expect(rollbacks).toBe(1);
      expect(() => commit.savepoint(() => { insert(d, 'z'); insert(d, 'x'); })).toThrow(/UNIQUE/);
      expect(rollbacks).toBe(2);
    });
    expect(db.prepare('SELECT v FROM t ORDER BY v').pluck().all()).toEqual(['x']);
    // SQLite rolled the whole transaction back (a full disk) in a job that wrote nothing itself:
    // what the batch's earlier jobs wrote is gone, so the caches are told.
    db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true })) + 3}`);
    const results = await Promise.allSettled([commit.run((d) => insert(d, 'first')), commit.run((d) => insert(d, 'w'.repeat(100_000)))]);
    db.pragma('max_page_count = 1073741823');
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(rollbacks).toBeGreaterThan(2);
    expect(db.prepare('SELECT v FROM t ORDER BY v').pluck().all()).toEqual(['x']);
  });

  it('a savepoint asked for after SQLite rolled the job\'s transaction back fails: nothing commits on its own outside the job', async ({ tempDb }) => {
    const { db, commit } = setup(tempDb);
    await commit.run((d) => d.prepare('INSERT INTO t (v) VALUES (?)').run('before'));
    db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true })) + 3}`);
    const failures: unknown[] = [];
    const job = commit.run((d) => {
      d.prepare('INSERT INTO t (v) VALUES (?)').run('first');
      // A write that fills the disk: SQLite rolls the whole transaction back.
      try {
        commit.savepoint(() => d.prepare('INSERT INTO t (v) VALUES (?)').run('x'.repeat(100_000)));
      } catch (error) {
        failures.push(error);
      }
      db.pragma('max_page_count = 1073741823');
      // The job goes on, as a batch stored one by one after its write failed does.
      try {
        commit.savepoint(() => d.prepare('INSERT INTO t (v) VALUES (?)').run('after'));
      } catch (error) {
        failures.push(error);
      }
    });
    await expect(job).rejects.toBeDefined();
    expect(failures).toHaveLength(2);
    expect(isLocalFailure(failures[1])).toBe(true);
    expect(db.prepare('SELECT v FROM t ORDER BY id').pluck().all()).toEqual(['before']);
  });

  it('when SQLite rolls the whole transaction back (a full disk in one job), no later job of the batch commits alone: all fail, nothing is stored', async ({ tempDb }) => {
    const { db, commit } = setup(tempDb);
    await commit.run((d) => d.prepare('INSERT INTO t (v) VALUES (?)').run('before'));
    // A few pages more than it has: the second job's 100 KB cannot be written (SQLITE_FULL), which rolls back everything.
    db.pragma(`max_page_count = ${Number(db.pragma('page_count', { simple: true })) + 3}`);
    const insert = (v: string) => commit.run((d) => d.prepare('INSERT INTO t (v) VALUES (?)').run(v).changes);
    const results = await Promise.allSettled([insert('first'), insert('x'.repeat(100_000)), insert('third')]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    // Each is a failure here, never a verdict on what the job wrote (a held event's release keeps it).
    for (const r of results) expect(isLocalFailure((r as PromiseRejectedResult).reason)).toBe(true);
    db.pragma('max_page_count = 1073741823');
    expect(db.prepare('SELECT v FROM t ORDER BY id').all()).toEqual([{ v: 'before' }]);
  });

  it('commits made while a flush runs share the next one', async ({ tempDb }) => {
    const { commit } = setup(tempDb);
    const first = commit.run((d) => d.prepare('INSERT INTO t (v) VALUES (?)').run('1'));
    await new Promise((resolve) => setImmediate(resolve)); // committed; its flush is in flight
    const later = [2, 3, 4].map(async (n) => {
      await new Promise((resolve) => setTimeout(resolve, 0));
      return commit.run((d) => d.prepare('INSERT INTO t (v) VALUES (?)').run(String(n)));
    });
    await Promise.all([first, ...later]);
    expect(commit.stats.jobs).toBe(4);
    expect(commit.stats.syncs).toBeLessThanOrEqual(commit.stats.commits);
    expect(commit.stats.syncs).toBeGreaterThanOrEqual(1);
  });

  it('does not acknowledge a commit whose flush failed', async ({ tempDb }) => {
    const { db, wal, commit } = setup(tempDb);
    await commit.run((d) => d.prepare('INSERT INTO t (v) VALUES (?)').run('before'));
    await wal.close(); // every later flush fails
    await expect(commit.run((d) => d.prepare('INSERT INTO t (v) VALUES (?)').run('after'))).rejects.toThrow(/closed/);
    // The row is in the database (committed) but the caller was told it is not known durable.
    expect(db.prepare('SELECT count(*) FROM t').pluck().get()).toBe(2);
    await commit.drained();
  });
});

describe('WalSync when libuv\'s thread pool is busy (slow DNS lookups share it)', () => {
  it('acknowledges a commit before the pool is free again, by flushing on the main thread', async ({ tempDb }) => {
    const { commit, wal } = setup(tempDb);
    await commit.run((d) => d.prepare('INSERT INTO t (v) VALUES (?)').run('warm')); // WAL open
    const order: string[] = [];
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    // Each holds a pool thread for seconds.
    const busy = Array.from({ length: poolSize }, () =>
      new Promise<void>((resolve, reject) => pbkdf2('x', 'salt', 1_500_000, 32, 'sha512', (error) => (error ? reject(error) : resolve()))).then(() => order.push('pool free')),
    );
    await commit.run((d) => d.prepare('INSERT INTO t (v) VALUES (?)').run('while busy'));
    order.push('acknowledged');
    await Promise.all(busy);
    expect(order[0]).toBe('acknowledged');
    expect(wal.fallbacks).toBeGreaterThanOrEqual(1);
  });

  it('while a flush runs, commits the first job at once and gathers the rest into one transaction after it; `committed` runs before the flush', async ({ tempDb }) => {
    const { commit } = setup(tempDb);
    await commit.run((d) => d.prepare('INSERT INTO t (v) VALUES (?)').run('warm')); // WAL open
    // The pool busy: the next flush takes its fallback (FALLBACK_MS), long enough to queue jobs during it.
    const poolSize = Number(process.env.UV_THREADPOOL_SIZE ?? 4);
    const busy = Array.from({ length: poolSize }, () => new Promise<void>((resolve) => pbkdf2('x', 'salt', 400_000, 32, 'sha512', () => resolve())));
    const before = { ...commit.stats };
    const early: Array<{ v: string; syncs: number }> = [];
    const insert = (v: string) =>
      commit.run(
        (d) => d.prepare('INSERT INTO t (v) VALUES (?)').run(v).changes,
        () => early.push({ v, syncs: commit.stats.syncs }),
      );
    const first = insert('first');
    await new Promise((resolve) => setImmediate(resolve)); // committed; its flush is under way
    expect(early).toEqual([{ v: 'first', syncs: before.syncs }]);
    const during: Array<Promise<number>> = [];
    for (let i = 0; i < 10; i++) {
      during.push(insert(`during ${i}`)); // each in a turn of its own
      await new Promise((resolve) => setImmediate(resolve));
    }
    await Promise.all([first, ...during]);
    // first; the first job during the flush (at once); the other nine together after the flush.
    expect(commit.stats.commits - before.commits).toBe(3);
    expect(commit.stats.jobs - before.jobs).toBe(11);
    // Every `committed` ran before the flush that made its job durable.
    expect(early.map((e) => e.v)).toEqual(['first', ...Array.from({ length: 10 }, (_, i) => `during ${i}`)]);
    expect(early.every((e) => e.syncs < commit.stats.syncs)).toBe(true);
    await Promise.all(busy);
  });
});
