import Database from 'better-sqlite3';
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { stablePlanSql } from './stable-plans.ts';

describe('stablePlanSql', () => {
  it('puts a unary plus before each parameter after a comparison, LIKE, LIMIT or OFFSET', () => {
    expect(stablePlanSql("SELECT * FROM t WHERE a = ? AND b >= ?2 AND c IS NOT @c AND d LIKE :d AND e<>$e ORDER BY a LIMIT ? OFFSET ?"))
      .toBe("SELECT * FROM t WHERE a = +? AND b >= +?2 AND c IS NOT +@c AND d LIKE +:d AND e<>+$e ORDER BY a LIMIT +? OFFSET +?");
    expect(stablePlanSql('UPDATE t SET v = ? WHERE id = ?')).toBe('UPDATE t SET v = +? WHERE id = +?');
  });

  it('leaves other parameters, string literals and comments as they are', () => {
    expect(stablePlanSql('INSERT INTO t (a, b) VALUES (?, @b)')).toBe('INSERT INTO t (a, b) VALUES (?, @b)');
    expect(stablePlanSql("SELECT 'a = ?' AS s, \"x = ?\" FROM t WHERE a IN (?, ?) -- b = ?\n AND c = ? /* d = ? */")).toBe(
      "SELECT 'a = ?' AS s, \"x = ?\" FROM t WHERE a IN (?, ?) -- b = ?\n AND c = +? /* d = ? */",
    );
    expect(stablePlanSql("SELECT 'it''s = ?' FROM t WHERE a = ?")).toBe("SELECT 'it''s = ?' FROM t WHERE a = +?");
  });

  it('answers the same, with the same plan (the index searched), for every kind of value', () => {
    const db = new Database(':memory:');
    db.exec('CREATE TABLE t (k TEXT, n INTEGER, r REAL, b BLOB, x); CREATE INDEX t_k ON t (k, n)');
    const insert = db.prepare('INSERT INTO t VALUES (?, ?, ?, ?, ?)');
    const values: unknown[] = ['1', 1, 1.5, Buffer.from([1]), null, 'a', 2, 'b', 10n];
    for (const [i, v] of values.entries()) insert.run(typeof v === 'bigint' ? String(v) : v === null ? null : String(v), i, i / 2, Buffer.from([i]), v);
    const queries = [
      'SELECT rowid FROM t WHERE k = ? ORDER BY n',
      'SELECT rowid FROM t WHERE k = ? AND n > ? ORDER BY n LIMIT ?',
      'SELECT rowid FROM t WHERE x = ? ORDER BY rowid',
      'SELECT rowid FROM t WHERE x IS ? ORDER BY rowid',
      'SELECT rowid FROM t WHERE n = ? OR r = ? ORDER BY rowid',
      'SELECT rowid FROM t WHERE b = ? ORDER BY rowid',
      'SELECT rowid FROM t WHERE k LIKE ? ORDER BY rowid',
    ];
    for (const sql of queries) {
      const plain = db.prepare(sql);
      const stable = db.prepare(stablePlanSql(sql));
      expect(stablePlanSql(sql)).not.toBe(sql);
      for (const v of [...values, Buffer.from([3]), 'a%']) {
        const args = Array.from({ length: plain.source.split('?').length - 1 }, (_, i) => (sql.includes('LIMIT') && i === 2 ? 5 : v));
        expect(stable.all(...args), `${sql} with ${String(v)}`).toEqual(plain.all(...args));
      }
      const plan = (q: string) => db.prepare(`EXPLAIN QUERY PLAN ${q}`).all(...Array.from({ length: q.split('?').length - 1 }, () => 1)).map((r) => (r as { detail: string }).detail);
      expect(plan(stablePlanSql(sql))).toEqual(plan(sql));
    }
    db.close();
  });
});
