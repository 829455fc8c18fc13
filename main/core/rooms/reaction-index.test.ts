import { beforeEach, describe, expect, it } from '../../../test/helpers/fixtures.ts';
import type { Envelope } from '../federation/envelope.ts';
import type { Db } from '../store/database.ts';
import { MIGRATIONS } from '../store/migrations.ts';
import { ReactionIndex } from './reaction-index.ts';

let db: Db;
beforeEach(({ tempDb }) => {
  db = tempDb.db;
});

const ROOM = '!r:alpha.test';
const TARGET = '$m:alpha.test';

function reaction(type: 'm.reaction.add' | 'm.reaction.remove', sender: string, key: string, depth: number, id: string): Envelope {
  return {
    event_id: `$${id}:alpha.test`, room_id: ROOM, event_type: type, sender, origin_server: 'alpha.test', origin_ts: depth, depth,
    state_key: null, content: { target: TARGET, key }, signatures: {},
  };
}

function plan(sql: string, ...params: unknown[]): string {
  return db
    .prepare(`EXPLAIN QUERY PLAN ${sql}`)
    .all(...params)
    .map((row) => (row as { detail: string }).detail)
    .join('\n');
}

describe('ReactionIndex', () => {
  it('is the fold of adds and removes in display order, whatever the arrival order', () => {
    const events = [
      reaction('m.reaction.add', '@a:alpha.test', '👍', 1, 'e1'),
      reaction('m.reaction.remove', '@a:alpha.test', '👍', 2, 'e2'),
      reaction('m.reaction.add', '@a:alpha.test', '👍', 3, 'e3'),
      reaction('m.reaction.add', '@b:alpha.test', '👍', 4, 'e4'),
      reaction('m.reaction.add', '@b:alpha.test', '❤️', 5, 'e5'),
      reaction('m.reaction.remove', '@b:alpha.test', '❤️', 6, 'e6'),
    ];
    const orders = [events, [...events].reverse(), [events[2]!, events[0]!, events[5]!, events[1]!, events[4]!, events[3]!]];
    const results = orders.map((order, n) => {
      db.exec('DELETE FROM room_reactions');
      const index = new ReactionIndex(db);
      for (const event of order) index.apply(event);
      return { n, aggregate: index.aggregate(ROOM, [TARGET]).get(TARGET), a: index.has(ROOM, TARGET, '@a:alpha.test', '👍') };
    });
    for (const result of results) {
      expect(result.aggregate).toEqual({ '👍': ['@a:alpha.test', '@b:alpha.test'] });
      expect(result.a).toBe(true);
    }
  });

  it('counts a sender\'s present keys on a message (the cap)', () => {
    const index = new ReactionIndex(db, 3);
    for (let i = 0; i < 5; i++) index.apply(reaction('m.reaction.add', '@a:alpha.test', `k${i}`, i + 1, `a${i}`));
    index.apply(reaction('m.reaction.remove', '@a:alpha.test', 'k0', 10, 'r0'));
    expect(index.countBySender(ROOM, TARGET, '@a:alpha.test')).toBe(4);
    expect(index.countBySender(ROOM, TARGET, '@b:alpha.test')).toBe(0);
    expect(index.maxPerUserPerMessage).toBe(3);
  });

  it('authorizes and aggregates with index searches, never a scan of the reactions', () => {
    const has = plan('SELECT present, event_id, event_depth, event_origin FROM room_reactions WHERE room_id = ? AND target = ? AND sender = ? AND key = ?', ROOM, TARGET, '@a:x', 'k');
    const count = plan('SELECT COUNT(*) AS n FROM room_reactions WHERE room_id = ? AND target = ? AND sender = ? AND present = 1', ROOM, TARGET, '@a:x');
    const aggregate = plan('SELECT target, key, sender FROM room_reactions WHERE room_id = ? AND target IN (?, ?) AND present = 1', ROOM, TARGET, '$n:x');
    const deleted = plan(
      `SELECT 1 AS one FROM federation_events INDEXED BY federation_events_relates_type
       WHERE relates_to IS NOT NULL AND relates_to = ? AND event_type = ? AND room_id = ? LIMIT 1`,
      TARGET, 'm.message.delete', ROOM,
    );
    expect(has).toMatch(/SEARCH room_reactions USING PRIMARY KEY \(room_id=\? AND target=\? AND sender=\? AND key=\?\)/);
    expect(count).toMatch(/SEARCH room_reactions USING COVERING INDEX room_reactions_by_sender \(room_id=\? AND target=\? AND sender=\? AND present=\?\)/);
    expect(aggregate).toMatch(/SEARCH room_reactions USING COVERING INDEX room_reactions_present \(room_id=\? AND target=\? AND present=\?\)/);
    expect(deleted).toMatch(/SEARCH federation_events USING INDEX federation_events_relates_type \(relates_to=\? AND event_type=\?\)/);
    for (const detail of [has, count, aggregate, deleted]) expect(detail).not.toMatch(/\bSCAN\b/);
  });

  it('migration 6 rebuilt the index from reactions stored before it', () => {
    // The backfill statement of migration 6, run over events as an older node stored them.
    const insert = db.prepare(
      `INSERT INTO federation_events (event_id, room_id, event_type, sender, origin_server, origin_ts, depth, state_key, content, signatures, content_hash, received_from, received_at, relates_to)
       VALUES (?, ?, ?, ?, 'alpha.test', ?, ?, NULL, ?, '{}', 'h', NULL, 0, ?)`,
    );
    const rows: Array<[string, string, string, number]> = [
      ['$x1:alpha.test', 'm.reaction.add', '@a:alpha.test', 1],
      ['$x2:alpha.test', 'm.reaction.remove', '@a:alpha.test', 2],
      ['$x3:alpha.test', 'm.reaction.add', '@b:alpha.test', 3],
    ];
    for (const [id, type, sender, depth] of rows) insert.run(id, ROOM, type, sender, depth, depth, JSON.stringify({ key: '👍', target: TARGET }), TARGET);
    const sql = MIGRATIONS.find((m) => m.version === 6)!.sql;
    const backfill = sql.slice(sql.indexOf('INSERT INTO room_reactions'), sql.indexOf(';', sql.indexOf('INSERT INTO room_reactions')) + 1);
    db.exec(backfill);
    const index = new ReactionIndex(db);
    expect(index.aggregate(ROOM, [TARGET]).get(TARGET)).toEqual({ '👍': ['@b:alpha.test'] });
    expect(index.has(ROOM, TARGET, '@a:alpha.test', '👍')).toBe(false);
  });
});
