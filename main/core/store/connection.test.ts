import Database from 'better-sqlite3';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../../../test/helpers/temp-dir.ts';
import { cacheStatements, transactionWithoutFsync } from './connection.ts';

/** A connection with the node's caches, and a table to write. */
function open() {
  const db = new Database(join(tempDir('paracord-connection-'), 'db.sqlite'));
  db.pragma('journal_mode = WAL');
  cacheStatements(db);
  db.exec('CREATE TABLE t (v TEXT NOT NULL)');
  const rows = () => db.prepare<[], { v: string }>('SELECT v FROM t ORDER BY rowid').all().map((r) => r.v);
  return { db, rows, insert: (v: string) => db.prepare('INSERT INTO t (v) VALUES (?)').run(v) };
}

describe('transactions on a cached connection (cacheStatements)', () => {
  it('commit, return the function\'s value, and pass its arguments and this', () => {
    const { db, rows, insert } = open();
    const write = db.transaction(function (this: unknown, a: string, b: string) {
      insert(a);
      insert(b);
      return { self: this, inTransaction: db.inTransaction };
    });
    const self = { name: 'caller' };
    expect(write.call(self, 'a', 'b')).toEqual({ self, inTransaction: true });
    expect(db.inTransaction).toBe(false);
    expect(rows()).toEqual(['a', 'b']);
    expect((write as unknown as { database: unknown }).database).toBe(db);
  });

  it('roll everything back when the function throws, and pass the error on', () => {
    const { db, rows, insert } = open();
    const failing = new Error('no');
    expect(() => db.transaction(() => {
      insert('lost');
      throw failing;
    })()).toThrow(failing);
    expect(db.inTransaction).toBe(false);
    expect(rows()).toEqual([]);
  });

  it('nest as savepoints: an inner failure rolls back only the inner writes', () => {
    const { db, rows, insert } = open();
    db.transaction(() => {
      insert('outer');
      expect(() => db.transaction(() => {
        insert('inner');
        throw new Error('inner fails');
      })()).toThrow('inner fails');
      db.transaction(() => insert('inner kept'))();
      expect(db.inTransaction).toBe(true);
    })();
    expect(rows()).toEqual(['outer', 'inner kept']);
  });

  it('refuse a function that returns a promise (rolled back), and a non-function', () => {
    const { db, rows, insert } = open();
    expect(() => db.transaction(() => {
      insert('x');
      return Promise.resolve();
    })()).toThrow('Transaction function cannot return a promise');
    expect(rows()).toEqual([]);
    expect(() => db.transaction(42 as never)).toThrow(TypeError);
  });

  it('offer the immediate, deferred and exclusive kinds: immediate takes the write lock at BEGIN', () => {
    const { db, rows, insert } = open();
    const other = new Database(db.name);
    other.pragma('busy_timeout = 0');
    try {
      db.transaction(() => {
        // Nothing written yet, but the lock is ours: the other connection cannot begin a write.
        expect(() => other.prepare('BEGIN IMMEDIATE').run()).toThrow(/locked|busy/i);
        insert('i');
      }).immediate();
      db.transaction(() => insert('d')).deferred();
      db.transaction(() => insert('e')).exclusive();
      expect(rows()).toEqual(['i', 'd', 'e']);
    } finally {
      other.close();
    }
  });

  it('transactionWithoutFsync commits with synchronous NORMAL and leaves FULL after, also on failure', () => {
    const { db, rows, insert } = open();
    db.pragma('synchronous = FULL');
    const seen = transactionWithoutFsync(db, () => {
      insert('n');
      return db.pragma('synchronous', { simple: true });
    });
    expect(seen).toBe(1);
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(() => transactionWithoutFsync(db, () => {
      insert('lost');
      throw new Error('no');
    })).toThrow('no');
    expect(db.pragma('synchronous', { simple: true })).toBe(2);
    expect(rows()).toEqual(['n']);
  });
});
