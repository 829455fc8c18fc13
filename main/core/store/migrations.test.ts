import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { OF_ORIGIN_SQL } from './federation-events.ts';
import { REACTION_PAIR_BELOW_SQL } from '../rooms/reaction-index.ts';
import { FIRST_OF_TYPE_AFTER_SQL, LATEST_JOIN_SQL, RoomStore } from '../rooms/room-store.ts';
import { MIGRATIONS, runMigrations } from './migrations.ts';
import { stablePlanSql } from './stable-plans.ts';

/** A database at `version`, as that version of the node left it. */
function at(version: number): Database.Database {
  const db = new Database(':memory:');
  for (const migration of MIGRATIONS) {
    if (migration.version > version) break;
    db.exec(migration.sql);
    db.pragma(`user_version = ${migration.version}`);
  }
  return db;
}

describe('migration 39: the outbox in four b-trees', () => {
  it('keeps every row as it was and the id counter, so no id is ever given twice', () => {
    const db = at(38);
    const queue = db.prepare("INSERT INTO federation_outbox (destination, event_id, room_id, state, attempts, last_error, created_at, updated_at) VALUES (?, ?, '!r:a.test', ?, ?, ?, 1, 2)");
    for (let i = 0; i < 10; i++) queue.run(i % 2 ? 'b.test' : 'c.test', `$e${i}:a.test`, i === 3 ? 'failed' : 'pending', i === 3 ? 2 : 0, i === 3 ? 'HTTP 403' : null);
    // The newest entries delivered (removed): a table made anew would count from its highest row.
    db.prepare('DELETE FROM federation_outbox WHERE id > 7').run();
    const rows = db.prepare('SELECT * FROM federation_outbox ORDER BY id').all();
    runMigrations(db);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
    expect(db.prepare('SELECT * FROM federation_outbox ORDER BY id').all()).toEqual(rows);
    const next = db.prepare("INSERT INTO federation_outbox (destination, event_id, room_id, created_at, updated_at) VALUES ('b.test', '$new:a.test', '!r:a.test', 3, 3) ON CONFLICT (event_id, destination) DO NOTHING").run();
    expect(next.lastInsertRowid).toBe(11);
    // One entry per (event, destination) still.
    expect(db.prepare("INSERT INTO federation_outbox (destination, event_id, room_id, created_at, updated_at) VALUES ('b.test', '$e1:a.test', '!r:a.test', 3, 3) ON CONFLICT (event_id, destination) DO NOTHING").run().changes).toBe(0);
    // The b-trees a queued event is written into: the table, its unique key (serving lookups by event id), the ready index.
    expect(db.prepare("SELECT name FROM sqlite_master WHERE tbl_name = 'federation_outbox' ORDER BY name").all()).toEqual([
      { name: 'federation_outbox' }, { name: 'federation_outbox_ready' }, { name: 'sqlite_autoindex_federation_outbox_1' },
    ]);
    const plan = db.prepare("EXPLAIN QUERY PLAN SELECT * FROM federation_outbox WHERE event_id IN ('$e1:a.test', '$e2:a.test')").all() as Array<{ detail: string }>;
    expect(plan.map((p) => p.detail).join(' ')).toContain('USING INDEX sqlite_autoindex_federation_outbox_1 (event_id=?)');
  });

  it('an empty outbox that never queued anything starts its ids at 1', () => {
    const db = at(38);
    runMigrations(db);
    expect(db.prepare("INSERT INTO federation_outbox (destination, event_id, room_id, created_at, updated_at) VALUES ('b.test', '$x:a.test', '!r:a.test', 1, 1)").run().lastInsertRowid).toBe(1);
  });
});

describe('migration 41: delivery notes', () => {
  it('notes the own messages of rooms hosted here that never had a member of another server as sent to nobody, and no others', () => {
    const db = at(40);
    const event = db.prepare(`INSERT INTO federation_events (event_id, room_id, event_type, sender, origin_server, origin_ts, depth, state_key, content, signatures, content_hash, received_from, received_at)
      VALUES (?, ?, 'm.message', ?, ?, 1, 1, NULL, '{}', '{}', 'h', ?, 1)`);
    const member = db.prepare("INSERT INTO room_members (room_id, user_id, server_name, membership, event_id, event_depth, event_origin, updated_at) VALUES (?, ?, ?, ?, '$m', 1, ?, 1)");
    for (const room of ['!alone:a.test', '!left:a.test', '!theirs:b.test']) db.prepare("INSERT INTO rooms (room_id, name, host_server, created_at) VALUES (?, 'r', ?, 1)").run(room, room.split(':')[1]);
    member.run('!alone:a.test', '@owner:a.test', 'a.test', 'join', 'a.test');
    member.run('!alone:a.test', '@kim:a.test', 'a.test', 'join', 'a.test');
    // A friend who was here and left: what was sent then reached it.
    member.run('!left:a.test', '@owner:b.test', 'b.test', 'leave', 'b.test');
    event.run('$1:a.test', '!alone:a.test', '@owner:a.test', 'a.test', null);
    event.run('$2:a.test', '!left:a.test', '@owner:a.test', 'a.test', null);
    event.run('$3:a.test', '!theirs:b.test', '@owner:a.test', 'a.test', null); // to its host
    event.run('$4:b.test', '!alone:a.test', '@owner:b.test', 'b.test', 'b.test'); // not ours
    runMigrations(db);
    expect(db.prepare('SELECT event_id, destination, note FROM delivery_notes').all()).toEqual([{ event_id: '$1:a.test', destination: '', note: 'nobody' }]);
  });
});

