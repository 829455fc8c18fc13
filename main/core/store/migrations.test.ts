import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { OF_ORIGIN_SQL } from './federation-events.ts';
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
