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
import { rmSync, writeFileSync } from 'node:fs';
import { MIGRATIONS } from '../store/migrations.ts';
import { searchDatabaseFile } from './search-db.ts';
import { SearchIndex } from './search-index.ts';
import { queryWords } from './search-words.ts';
import { MAX_ROOM_KEYS, roomKey, searchExpression } from './search-match.ts';
import { UNINDEXED_COUNT_CAP } from '../../../shared/contract/admin/search-limits.ts';
import { SearchFoldWorker } from './search-fold-worker.ts';
import { undoMigrationsFrom33 } from '../../../test/helpers/schema-rollback.ts';

let db: Db;
const stores: RoomStore[] = [];
beforeEach(({ tempDb }) => {
  db = tempDb.db;
});
// Before tempDb closes the database.
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.search.stop()));
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

/** The owner's room, its own index stopped (the test makes the index it watches). */
async function joinedWithoutIndex(): Promise<(e: Envelope) => void> {
  const { store, rooms } = room();
  await rooms.search.stop();
  store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  return store;
}

/** `count` messages "`word` i" with ids "`prefix`i", in one transaction (each store a savepoint in it: not one commit each). */
function storeMessages(store: (e: Envelope) => void, prefix: string, word: string, count: number): void {
  db.transaction(() => {
    for (let i = 0; i < count; i++) store(event('m.message', `${prefix}${i}`, { body: `${word} ${i}` }));
  })();
}

it('is written after the storing transaction, and a search sees every stored message', async () => {
  const { rooms, store } = room();
  store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  store(event('m.message', 'm1', { body: 'pineapple upside down' }));
  expect(indexedRows()).toBe(0);
  expect((await rooms.search.search(OWNER, queryWords('pineapple'), null, 10)).map((h) => h.event_id)).toEqual(['$m1:alpha.test']);
  expect(indexedRows()).toBe(1);
  // An edit and a delete are folded in the same way.
  store(event('m.message', 'm2', { body: 'mango' }));
  store(event('m.message.edit', 'e2', { target: '$m2:alpha.test', body: 'papaya' }));
  store(event('m.message.delete', 'd1', { target: '$m1:alpha.test' }));
  expect(await rooms.search.search(OWNER, queryWords('pineapple'), null, 10)).toEqual([]);
  expect(await rooms.search.search(OWNER, queryWords('mango'), null, 10)).toEqual([]);
  expect((await rooms.search.search(OWNER, queryWords('papaya'), null, 10)).map((h) => h.event_id)).toEqual(['$m2:alpha.test']);
});

it('catches up by itself shortly after new messages, without a search', async () => {
  const { store } = room();
  store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  for (let i = 0; i < 5; i++) store(event('m.message', `m${i}`, { body: `word${i}` }));
  expect(indexedRows()).toBe(0);
  await expect.poll(indexedRows, { timeout: 5_000 }).toBe(5);
});

