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
