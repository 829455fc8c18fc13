import { beforeEach, describe, expect, it } from '../../../test/helpers/fixtures.ts';
import type { Envelope } from '../federation/envelope.ts';
import type { Db } from '../store/database.ts';
import { MIGRATIONS } from '../store/migrations.ts';
import { FederationEvents } from '../store/federation-events.ts';
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

/** The INSERT … SELECT of a migration that fills `table` from what was stored before it. */
function backfillOf(version: number, table: string): string {
  const sql = MIGRATIONS.find((m) => m.version === version)!.sql;
  const start = sql.indexOf(`INSERT INTO ${table}`);
  return sql.slice(start, sql.indexOf(';', start) + 1);
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
      db.exec('DELETE FROM room_reactions; DELETE FROM room_reaction_counts');
      const index = new ReactionIndex(db);
      for (const event of order) index.apply(event);
      return { n, aggregate: index.aggregate(ROOM, [TARGET]).get(TARGET), a: index.has(ROOM, TARGET, '@a:alpha.test', '👍') };
    });
    for (const result of results) {
      expect(result.aggregate).toEqual({ users: { '👍': ['@a:alpha.test', '@b:alpha.test'] }, counts: { '👍': 2 } });
      expect(result.a).toBe(true);
    }
  });

  it('shows a key that names what every object inherits (`__proto__`, `constructor`) like any other key', () => {
    const index = new ReactionIndex(db);
    const events = new FederationEvents(db);
    const keys = ['__proto__', 'constructor', 'toString', '👍'];
    keys.forEach((key, i) => {
      const event = reaction('m.reaction.add', '@a:alpha.test', key, i + 1, `p${i}`);
      events.insert(event, `h${i}`, null);
      index.apply(event);
    });
    const expected = (which: 'users' | 'counts') => keys.slice().sort().map((key) => [key, which === 'users' ? ['@a:alpha.test'] : 1]);
    for (const shown of [index.aggregate(ROOM, [TARGET]).get(TARGET)!, index.aggregateUpTo(ROOM, [TARGET], { depth: 100, origin_server: 'alpha.test', event_id: '$' }).get(TARGET)!]) {
      // Own properties, in JSON as the UI reads them, the object's prototype untouched.
      expect(Object.entries(shown.users)).toEqual(expected('users'));
      expect(Object.entries(shown.counts)).toEqual(expected('counts'));
      expect(Object.getPrototypeOf(shown.users)).toBe(Object.prototype);
      expect(Object.keys(JSON.parse(JSON.stringify(shown)).counts as object).sort()).toEqual(keys.slice().sort());
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
    const topKeys = plan('SELECT key, n FROM room_reaction_counts WHERE room_id = ? AND target = ? ORDER BY n DESC, key LIMIT ?', ROOM, TARGET, 20);
    const users = plan('SELECT sender FROM room_reactions WHERE room_id = ? AND target = ? AND present = 1 AND key = ? ORDER BY sender LIMIT ?', ROOM, TARGET, 'k', 10);
    const deleted = plan(
      `SELECT 1 AS one FROM federation_events INDEXED BY federation_events_relates_type
       WHERE relates_to IS NOT NULL AND relates_to = ? AND event_type = ? AND room_id = ? LIMIT 1`,
      TARGET, 'm.message.delete', ROOM,
    );
    expect(has).toMatch(/SEARCH room_reactions USING PRIMARY KEY \(room_id=\? AND target=\? AND sender=\? AND key=\?\)/);
    expect(count).toMatch(/SEARCH room_reactions USING COVERING INDEX room_reactions_by_sender \(room_id=\? AND target=\? AND sender=\? AND present=\?\)/);
    // A page reads a message's most used keys and a few users of each: never all its reactions.
    expect(topKeys).toMatch(/SEARCH room_reaction_counts USING COVERING INDEX room_reaction_counts_by_n \(room_id=\? AND target=\?\)/);
    expect(topKeys).not.toMatch(/TEMP B-TREE/);
    expect(users).toMatch(/SEARCH room_reactions USING COVERING INDEX room_reactions_present \(room_id=\? AND target=\? AND present=\? AND key=\?\)/);
    expect(users).not.toMatch(/TEMP B-TREE/);
    expect(deleted).toMatch(/SEARCH federation_events USING INDEX federation_events_relates_type \(relates_to=\? AND event_type=\?\)/);
    for (const detail of [has, count, topKeys, users, deleted]) expect(detail).not.toMatch(/\bSCAN\b/);
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
    db.exec(backfillOf(6, 'room_reactions'));
    db.exec(backfillOf(32, 'room_reaction_counts'));
    const index = new ReactionIndex(db);
    expect(index.aggregate(ROOM, [TARGET]).get(TARGET)).toEqual({ users: { '👍': ['@b:alpha.test'] }, counts: { '👍': 1 } });
    expect(index.has(ROOM, TARGET, '@a:alpha.test', '👍')).toBe(false);
  });

  it('a page shows a message\'s 20 most used keys and 10 users of each, with every count: many users cost it no more than a few', () => {
    const index = new ReactionIndex(db);
    let n = 0;
    // 30 keys; key kNN has NN + 1 users (k29 the most used). 465 reactions in all.
    for (let k = 0; k < 30; k++) {
      for (let u = 0; u <= k; u++) index.apply(reaction('m.reaction.add', `@u${String(u).padStart(2, '0')}:beta.test`, `k${String(k).padStart(2, '0')}`, ++n, `x${n}`));
    }
    // The viewer reacted with the least used key, and is not among the first ten users of k29.
    index.apply(reaction('m.reaction.add', '@viewer:alpha.test', 'k00', ++n, `x${n}`));
    index.apply(reaction('m.reaction.add', '@viewer:alpha.test', 'k29', ++n, `x${n}`));
    const shown = index.aggregate(ROOM, [TARGET], '@viewer:alpha.test').get(TARGET)!;
    const expectedKeys = ['k00', ...Array.from({ length: 20 }, (_, i) => `k${i + 10}`)];
    expect(Object.keys(shown.users)).toEqual(expectedKeys);
    expect(Object.keys(shown.counts)).toEqual(expectedKeys);
    expect(shown.counts.k29).toBe(31);
    expect(shown.counts.k10).toBe(11);
    expect(shown.counts.k00).toBe(2);
    expect(shown.users.k10).toHaveLength(10);
    expect(shown.users.k29).toHaveLength(10);
    expect(shown.users.k29).toContain('@viewer:alpha.test');
    expect(shown.users.k00).toEqual(['@u00:beta.test', '@viewer:alpha.test']);
    // Without a viewer: the 20 most used keys only, the first ten users of each.
    const anyone = index.aggregate(ROOM, [TARGET]).get(TARGET)!;
    expect(Object.keys(anyone.users)).toEqual(expectedKeys.slice(1));
    expect(anyone.users.k29).toEqual(Array.from({ length: 10 }, (_, i) => `@u0${i}:beta.test`));
  });

  it('as they stood at a position (a viewer who left): the same as an index of only the events before it, shaped the same', () => {
    // 700 adds and removes by 40 users of 25 keys (a fixed pseudo-random walk), stored and indexed in
    // ROOM; for each cut, the events before it indexed alone in another room are what it must show.
    const events = new FederationEvents(db);
    const index = new ReactionIndex(db);
    let seed = 7;
    const next = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) % n;
    const made: Envelope[] = [];
    for (let n = 1; n <= 700; n++) {
      const sender = `@u${String(next(40)).padStart(2, '0')}:beta.test`;
      made.push(reaction(next(3) === 0 ? 'm.reaction.remove' : 'm.reaction.add', sender, `k${String(next(25)).padStart(2, '0')}`, Math.ceil(n / 2), `x${n}`));
    }
    for (const event of made) {
      events.insert(event, `h${event.event_id}`, null);
      index.apply(event);
    }
    for (const [i, depth] of [1, 40, 151, 300, 351].entries()) {
      const upTo = { depth, origin_server: 'alpha.test', event_id: '$' }; // before every event of that depth
      const room = `!cut${i}:alpha.test`;
      for (const event of made.filter((e) => e.depth < depth)) index.apply({ ...event, room_id: room });
      for (const viewer of [undefined, '@u07:beta.test', '@u39:beta.test']) {
        expect(index.aggregateUpTo(ROOM, [TARGET], upTo, viewer).get(TARGET), `cut at ${depth} for ${viewer}`).toEqual(index.aggregate(room, [TARGET], viewer).get(TARGET));
      }
    }
    // After everything: what the index shows now.
    expect(index.aggregateUpTo(ROOM, [TARGET], { depth: 1_000, origin_server: 'alpha.test', event_id: '$' }, '@u07:beta.test')).toEqual(index.aggregate(ROOM, [TARGET], '@u07:beta.test'));
  });

  it('counts follow removes, re-adds and late events, and equal the index itself whatever the arrival order', () => {
    const events: Envelope[] = [];
    let n = 0;
    for (let u = 0; u < 6; u++) {
      for (const key of ['👍', '❤️', 'x']) {
        events.push(reaction('m.reaction.add', `@u${u}:beta.test`, key, ++n, `y${n}`));
        if ((u + key.length) % 2 === 0) events.push(reaction('m.reaction.remove', `@u${u}:beta.test`, key, ++n, `y${n}`));
        if (u % 3 === 0) events.push(reaction('m.reaction.add', `@u${u}:beta.test`, key, ++n, `y${n}`));
      }
    }
    const orders = [events, [...events].reverse(), events.map((e, i) => [e, (i * 7919) % events.length] as const).sort((a, b) => a[1] - b[1]).map(([e]) => e)];
    for (const order of orders) {
      db.exec('DELETE FROM room_reactions; DELETE FROM room_reaction_counts');
      const index = new ReactionIndex(db);
      for (const event of order) index.apply(event);
      // A replayed copy changes nothing.
      for (const event of order.slice(0, 5)) index.apply(event);
      const truth = db.prepare("SELECT key, COUNT(*) AS n FROM room_reactions WHERE present = 1 GROUP BY key ORDER BY key").all() as Array<{ key: string; n: number }>;
      const counts = db.prepare('SELECT key, n FROM room_reaction_counts ORDER BY key').all();
      expect(counts).toEqual(truth);
      expect(truth.length).toBeGreaterThan(0);
    }
  });
});