/** A message "`word` i" every 20 ms for `forMs`, each told to `index`: how many, and the rows indexed after each. */
async function storeEvery20Ms(store: (e: Envelope) => void, index: SearchIndex, prefix: string, word: string, forMs: number): Promise<{ at: number; seenDuring: number[] }> {
  let at = 0;
  const seenDuring: number[] = [];
  for (const until = Date.now() + forMs; Date.now() < until; at++) {
    const message = event('m.message', `${prefix}${at}`, { body: `${word} ${at}` });
    store(message);
    index.apply(message);
    seenDuring.push(indexedRows());
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return { at, seenDuring };
}

it('folds a burst once it pauses, not while it goes on', async () => {
  const store = await joinedWithoutIndex();
  const index = new SearchIndex(db, { workerBacklog: Infinity, burstBacklog: 1, burstQuietMs: 1_000 });
  // Messages every 20 ms for 1.2 s: each one before the burst's pause of 1 s.
  const { at, seenDuring } = await storeEvery20Ms(store, index, 's', 'steady', 1_200);
  expect(seenDuring.every((n) => n === 0)).toBe(true);
  await expect.poll(indexedRows, { timeout: 5_000 }).toBe(at);
  await index.stop();
});

it('folds a chat as it comes: fewer unfolded events than make a burst are not held for a pause', async () => {
  const store = await joinedWithoutIndex();
  const index = new SearchIndex(db, { workerBacklog: Infinity, burstBacklog: 1_000, burstQuietMs: 300, burstAtMostMs: 60_000 });
  const { seenDuring } = await storeEvery20Ms(store, index, 'c', 'chat', 1_500);
  expect(seenDuring.at(-1)).toBeGreaterThan(0);
  await index.stop();
});

it('folds a burst that does not pause at the latest burstAtMostMs after its first message', async () => {
  const store = await joinedWithoutIndex();
  const index = new SearchIndex(db, { workerBacklog: Infinity, burstBacklog: 1, burstQuietMs: 1_000, burstAtMostMs: 300 });
  const { at, seenDuring } = await storeEvery20Ms(store, index, 'n', 'nonstop', 1_500);
  expect(seenDuring.at(-1)).toBeGreaterThan(0);
  await expect.poll(indexedRows, { timeout: 5_000 }).toBe(at);
  expect((await index.search(OWNER, queryWords('nonstop'), null, 200)).length).toBe(at);
  await index.stop();
});

it('folds a large backlog in by itself in several turns (the event loop runs in between)', async () => {
  const store = await joinedWithoutIndex();
  storeMessages(store, 'b', 'bulk', 1_200);
  // Folded on this thread (no worker): the index behind the events catches up a round at a time.
  // (With the worker, its rounds commit on another thread: a loaded machine could run all three
  // before this thread's timer saw one, as a CI run did.)
  const index = new SearchIndex(db, { workerBacklog: Infinity });
  // Other work runs between the turns: it sees the index part-way.
  const seen = new Set<number>();
  const ticker = setInterval(() => seen.add(indexedRows()), 0);
  await expect.poll(indexedRows, { timeout: 10_000 }).toBe(1_200);
  clearInterval(ticker);
  await index.stop();
  expect([...seen].some((n) => n > 0 && n < 1_200)).toBe(true);
});

it('folds a burst on a worker thread while this one goes on, answers searches from it meanwhile, and ends it once idle', async () => {
  const { store } = room();
  store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  const index = new SearchIndex(db, { workerIdleMs: 300 });
  const a = Array.from({ length: 3_000 }, (_, i) => event('m.message', `w${i}`, { body: `burst ${i}` }));
  for (const e of a) store(e);
  for (const e of a.slice(-10)) index.apply(e);
  // Folded by the worker, a round at a time: this thread keeps running meanwhile.
  const seen = new Set<number>();
  const ticker = setInterval(() => seen.add(indexedRows()), 0);
  await expect.poll(() => index.workerRunning, { timeout: 5_000 }).toBe(true);
  expect(index.workerStarts).toBe(1);
  // A search while the worker folds: the worker catches up before the query runs.
  store(event('m.message', 'last', { body: 'burst finale' }));
  const hits = await index.search(OWNER, queryWords('finale'), null, 10);
  expect(hits.map((h) => h.event_id)).toEqual(['$last:alpha.test']);
  expect(indexedRows()).toBe(3_001);
  clearInterval(ticker);
  expect([...seen].some((n) => n > 0 && n < 3_000)).toBe(true);
  // Idle: the worker ends; this thread folds what comes next (a chat's rate), from where it left.
  await expect.poll(() => index.workerRunning, { timeout: 5_000 }).toBe(false);
  const next = event('m.message', 'after', { body: 'burst after' });
  store(next);
  index.apply(next);
  await expect.poll(indexedRows, { timeout: 5_000 }).toBe(3_002);
  expect(index.workerStarts).toBe(1);
  expect((await index.search(OWNER, queryWords('burst'), null, 3)).map((h) => h.event_id)).toEqual(['$after:alpha.test', '$last:alpha.test', '$w2999:alpha.test']);
  await index.stop();
});

it('the worker ends only once it folded the whole backlog; a search on a large backlog starts it rather than folding here', async () => {
  const store = await joinedWithoutIndex();
  const burst = Array.from({ length: 6_000 }, (_, i) => event('m.message', `x${i}`, { body: `wave ${i}` }));
  for (const e of burst) store(e);
  // Idle after 20 ms: far less than the backlog takes, nothing else asked of it meanwhile.
  const index = new SearchIndex(db, { workerIdleMs: 20 });
  await expect.poll(indexedRows, { timeout: 20_000 }).toBe(6_000);
  expect(index.workerStarts).toBe(1);
  await expect.poll(() => index.workerRunning, { timeout: 5_000 }).toBe(false);
  await index.stop();
  // A new index on a backlog, asked before its first fold: the worker folds it, this thread waits.
  const more = Array.from({ length: 2_000 }, (_, i) => event('m.message', `y${i}`, { body: `swell ${i}` }));
  for (const e of more) store(e);
  const asked = new SearchIndex(db, { workerIdleMs: 20 });
  expect((await asked.search(OWNER, queryWords('swell'), null, 1)).map((h) => h.event_id)).toEqual(['$y1999:alpha.test']);
  expect(asked.workerStarts).toBe(1);
  await asked.stop();
});

it('a worker that said it was idle just before a new request is not ended while it folds that request', async () => {
  const store = await joinedWithoutIndex();
  storeMessages(store, 'a', 'first', 200);
  const watermark = () => Number(db.prepare<[], string>("SELECT value FROM search.search_state WHERE key = 'indexed_rowid'").pluck().get());
  const last = () => db.prepare<[], number>('SELECT MAX(rowid) FROM federation_events').pluck().get()!;
  let exits = 0;
  const worker = new SearchFoldWorker(db.name, { idleMs: 30, onExit: () => exits++ });
  expect(worker.start()).toBe(true);
  worker.fold();
  // Held here (no message of the worker read) until it folded the first 200: its idle answer
  // waits in this thread's queue while a backlog is stored and a new request posted.
  const until = Date.now() + 10_000;
  while (watermark() < last() && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  expect(watermark()).toBe(last());
  storeMessages(store, 'b', 'second', 20_000);
  worker.fold();
  // The stale idle answer is read now: the worker must not be ended before it folded the backlog.
  await worker.ended;
  expect(exits).toBe(1);
  expect(watermark()).toBe(last());
});

it('a catch-up asked after a message was stored covers it, also while an earlier one is answered but not yet read here', async () => {
  const store = await joinedWithoutIndex();
  storeMessages(store, 'a', 'early', 300);
  const watermark = () => Number(db.prepare<[], string>("SELECT value FROM search.search_state WHERE key = 'indexed_rowid'").pluck().get());
  const last = () => db.prepare<[], number>('SELECT MAX(rowid) FROM federation_events').pluck().get()!;
  const worker = new SearchFoldWorker(db.name, { idleMs: 5_000, onExit: () => undefined });
  expect(worker.start()).toBe(true);
  const first = worker.catchUp();
  // Held here until the worker folded all and answered: its answer waits in this thread's queue.
  const until = Date.now() + 10_000;
  while (watermark() < last() && Date.now() < until) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  // A message stored now, then a search's catch-up: it must not be answered by the first one's answer.
  store(event('m.message', 'late', { body: 'late' }));
  const second = worker.catchUp();
  expect(await first).toBe(true);
  expect(await second).toBe(true);
  expect(watermark()).toBe(last());
  worker.close();
  await worker.ended;
});

it('reactions or joins past the last message do not start a worker again and again: the watermark is saved past them', async () => {
  const store = await joinedWithoutIndex();
  store(event('m.message', 'm', { body: 'apricot' }));
  const before = new SearchIndex(db, { workerBacklog: Infinity });
  before.catchUp();
  await before.stop();
  for (let i = 0; i < 1_500; i++) store(event('m.reaction.add', `r${i}`, { target: '$m:alpha.test', key: `k${i}` }));
  const index = new SearchIndex(db, { workerIdleMs: 20 });
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  expect(index.workerStarts).toBeLessThanOrEqual(1);
  expect(Number(db.prepare("SELECT value FROM search.search_state WHERE key = 'indexed_rowid'").pluck().get())).toBe(db.prepare('SELECT MAX(rowid) FROM federation_events').pluck().get());
  await index.stop();
  // Restarted in that state: nothing to fold, no worker.
  const again = new SearchIndex(db, { workerIdleMs: 20 });
  expect((await again.search(OWNER, queryWords('apricot'), null, 5)).map((h) => h.event_id)).toEqual(['$m:alpha.test']);
  expect(again.workerStarts).toBe(0);
  await again.stop();
});

it('a worker whose rounds fail (the disk full) is not started again at once; a search fails in words meanwhile', async () => {
  const store = await joinedWithoutIndex();
  storeMessages(store, 'f', 'fig', 2_000);
  // Every fold's transaction ends as a full disk ends it.
  db.exec("CREATE TRIGGER search.full BEFORE INSERT ON message_search_rows BEGIN SELECT RAISE(ROLLBACK, 'database or disk is full'); END");
  const index = new SearchIndex(db, { workerIdleMs: 20 });
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  expect(index.workerStarts).toBe(1);
  await expect(index.search(OWNER, queryWords('fig'), null, 5)).rejects.toThrow(/full/);
  expect(index.workerStarts).toBe(1);
  db.exec('DROP TRIGGER search.full');
  await index.stop();
});

it('a search that stopped waiting, then the node stopping, leaves the backlog to the next start (nothing folded here meanwhile)', async () => {
  const store = await joinedWithoutIndex();
  storeMessages(store, 's', 'sloe', 20_000);
  const index = new SearchIndex(db);
  const answer = await index.searchWithin(OWNER, queryWords('sloe'), null, 5, 0);
  // 20,000 not folded yet, counted up to the cap (the count reads each one on this thread).
  expect(answer.unindexed).toBe(UNINDEXED_COUNT_CAP);
  await index.stop();
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  expect(indexedRows()).toBeLessThan(20_000);
});

it('continues from its watermark after a restart, indexing nothing twice', async () => {
  const first = room();
  first.store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  first.store(event('m.message', 'm1', { body: 'kiwi' }));
  first.rooms.search.catchUp();
  first.rooms.search.stop();
  first.store(event('m.message', 'm2', { body: 'kiwi again' })); // stored, not yet indexed
  const second = new SearchIndex(db);
  expect((await second.search(OWNER, queryWords('kiwi'), null, 10)).map((h) => h.event_id).sort()).toEqual(['$m1:alpha.test', '$m2:alpha.test']);
  expect(indexedRows()).toBe(2);
  second.stop();
});

it('an index kept in the events database (before migration 35) is dropped on upgrade and rebuilt in its own file, and keeps following edits', async ({ tempDb }) => {
  const { rooms, store } = room();
  store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  // Stored out of display order (the older message arrived last), as a catch-up would.
  depth = 500;
  store(event('m.message', 'new', { body: 'guava new' }));
  depth = 100;
  store(event('m.message', 'old', { body: 'guava old' }));
  rooms.search.stop();
  // The version 34 layout: the index and its watermark in the events database, no search file.
  db.exec(`
    CREATE VIRTUAL TABLE main.message_search USING fts5 (body, room_id UNINDEXED, event_id UNINDEXED, tokenize = 'unicode61 remove_diacritics 2');
    CREATE TABLE main.message_search_rows (event_rowid INTEGER PRIMARY KEY, search_rowid INTEGER NOT NULL UNIQUE);
    INSERT INTO main.message_search (rowid, body, room_id, event_id) VALUES (1, 'stale text', '${ROOM}', '$old:alpha.test');
    INSERT INTO settings (key, value) VALUES ('search_indexed_rowid', '999');
    DELETE FROM settings WHERE key = 'database_instance';
  `);
  undoMigrationsFrom33(db);
  db.pragma('user_version = 32');
  db.close();
  for (const suffix of ['', '-wal', '-shm']) rmSync(searchDatabaseFile(tempDb.file) + suffix, { force: true });
  db = tempDb.reopen();
  expect(db.pragma('user_version', { simple: true })).toBe(MIGRATIONS[MIGRATIONS.length - 1]!.version);
  expect(db.prepare("SELECT name FROM main.sqlite_schema WHERE name LIKE 'message_search%'").all()).toEqual([]);
  const upgraded = room();
  const found = async () => (await upgraded.rooms.search.search(OWNER, queryWords('guava'), null, 10)).map((h) => [h.event_id, h.body]);
  expect(await found()).toEqual([['$new:alpha.test', 'guava new'], ['$old:alpha.test', 'guava old']]);
  expect(await upgraded.rooms.search.search(OWNER, queryWords('stale'), null, 10)).toEqual([]);
  depth = 600;
  upgraded.store(event('m.message.edit', 'e', { target: '$old:alpha.test', body: 'guava edited' }));
  expect(await found()).toEqual([['$new:alpha.test', 'guava new'], ['$old:alpha.test', 'guava edited']]);
  expect(indexedRows()).toBe(2);
});

it('a search file made for another events database, or missing its tables, is rebuilt from the events', async ({ tempDb }) => {
  const first = room();
  first.store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  first.store(event('m.message', 'm1', { body: 'lychee' }));
  first.rooms.search.catchUp();
  first.rooms.search.stop();
  // A copied or restored paracord.db: its instance differs from the one the search file follows.
  db.exec("UPDATE search.message_search SET body = 'planted' ; UPDATE main.settings SET value = 'another' WHERE key = 'database_instance'");
  db = tempDb.reopen();
  const again = room();
  expect((await again.rooms.search.search(OWNER, queryWords('lychee'), null, 10)).map((h) => h.event_id)).toEqual(['$m1:alpha.test']);
  expect(await again.rooms.search.search(OWNER, queryWords('planted'), null, 10)).toEqual([]);
  again.rooms.search.stop();
  db.exec('DROP TABLE search.message_search_rows');
  db = tempDb.reopen();
  expect((await room().rooms.search.search(OWNER, queryWords('lychee'), null, 10)).map((h) => h.event_id)).toEqual(['$m1:alpha.test']);
});

it('is rebuilt when the events file lost what it had folded (a power cut) or an older paracord.db was put back', async ({ tempDb }) => {
  const first = room();
  first.store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  first.store(event('m.message', 'kept', { body: 'melon kept' }));
  first.store(event('m.message', 'old', { body: 'melon original' }));
  first.rooms.search.catchUp();
  // Committed, folded, then lost with the events file's last commits: an edit and a delete.
  first.store(event('m.message.edit', 'edit', { target: '$old:alpha.test', body: 'melon edited' }));
  first.store(event('m.message.delete', 'del', { target: '$kept:alpha.test' }));
  first.rooms.search.catchUp();
  await first.rooms.search.stop();
  db.exec("DELETE FROM main.federation_events WHERE event_id IN ('$edit:alpha.test', '$del:alpha.test')");
  db = tempDb.reopen();
  const after = room();
  // Another event takes a lost one's rowid; the index shows the events as stored.
  after.store(event('m.message', 'next', { body: 'melon next' }));
  expect((await after.rooms.search.search(OWNER, queryWords('melon'), null, 10)).map((h) => h.body)).toEqual(['melon next', 'melon original', 'melon kept']);
  expect(await after.rooms.search.search(OWNER, queryWords('edited'), null, 10)).toEqual([]);
  expect(indexedRows()).toBe(3);
  await after.rooms.search.stop();
  // The same rowids, other events (a paracord.db put back from a backup, then other messages stored).
  db.exec("UPDATE main.federation_events SET event_id = '$other:alpha.test', content = '{\"body\":\"melon other\"}' WHERE event_id = '$next:alpha.test'");
  db = tempDb.reopen();
  expect((await room().rooms.search.search(OWNER, queryWords('melon'), null, 10)).map((h) => h.body)).toEqual(['melon other', 'melon original', 'melon kept']);
});

it('a damaged search file is made again from the events; a fold the disk refused keeps nothing, its watermark neither', async ({ tempDb }) => {
  const first = room();
  first.store(event('m.member.join', 'j', { membership: 'join', role: 'owner' }, OWNER));
  first.store(event('m.message', 'a', { body: 'plum one' }));
  first.rooms.search.catchUp();
  await first.rooms.search.stop();
  db.close();
  const file = searchDatabaseFile(tempDb.file);
  for (const suffix of ['-wal', '-shm']) rmSync(file + suffix, { force: true });
  writeFileSync(file, 'not a database at all '.repeat(300));
  db = tempDb.reopen();
  const again = room();
  expect((await again.rooms.search.search(OWNER, queryWords('plum'), null, 10)).map((h) => h.event_id)).toEqual(['$a:alpha.test']);
  // The search file may not grow (as on a full disk): the fold fails whole and is tried again.
  again.store(event('m.message', 'b', { body: `plum two ${'x'.repeat(200_000)}` }));
  const pages = db.pragma('search.page_count', { simple: true }) as number;
  db.pragma(`search.max_page_count = ${pages}`);
  expect(() => again.rooms.search.catchUp()).toThrow(/full/);
  db.pragma('search.max_page_count = 1073741823');
  expect((await again.rooms.search.search(OWNER, queryWords('plum'), null, 10)).map((h) => h.event_id)).toEqual(['$b:alpha.test', '$a:alpha.test']);
});

it('gives messages of one depth keys of their own, also when another index folded into the same database meanwhile', async () => {
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
  expect((await one.search(OWNER, queryWords('quince'), null, 10)).map((h) => h.event_id).sort()).toEqual(['$s1:alpha.test', '$s2:alpha.test', '$s3:alpha.test']);
  one.stop();
  other.stop();
});

it("names the searcher's rooms by their keys: only their matches are read, another room's never found, and a room key is no word of a body", async () => {
  const { rooms, store } = room();
  const USER = '@u:alpha.test';
  const inRoom = (roomId: string, e: Envelope): Envelope => ({ ...e, room_id: roomId });
  const others = ['!2:alpha.test', '!3:alpha.test'];
  for (const id of others) rooms.createRoom({ room_id: id, name: id, host_server: 'alpha.test', created_at: 0 });
  for (const id of [ROOM, ...others]) store(inRoom(id, event('m.member.join', `j${id}`, { membership: 'join', role: 'owner' }, OWNER)));
  // The user is in ROOM and !3 only.
  for (const id of [ROOM, '!3:alpha.test']) store(inRoom(id, event('m.member.join', `u${id}`, { membership: 'join' }, USER)));
  for (const [i, id] of [ROOM, ...others, ROOM].entries()) store(inRoom(id, event('m.message', `k${i}`, { body: `kiwi ${i}` })));
  const found = async (user: string, words: string[], roomId: string | null = null, limit = 10) => (await rooms.search.search(user, words, roomId, limit)).map((h) => h.event_id);
  expect(await found(USER, queryWords('kiwi'))).toEqual(['$k3:alpha.test', '$k2:alpha.test', '$k0:alpha.test']);
  expect(await found(OWNER, queryWords('kiwi'))).toEqual(['$k3:alpha.test', '$k2:alpha.test', '$k1:alpha.test', '$k0:alpha.test']);
  expect(await found(USER, queryWords('kiwi'), '!2:alpha.test')).toEqual([]);
  expect(await found(OWNER, queryWords('kiwi'), '!2:alpha.test')).toEqual(['$k1:alpha.test']);
  // The match names the body's column: a word that is a room's key finds nothing.
  expect(await found(OWNER, [roomKey(ROOM)])).toEqual([]);
  expect(searchExpression(['kiwi'], [roomKey(ROOM)])).toBe(`body : ("kiwi") AND room_key : ("${roomKey(ROOM)}")`);
  // In more rooms than one match names (MAX_ROOM_KEYS), a match per group of keys, merged newest first: the same hits.
  for (let i = 0; i < MAX_ROOM_KEYS; i++) {
    const id = `!many${i}:alpha.test`;
    rooms.createRoom({ room_id: id, name: id, host_server: 'alpha.test', created_at: 0 });
    store(inRoom(id, event('m.member.join', `m${i}`, { membership: 'join' }, USER)));
  }
  expect(await found(USER, queryWords('kiwi'))).toEqual(['$k3:alpha.test', '$k2:alpha.test', '$k0:alpha.test']);
  // A newer hit in another group of keys comes first.
  store(inRoom(`!many${MAX_ROOM_KEYS - 1}:alpha.test`, event('m.message', 'k4', { body: 'kiwi 4' })));
  expect(await found(USER, queryWords('kiwi'))).toEqual(['$k4:alpha.test', '$k3:alpha.test', '$k2:alpha.test', '$k0:alpha.test']);
  expect(await found(USER, queryWords('kiwi'), null, 2)).toEqual(['$k4:alpha.test', '$k3:alpha.test']);
  // And one in none finds nothing (not even asked).
  expect(await found('@nobody:alpha.test', queryWords('kiwi'))).toEqual([]);
});
