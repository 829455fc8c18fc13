/**
 * The search index's own SQLite file (issue #36): `paracord-search.db` beside `paracord.db`,
 * attached to a connection of the node's database as the schema `search`. The index is derived
 * data; in a file of its own its writes (FTS5 segments, merges, their checkpoints) no longer
 * share the events' write-ahead log and write lock, so the folding can run on another thread
 * (search-folder.ts) while the main thread commits events.
 *
 * The file holds the index, its key table and its state: how far it has folded the events
 * (`indexed_rowid`) and which events database it follows (`instance`, the random id migration
 * 35 gives each `paracord.db`). A file made by another layout, or for another events database (a
 * copied or restored `paracord.db`), is emptied and rebuilt from the events. The two files are
 * flushed independently: after a power loss the index can have folded events the events file
 * lost; it then forgets what lies past the last stored event and folds again from there.
 */
import { chmodSync, closeSync, existsSync, openSync } from 'node:fs';
import type { Db } from '../store/database.ts';

/** Bumped when the layout below changes: the file is then rebuilt. */
const LAYOUT_VERSION = 1;

/** The search file of an events database file (`:memory:` stays in memory). */
export function searchDatabaseFile(eventsFile: string): string {
  if (eventsFile === ':memory:' || eventsFile === '') return ':memory:';
  return eventsFile.replace(/(\.db)?$/, '-search.db');
}

const LAYOUT = `
  CREATE VIRTUAL TABLE IF NOT EXISTS search.message_search USING fts5 (
    body, room_id UNINDEXED, event_id UNINDEXED,
    tokenize = 'unicode61 remove_diacritics 2'
  );
  -- Each message (its federation_events rowid) and its time-ordered key in message_search.
  CREATE TABLE IF NOT EXISTS search.message_search_rows (
    event_rowid   INTEGER PRIMARY KEY,
    search_rowid  INTEGER NOT NULL UNIQUE
  );
  CREATE TABLE IF NOT EXISTS search.search_state (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
  );
`;

function attached(db: Db): boolean {
  return (db.pragma('database_list') as { name: string }[]).some((d) => d.name === 'search');
}

/** Attaches the search file to `db` as `search` (once per connection). */
export function attachSearchDatabase(db: Db): void {
  if (attached(db)) return;
  const file = searchDatabaseFile(db.name);
  if (file !== ':memory:') {
    // Created private (0600) before SQLite opens it; its -wal and -shm take the file's mode.
    if (!existsSync(file)) closeSync(openSync(file, 'a', 0o600));
    for (const suffix of ['', '-wal', '-shm']) if (existsSync(file + suffix)) chmodSync(file + suffix, 0o600);
  }
  db.prepare('ATTACH DATABASE ? AS search').run(file);
  db.pragma('search.journal_mode = WAL');
  // Derived data: consistent after a crash (WAL), flushed at checkpoints only.
  db.pragma('search.synchronous = NORMAL');
}

/** The rowid of the last event folded in, after checking the file is this database's index. */
export function openedIndexState(db: Db): number {
  const instance = (db.prepare("SELECT value FROM main.settings WHERE key = 'database_instance'").get() as { value: string } | undefined)?.value ?? '';
  db.transaction(() => {
    const version = db.pragma('search.user_version', { simple: true }) as number;
    const state = () => new Map((db.prepare('SELECT key, value FROM search.search_state').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    const tables = db.prepare("SELECT COUNT(*) FROM search.sqlite_schema WHERE name IN ('message_search', 'message_search_rows', 'search_state')").pluck().get();
    let current = version === LAYOUT_VERSION && tables === 3 ? state() : null;
    if (!current || current.get('instance') !== instance) {
      db.exec('DROP TABLE IF EXISTS search.message_search; DROP TABLE IF EXISTS search.message_search_rows; DROP TABLE IF EXISTS search.search_state;');
      db.exec(LAYOUT);
      db.prepare("INSERT INTO search.search_state (key, value) VALUES ('instance', ?), ('indexed_rowid', '0')").run(instance);
      db.pragma(`search.user_version = ${LAYOUT_VERSION}`);
      current = state();
    }
    // Folded past the last stored event (the events file lost its last commits in a power
    // failure, the index kept them): those rowids will be given to other events.
    const last = (db.prepare('SELECT MAX(rowid) AS m FROM main.federation_events').get() as { m: number | null }).m ?? 0;
    if (Number(current.get('indexed_rowid') ?? 0) > last) {
      db.prepare('DELETE FROM search.message_search WHERE rowid IN (SELECT search_rowid FROM search.message_search_rows WHERE event_rowid > ?)').run(last);
      db.prepare('DELETE FROM search.message_search_rows WHERE event_rowid > ?').run(last);
      db.prepare("UPDATE search.search_state SET value = ? WHERE key = 'indexed_rowid'").run(String(last));
    }
  })();
  return Number((db.prepare("SELECT value FROM search.search_state WHERE key = 'indexed_rowid'").get() as { value: string }).value);
}
