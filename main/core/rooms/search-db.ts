/**
 * The search index's own SQLite file (issue #36): `paracord-search.db` beside `paracord.db`,
 * attached to a connection of the node's database as the schema `search`. The index is derived
 * data; in a file of its own its writes (FTS5 segments, merges, their checkpoints) no longer
 * share the events' write-ahead log and write lock, so the folding can run on another thread
 * (search-worker.ts) while the main thread commits events.
 *
 * The file holds the index, its key table and its state: how far it has folded the events
 * (`indexed_rowid`, and `indexed_event`, the id of the event at that rowid) and which events
 * database it follows (`instance`, the random id migration 35 gives each `paracord.db`). When
 * these do not match the events (openedIndexState), the file is emptied and rebuilt.
 */
import { chmodSync, closeSync, existsSync, openSync, rmSync } from 'node:fs';
import type { Db } from '../store/connection.ts';

/** Bumped when the layout below changes: the file is then rebuilt. */
const LAYOUT_VERSION = 3;

/** The search file of an events database file (`:memory:` stays in memory). */
export function searchDatabaseFile(eventsFile: string): string {
  if (eventsFile === ':memory:' || eventsFile === '') return ':memory:';
  return eventsFile.replace(/(\.db)?$/, '-search.db');
}

const LAYOUT = `
  -- room_key: one token naming the message's room (search-match.ts roomKey), matched with the
  -- words, so a search in a few rooms reads their matches only (layout 3).
  CREATE VIRTUAL TABLE IF NOT EXISTS search.message_search USING fts5 (
    body, room_key, room_id UNINDEXED, event_id UNINDEXED,
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

/** The search file's files, removed to rebuild it (a damaged or foreign file). */
function removeSearchFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm', '-journal']) rmSync(file + suffix, { force: true });
}

/**
 * Attaches the search file and checks it (openedIndexState); a file that cannot be opened or read
 * (damaged, not a database, left by another user) is removed and made again when `mayReset`
 * (the main thread, before any fold worker has it open). Returns the index's watermark.
 */
export function openSearchIndex(db: Db, mayReset: boolean): number {
  try {
    attachSearchDatabase(db);
    return openedIndexState(db);
  } catch (error) {
    const file = searchDatabaseFile(db.name);
    if (!mayReset || file === ':memory:') throw error;
    if (db.inTransaction) db.exec('ROLLBACK');
    if (attached(db)) db.exec('DETACH DATABASE search');
    removeSearchFiles(file);
    attachSearchDatabase(db);
    return openedIndexState(db);
  }
}

/**
 * The rowid of the last event folded in, after checking the file is this database's index and
 * that the events it folded are still the stored ones. Rebuilt from nothing when not: made for
 * another `paracord.db` (a copy) or in another layout; or folded past the last stored event, or
 * its last folded event is not the one stored at that rowid — the events file lost commits the
 * index had folded (a power cut: the two files are flushed independently, and the fold reads
 * what is committed before it is flushed), or an older `paracord.db` was put back from a backup.
 * An edit or delete folded from a lost event would otherwise stay in the index for good.
 */
export function openedIndexState(db: Db): number {
  const instance = (db.prepare("SELECT value FROM main.settings WHERE key = 'database_instance'").get() as { value: string } | undefined)?.value ?? '';
  db.transaction(() => {
    const version = db.pragma('search.user_version', { simple: true }) as number;
    const state = () => new Map((db.prepare('SELECT key, value FROM search.search_state').all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    const tables = db.prepare("SELECT COUNT(*) FROM search.sqlite_schema WHERE name IN ('message_search', 'message_search_rows', 'search_state')").pluck().get();
    const current = version === LAYOUT_VERSION && tables === 3 ? state() : null;
    const at = Number(current?.get('indexed_rowid') ?? 0);
    const last = (db.prepare('SELECT MAX(rowid) AS m FROM main.federation_events').get() as { m: number | null }).m ?? 0;
    const stored = at > 0 && at <= last ? (indexedEventAt(db, at) ?? '') : '';
    if (current && current.get('instance') === instance && at <= last && (current.get('indexed_event') ?? '') === stored) return;
    db.exec('DROP TABLE IF EXISTS search.message_search; DROP TABLE IF EXISTS search.message_search_rows; DROP TABLE IF EXISTS search.search_state;');
    db.exec(LAYOUT);
    db.prepare("INSERT INTO search.search_state (key, value) VALUES ('instance', ?), ('indexed_rowid', '0'), ('indexed_event', '')").run(instance);
    db.pragma(`search.user_version = ${LAYOUT_VERSION}`);
  })();
  return Number((db.prepare("SELECT value FROM search.search_state WHERE key = 'indexed_rowid'").get() as { value: string }).value);
}

/** The id of the event stored at a rowid (what the index records beside its watermark). */
export function indexedEventAt(db: Db, rowid: number): string | undefined {
  return (db.prepare('SELECT event_id FROM main.federation_events WHERE rowid = ?').get(rowid) as { event_id: string } | undefined)?.event_id;
}