describe('migration 42: invites at most 31 days', () => {
  it('ends the invites stored for ever 31 days from now; shorter ones and other rows stay as they were', () => {
    const db = at(41);
    db.prepare("INSERT INTO rooms (room_id, name, host_server, created_at) VALUES ('!r:a.test', 'r', 'a.test', 1)").run();
    const member = db.prepare("INSERT INTO room_members (room_id, user_id, server_name, membership, invite_expires_at, event_id, event_depth, event_origin, updated_at) VALUES ('!r:a.test', ?, 'b.test', ?, ?, '$m', 1, 'b.test', 1)");
    const soon = Date.now() + 86_400_000;
    member.run('@spy:b.test', 'invite', Number.MAX_SAFE_INTEGER);
    member.run('@kim:b.test', 'invite', soon);
    member.run('@joe:b.test', 'join', null);
    const before = Date.now();
    runMigrations(db);
    const rows = Object.fromEntries(db.prepare<[], { user_id: string; invite_expires_at: number | null }>('SELECT user_id, invite_expires_at FROM room_members').all().map((r) => [r.user_id, r.invite_expires_at]));
    expect(rows['@spy:b.test']).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 + 31 * 86_400_000);
    expect(rows['@spy:b.test']).toBeLessThanOrEqual(Date.now() + 31 * 86_400_000);
    expect(rows['@kim:b.test']).toBe(soon);
    expect(rows['@joe:b.test']).toBeNull();
  });
});

describe('runMigrations', () => {
  const broken = { version: MIGRATIONS.at(-1)!.version + 1, name: 'a step that fails', sql: 'CREATE TABLE never_made (a); SELECT * FROM no_such_table;' };

  it('makes a new database in one transaction: interrupted, it is still empty', () => {
    const db = new Database(':memory:');
    expect(() => runMigrations(db, [...MIGRATIONS, broken])).toThrow(/no_such_table/);
    expect(db.pragma('user_version', { simple: true })).toBe(0);
    expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'table'").get()).toEqual({ n: 0 });
    runMigrations(db);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
  });

  it('migrates an existing database one version per transaction: the steps before a failing one stay', () => {
    const db = at(37);
    expect(() => runMigrations(db, [...MIGRATIONS, broken])).toThrow(/no_such_table/);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
    expect(db.prepare("SELECT COUNT(*) AS n FROM sqlite_master WHERE name = 'never_made'").get()).toEqual({ n: 0 });
  });
});

describe('migration 47: events of one origin in a room', () => {
  it('the own-events query (ofOrigin) searches the origin\'s events of the room, not every event of the room', () => {
    const db = at(46);
    const event = db.prepare(`INSERT INTO federation_events (event_id, room_id, event_type, sender, origin_server, origin_ts, depth, state_key, content, signatures, content_hash, received_from, received_at)
      VALUES (?, '!r:a.test', 'm.message', ?, ?, 1, ?, NULL, '{}', '{}', 'h', NULL, 1)`);
    for (let i = 0; i < 30; i++) {
      const origin = i % 3 === 0 ? 'a.test' : 'b.test';
      event.run(`$${String(i).padStart(2, '0')}:${origin}`, `@owner:${origin}`, origin, 100 + i);
    }
    runMigrations(db);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.at(-1)!.version);
    // As the node prepares it (store/connection.ts: stablePlanSql).
    const sql = stablePlanSql(OF_ORIGIN_SQL);
    const plan = (db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all('!r:a.test', 'a.test', 105, '', 5) as Array<{ detail: string }>).map((p) => p.detail).join(' ');
    expect(plan).toContain('USING INDEX federation_events_room_origin (room_id=? AND origin_server=?');
    expect(plan).not.toContain('TEMP B-TREE');
    const rows = db.prepare(sql).all('!r:a.test', 'a.test', 105, '', 3) as Array<{ event_id: string }>;
    expect(rows.map((r) => r.event_id)).toEqual(['$06:a.test', '$09:a.test', '$12:a.test']);
  });
});

