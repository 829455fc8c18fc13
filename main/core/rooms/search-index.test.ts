/**
 * The search index follows the stored events behind a watermark (issue #17): nothing is written
 * to it inside the storing transaction, a search always sees every stored message, the index
 * catches up by itself a moment later, and a restart (a new SearchIndex on the same file)
 * continues from the watermark without indexing anything twice.
 */
import { afterEach, beforeEach, expect, it } from '../../../test/helpers/fixtures.ts';
import type { Envelope } from '../federation/envelope.ts';
import type { Db } from '../store/database.ts';
import { FederationEvents } from '../store/federation-events.ts';
import { RoomStore } from './room-store.ts';
import { SearchIndex, queryWords } from './search-index.ts';

let db: Db;
const stores: RoomStore[] = [];
beforeEach(({ tempDb }) => {
  db = tempDb.db;
});
// Before tempDb closes the database.
afterEach(() => {
  for (const s of stores.splice(0)) s.search.stop();
});

const ROOM = '!1:alpha.test';
const OWNER = '@owner:alpha.test';
let depth = 1;
const event = (type: string, id: string, content: Record<string, unknown>, stateKey: string | null = null): Envelope => ({
  event_id: `$${id}:alpha.test`, room_id: ROOM, event_type: type, sender: OWNER, origin_server: 'alpha.test', origin_ts: depth, depth: depth++, state_key: stateKey, content, signatures: {},
});
const indexedRows = () => db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM message_search').get()!.n;

function room(): { rooms: RoomStore; store: (e: Envelope) => void } {
  const rooms = new RoomStore(db);
  stores.push(rooms);
  const events = new FederationEvents(db);
  if (!rooms.room(ROOM)) rooms.createRoom({ room_id: ROOM, name: 'r', host_server: 'alpha.test', created_at: 0 });
  const store = (e: Envelope) => db.transaction(() => {
    events.insert(e, `h-${e.event_id}`, null);
    rooms.apply(e);
  })();
  return { rooms, store };
}

it('is written after the storing transaction, and a search sees every stored message', async () => {
  const { rooms, store } = room();
  store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  store(event('m.message', 'm1', { body: 'pineapple upside down' }));
  expect(indexedRows()).toBe(0);
  expect(rooms.search.search(OWNER, queryWords('pineapple'), null, 10).map((h) => h.event_id)).toEqual(['$m1:alpha.test']);
  expect(indexedRows()).toBe(1);
  // An edit and a delete are folded in the same way.
  store(event('m.message', 'm2', { body: 'mango' }));
  store(event('m.message.edit', 'e2', { target: '$m2:alpha.test', body: 'papaya' }));
  store(event('m.message.delete', 'd1', { target: '$m1:alpha.test' }));
  expect(rooms.search.search(OWNER, queryWords('pineapple'), null, 10)).toEqual([]);
  expect(rooms.search.search(OWNER, queryWords('mango'), null, 10)).toEqual([]);
  expect(rooms.search.search(OWNER, queryWords('papaya'), null, 10).map((h) => h.event_id)).toEqual(['$m2:alpha.test']);
});

it('catches up by itself shortly after new messages, without a search', async () => {
  const { store } = room();
  store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  for (let i = 0; i < 5; i++) store(event('m.message', `m${i}`, { body: `word${i}` }));
  expect(indexedRows()).toBe(0);
  await expect.poll(indexedRows, { timeout: 5_000 }).toBe(5);
});

it('folds a large backlog in by itself in several turns (the event loop runs in between)', async () => {
  const { store } = room();
  store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  for (let i = 0; i < 1_200; i++) store(event('m.message', `b${i}`, { body: `bulk ${i}` }));
  // Other work runs between the turns: it sees the index part-way.
  const seen = new Set<number>();
  const ticker = setInterval(() => seen.add(indexedRows()), 0);
  await expect.poll(indexedRows, { timeout: 10_000 }).toBe(1_200);
  clearInterval(ticker);
  expect([...seen].some((n) => n > 0 && n < 1_200)).toBe(true);
});

