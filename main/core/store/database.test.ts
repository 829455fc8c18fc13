import { afterEach, describe, expect, it, type TempDb } from '../../../test/helpers/fixtures.ts';
import { inOneRead, openDatabase, type Db } from './database.ts';

const opened: Db[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

/** The test's database and a second connection to its file (closed after the test, before the first). */
function twoConnections({ db, file }: TempDb) {
  db.exec('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)');
  db.prepare("INSERT INTO t (v) VALUES ('first')").run();
  const other = openDatabase(file);
  opened.push(other);
  return { db, other };
}

const count = (db: Db) => (db.prepare('SELECT COUNT(*) AS n FROM t').get() as { n: number }).n;

describe('inOneRead', () => {
  it('runs its reads in one read transaction: a commit made in between by another connection is not seen until it ends', ({ tempDb }) => {
    const { db, other } = twoConnections(tempDb);
    const seen = inOneRead(db, () => {
      const before = count(db);
      other.prepare("INSERT INTO t (v) VALUES ('second')").run();
      return [before, count(db), db.inTransaction];
    });
    expect(seen).toEqual([1, 1, true]);
    expect(db.inTransaction).toBe(false);
    expect(count(db)).toBe(2);
  });

  it('ends its transaction when a read throws, and passes the error on', ({ tempDb }) => {
    const { db } = twoConnections(tempDb);
    expect(() =>
      inOneRead(db, () => {
        count(db);
        throw new Error('refused');
      }),
    ).toThrow('refused');
    expect(db.inTransaction).toBe(false);
    // The connection still writes (no transaction or lock was left behind).
    db.prepare("INSERT INTO t (v) VALUES ('after')").run();
    expect(count(db)).toBe(2);
  });

  it('inside a transaction is part of it (sees its uncommitted writes, leaves it open)', ({ tempDb }) => {
    const { db, other } = twoConnections(tempDb);
    db.transaction(() => {
      db.prepare("INSERT INTO t (v) VALUES ('uncommitted')").run();
      expect(inOneRead(db, () => count(db))).toBe(2);
      expect(db.inTransaction).toBe(true);
    })();
    expect(count(other)).toBe(2);
  });
});

describe('openDatabase', () => {
  it('keeps the planner\'s statistics but none of their per-value samples (each would make statements compile again on every run)', ({ tempDb }) => {
    const { db, file } = tempDb;
    db.exec('CREATE TABLE w (a TEXT NOT NULL, b INTEGER NOT NULL); CREATE INDEX w_a ON w (a, b)');
    const insert = db.prepare('INSERT INTO w (a, b) VALUES (?, ?)');
    db.transaction(() => {
      for (let i = 0; i < 5_000; i++) insert.run(`k${i % 50}`, i);
    })();
    // What a restart does: the optimize at open analyzes the grown table.
    const again = openDatabase(file);
    opened.push(again);
    const stat1 = again.prepare("SELECT stat FROM sqlite_stat1 WHERE idx = 'w_a'").pluck().get();
    expect(stat1).toMatch(/^5000 /);
    expect(again.prepare('SELECT COUNT(*) FROM sqlite_stat4').pluck().get()).toBe(0);
  });

  it('compiles every SQL text once, as stablePlanSql writes it (no run compiles it again: stable-plans.ts)', ({ tempDb }) => {
    const { db } = tempDb;
    db.exec('CREATE TABLE w (a TEXT NOT NULL, b INTEGER NOT NULL)');
    const sql = 'SELECT b FROM w WHERE a = ? ORDER BY b LIMIT ?';
    const statement = db.prepare(sql);
    expect(statement.source).toBe('SELECT b FROM w WHERE a = +? ORDER BY b LIMIT +?');
    expect(db.prepare(sql)).toBe(statement);
    db.prepare('INSERT INTO w (a, b) VALUES (?, ?)').run('x', 2);
    expect(statement.all('x', 5)).toEqual([{ b: 2 }]);
  });
});