describe('migration 48: membership events of one user, reaction events of one (sender, key)', () => {
  it('the end of a user\'s latest join and a reaction as it stood at a position are each one seek', () => {
    const db = at(47);
    const event = db.prepare(`INSERT INTO federation_events (event_id, room_id, event_type, sender, origin_server, origin_ts, depth, state_key, content, signatures, content_hash, received_from, received_at, relates_to)
      VALUES (?, '!r:a.test', ?, ?, 'a.test', 1, ?, ?, ?, '{}', 'h', NULL, 1, ?)`);
    // Many members come and go; sam joins, leaves, is banned after, joins again and leaves again.
    let depth = 100;
    for (let i = 0; i < 40; i++) {
      event.run(`$j${i}:a.test`, 'm.member.join', `@u${i}:a.test`, ++depth, `@u${i}:a.test`, '{"membership":"join"}', null);
      event.run(`$l${i}:a.test`, 'm.member.leave', `@u${i}:a.test`, ++depth, `@u${i}:a.test`, '{"membership":"leave"}', null);
    }
    const sam = '@sam:a.test';
    const member = (id: string, type: string, sender: string) => event.run(id, type, sender, ++depth, sam, '{}', null);
    member('$sj1:a.test', 'm.member.join', sam);
    member('$sl1:a.test', 'm.member.leave', sam);
    member('$sb1:a.test', 'm.member.ban', '@owner:a.test');
    member('$sj2:a.test', 'm.member.join', sam);
    const secondLeave = depth + 1;
    member('$sl2:a.test', 'm.member.leave', sam);
    member('$sb2:a.test', 'm.member.ban', '@owner:a.test');
    // A message toggled 👍 many times by one user, then a key added after a cut.
    event.run('$m:a.test', 'm.message', '@u1:a.test', ++depth, null, '{"body":"hi"}', null);
    for (let i = 0; i < 50; i++) event.run(`$r${i}:a.test`, i % 2 ? 'm.reaction.remove' : 'm.reaction.add', '@u1:a.test', ++depth, null, JSON.stringify({ target: '$m:a.test', key: '👍' }), '$m:a.test');
    const cut = ++depth;
    event.run('$rk:a.test', 'm.reaction.add', '@u1:a.test', ++depth, null, JSON.stringify({ target: '$m:a.test', key: '🎉' }), '$m:a.test');
    runMigrations(db);
    expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.at(-1)!.version);

    const planOf = (sql: string, ...params: unknown[]) => (db.prepare(`EXPLAIN QUERY PLAN ${stablePlanSql(sql)}`).all(...params) as Array<{ detail: string }>).map((p) => p.detail).join(' ');
    for (const plan of [planOf(LATEST_JOIN_SQL, '!r:a.test', sam), planOf(FIRST_OF_TYPE_AFTER_SQL, '!r:a.test', sam, 'm.member.leave', 1, '', '')]) {
      expect(plan).toContain('INDEX federation_events_room_state (room_id=? AND state_key=? AND event_type=?');
      expect(plan).not.toContain('TEMP B-TREE');
    }
    const reactionPlan = planOf(REACTION_PAIR_BELOW_SQL, '$m:a.test', '@u1:a.test', '👍', '!r:a.test', cut, '', '');
    expect(reactionPlan).toContain('USING INDEX federation_events_reaction_pair (relates_to=? AND sender=? AND <expr>=? AND (depth,origin_server,event_id)<(?,?,?))');
    expect(reactionPlan).not.toContain('TEMP B-TREE');

    // What they find: sam's second leave (not the ban after it, not the first leave); 👍 as it stood at the cut (50 events in turn, the last a remove), 🎉 not yet there.
    expect(new RoomStore(db).latestJoinEnd('!r:a.test', sam)).toEqual({ depth: secondLeave, origin_server: 'a.test', event_id: '$sl2:a.test' });
    expect(new RoomStore(db).latestJoinEnd('!r:a.test', '@nobody:a.test')).toBeNull();
    expect(db.prepare(stablePlanSql(REACTION_PAIR_BELOW_SQL)).get('$m:a.test', '@u1:a.test', '👍', '!r:a.test', cut, '', '')).toEqual({ event_type: 'm.reaction.remove' });
    expect(db.prepare(stablePlanSql(REACTION_PAIR_BELOW_SQL)).get('$m:a.test', '@u1:a.test', '🎉', '!r:a.test', cut, '', '')).toBeUndefined();
  });
});