it('continues from its watermark after a restart, indexing nothing twice', async () => {
  const first = room();
  first.store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  first.store(event('m.message', 'm1', { body: 'kiwi' }));
  first.rooms.search.catchUp();
  first.rooms.search.stop();
  first.store(event('m.message', 'm2', { body: 'kiwi again' })); // stored, not yet indexed
  const second = new SearchIndex(db);
  expect(second.search(OWNER, queryWords('kiwi'), null, 10).map((h) => h.event_id).sort()).toEqual(['$m1:alpha.test', '$m2:alpha.test']);
  expect(indexedRows()).toBe(2);
  second.stop();
});

it('an index from before version 19 (keyed by the event rowid) is re-keyed by time on upgrade, and keeps following edits', ({ tempDb }) => {
  const { rooms, store } = room();
  store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  // Stored out of display order (the older message arrived last), as a catch-up would.
  depth = 500;
  store(event('m.message', 'new', { body: 'guava new' }));
  depth = 100;
  store(event('m.message', 'old', { body: 'guava old' }));
  rooms.search.stop();
  // The version 19 layout: rowid = the message's federation_events rowid, no key table.
  db.exec(`
    DROP TABLE message_search; DROP TABLE message_search_rows;
    -- Migration 33's table (34 adds to it).
    DROP TABLE mailbox_retries;
    CREATE VIRTUAL TABLE message_search USING fts5 (body, room_id UNINDEXED, event_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');
    INSERT INTO message_search (rowid, body, room_id, event_id)
      SELECT rowid, json_extract(content, '$.body'), room_id, event_id FROM federation_events WHERE event_type = 'm.message';
  `);
  db.pragma('user_version = 19');
  db = tempDb.reopen();
  expect(db.pragma('user_version', { simple: true })).toBeGreaterThanOrEqual(20);
  const upgraded = room();
  const found = () => upgraded.rooms.search.search(OWNER, queryWords('guava'), null, 10).map((h) => [h.event_id, h.body]);
  expect(found()).toEqual([['$new:alpha.test', 'guava new'], ['$old:alpha.test', 'guava old']]);
  // The edit replaces the re-keyed row (no stale copy left).
  depth = 600;
  upgraded.store(event('m.message.edit', 'e', { target: '$old:alpha.test', body: 'guava edited' }));
  expect(found()).toEqual([['$new:alpha.test', 'guava new'], ['$old:alpha.test', 'guava edited']]);
  expect(indexedRows()).toBe(2);
});

it('gives messages of one depth keys of their own, also when another index folded into the same database meanwhile', () => {
  const { store } = room();
  store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  const at = (id: string, body: string, d: number): Envelope => ({ ...event('m.message', id, { body }), depth: d, origin_ts: d });
  const keys = () => db.prepare<[], { search_rowid: bigint }>('SELECT search_rowid FROM message_search_rows ORDER BY search_rowid').safeIntegers(true).all().map((r) => r.search_rowid);
  const one = new SearchIndex(db);
  // Another index on the same file (as another process's would be), made before anything was keyed.
  const other = new SearchIndex(db);
  store(at('s1', 'quince one', 5_000));
  store(at('s2', 'quince two', 5_000));
  one.catchUp();
  expect(keys()).toEqual([5_000n * 1048576n, 5_000n * 1048576n + 1n]);
  // A third message of the same depth, folded by the index that has not seen those keys.
  store(at('s3', 'quince three', 5_000));
  other.catchUp();
  expect(keys()).toEqual([5_000n * 1048576n, 5_000n * 1048576n + 1n, 5_000n * 1048576n + 2n]);
  expect(one.search(OWNER, queryWords('quince'), null, 10).map((h) => h.event_id).sort()).toEqual(['$s1:alpha.test', '$s2:alpha.test', '$s3:alpha.test']);
  one.stop();
  other.stop();
});
