/**
 * Full-text search over messages (issue #20 item 5): an SQLite FTS5 table holding the current
 * text of every message, kept in step with the stored events — an edit replaces the text, a
 * delete removes it — so a search never returns deleted or edited-away text.
 *
 * The index is in a file of its own (search-db.ts) and follows the events table behind a
 * watermark (the last rowid folded in, kept in that file), not inside each storing transaction
 * (issue #17): FTS5 writes a segment per transaction, ~40 µs per message when messages come one at
 * a time. A timer folds in what is new a moment later, in one transaction — on a worker thread
 * when a backlog built up (search-worker.ts), else here — and every search first catches up, so
 * a search always sees every stored message. The index is derived data: its file is flushed only
 * at its checkpoints, and after a crash the watermark and the index are behind together and
 * catch up (or are rebuilt, search-db.ts `openedIndexState`). Queries are
 * made of plain words: whatever the user types (quotes, NEAR(, *, AND, column filters) is cut
 * into words and each word is searched as a quoted string, never as FTS syntax.
 *
 * The index's rowid is a time-ordered key (migration 20): the message's depth * 2^20 plus a
 * tie-breaker among messages indexed with the same depth (message_search_rows maps each message
 * to its key). A search asks FTS5 for the matches in descending key order: FTS5 walks its doclist
 * newest first, the room filter is applied to each match as it comes, and the LIMIT stops the
 * walk — a word found in every message costs a page, not the whole history. A search by a user
 * not in every room also names its rooms' keys (one token a message, `room_key`; MAX_ROOM_KEYS a
 * match, merged): FTS5 then reads the matches in those rooms only (a member of one small room
 * searched every match of the node's other rooms, 106 ms for a common word in 200,000 messages; a
 * red-team review, 2026-11-30), the room filter still deciding. The key is
 * computed in SQL only (it does not fit a JavaScript number). A message keeps the key of the
 * depth it was first indexed at; an edit or delete re-keys it from its current depth.
 */
import type { Envelope } from '../federation/envelope.ts';
import { jsonStringBytes, utf8Bytes, withinBytes } from '../federation/page-budget.ts';
import type { Db } from '../store/connection.ts';
import { indexedEventAt, openSearchIndex } from './search-db.ts';
import { FoldBurst, type FoldBurstOptions } from './fold-burst.ts';
import { SearchFoldWorker } from './search-fold-worker.ts';
import { MAX_ROOM_KEYS, RoomKeys, searchExpression } from './search-match.ts';
import { highlighter } from './search-words.ts';
import type { SearchResult } from '../../../shared/contract/admin/messages.ts';
import { UNINDEXED_COUNT_CAP } from '../../../shared/contract/admin/search-limits.ts';

/** One hit: the contract's SearchResult (shared/contract/admin/messages.ts). */
export type SearchHit = SearchResult;

/** A hit as the query reads it: its key in the index (as text), the message, its sender's name in the room. */
interface HitRow {
  search_key: string;
  room_id: string;
  event_id: string;
  sender: string;
  sender_display_name: string | null;
  body: string;
  origin_ts: number;
}

/** Events folded in per transaction while catching up. */
const CATCH_UP_ROWS = 500;
const WATERMARK_KEY = 'indexed_rowid';
const INDEXED_TYPES: ReadonlySet<string> = new Set(['m.message', 'm.message.edit', 'm.message.delete']);

/**
 * A backlog of at least this many events (a peer's batches at full speed, a catch-up, a rebuilt
 * index) is folded by a worker thread with its own connection (search-worker.ts), so the main
 * thread keeps storing meanwhile (issue #36: the fold was ~11 % of the main thread's work on batch
 * ingest). Below it — a chat, the rest of a burst after its pause — it is folded
 * here: the worker's thread costs CPU to start and memory after it ends (glibc keeps part of
 * what it freed: +3–5 MB of RSS, measured with sat-probe.ts PROBE_RSS=1), and the total CPU is the
 * same, so it only pays where this thread is the limit.
 */
const WORKER_BACKLOG = 1_000;
/** The worker ends after this long with nothing to fold. */
const WORKER_IDLE_MS = 1_000;

export interface SearchIndexOptions extends FoldBurstOptions {
  /** This index is the worker's own: it folds when asked, never by a timer or another thread. */
  inWorker?: boolean;
  /** Backlog (events) from which the worker folds; Infinity: never. */
  workerBacklog?: number;
  /** How long the worker waits for more before it ends (tests). */
  workerIdleMs?: number;
}

interface PendingRow {
  rowid: number;
  depth: number;
  room_id: string;
  event_id: string;
  event_type: string;
  relates_to: string | null;
  body: unknown;
}

interface MessageRow {
  rowid: number;
  depth: number;
  room_id: string;
  sender: string;
  event_type: string;
  body: unknown;
}

export class SearchIndex {
  private readonly db: Db;
  private readonly messageStmt;
  private readonly deletedStmt;
  private readonly latestEditStmt;
  private readonly removeStmt;
  private readonly removeKeyStmt;
  private readonly maxKeyStmt;
  private readonly keyStmt;
  private readonly insertStmt;
  private readonly joinedStmt;
  private readonly roomCountStmt;
  private readonly relatedStmt;
  private readonly pendingStmt;
  private readonly watermarkSetStmt;
  private readonly watermarkGetStmt;
  private readonly claimStmt;
  private readonly maxRowidStmt;
  private watermark = 0;
  /**
   * The largest key given out (or more, after removals): a message whose depth's keys all lie
   * above it is the first of its depth, and its key needs no read. -1 when none.
   */
  private largestKey = -1n;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly inWorker: boolean;
  private readonly workerBacklog: number;
  /** When the timer folds: after a pause, for a burst (fold-burst.ts). */
  private readonly burst: FoldBurst;
  /** The fold worker of a backlog (none in the worker itself); while it runs, it alone writes the index. */
  private readonly worker: SearchFoldWorker | null;

  constructor(db: Db, options: SearchIndexOptions = {}) {
    this.db = db;
    this.inWorker = options.inWorker ?? false;
    this.workerBacklog = options.workerBacklog ?? WORKER_BACKLOG;
    this.burst = new FoldBurst(options);
    this.worker = this.inWorker ? null : new SearchFoldWorker(db.name, { idleMs: options.workerIdleMs ?? WORKER_IDLE_MS, onExit: () => this.workerExited() });
    this.watermark = openSearchIndex(db, !this.inWorker);
    this.messageStmt = db.prepare<[string], MessageRow>(
      "SELECT rowid, depth, room_id, sender, event_type, json_extract(content, '$.body') AS body FROM federation_events WHERE event_id = ?",
    );
    // A relation counts only in its own room (as in the timeline, FederationEvents.messageRelations):
    // a host relays what it likes in a room it hosts, naming a message of any other room.
    this.deletedStmt = db.prepare<[string, string], { one: number }>(
      "SELECT 1 AS one FROM federation_events WHERE relates_to IS NOT NULL AND relates_to = ? AND event_type = 'm.message.delete' AND room_id = ? LIMIT 1",
    );
    this.latestEditStmt = db.prepare<[string, string, string], { body: unknown }>(
      `SELECT json_extract(content, '$.body') AS body FROM federation_events
       WHERE relates_to IS NOT NULL AND relates_to = ? AND event_type = 'm.message.edit' AND room_id = ? AND sender = ?
         AND typeof(json_extract(content, '$.body')) = 'text'
       ORDER BY depth DESC, origin_server DESC, event_id DESC LIMIT 1`,
    );
    this.removeStmt = db.prepare('DELETE FROM search.message_search WHERE rowid = (SELECT search_rowid FROM search.message_search_rows WHERE event_rowid = ?)');
    this.removeKeyStmt = db.prepare('DELETE FROM search.message_search_rows WHERE event_rowid = ?');
    // The largest key in use at a depth (keys pass 2^53: BigInt). The key is computed here and
    // both rows are plain VALUES inserts: `INSERT INTO message_search … SELECT` cost 3 × as much
    // per message (65 against 18 µs on this machine), the largest cost of a sending node at
    // saturation (issue #17, docs/PERFORMANCE.md).
    this.maxKeyStmt = db.prepare<[bigint, bigint], bigint | null>('SELECT MAX(search_rowid) FROM search.message_search_rows WHERE search_rowid BETWEEN ? AND ?').pluck().safeIntegers(true);
    this.keyStmt = db.prepare<[number, bigint]>('INSERT INTO search.message_search_rows (event_rowid, search_rowid) VALUES (?, ?)');
    this.insertStmt = db.prepare<[bigint, string, string, string, string]>('INSERT INTO search.message_search (rowid, body, room_key, room_id, event_id) VALUES (?, ?, ?, ?, ?)');
    this.joinedStmt = db.prepare<[string], string>("SELECT room_id FROM room_members WHERE user_id = ? AND membership = 'join'").pluck();
    this.roomCountStmt = db.prepare<[], number>('SELECT COUNT(*) FROM rooms').pluck();
    this.pendingStmt = db.prepare<[number, number], PendingRow>(
      `SELECT rowid, depth, room_id, event_id, event_type, relates_to, json_extract(content, '$.body') AS body FROM federation_events
       WHERE rowid > ? AND event_type IN ('m.message', 'm.message.edit', 'm.message.delete') ORDER BY rowid LIMIT ?`,
    );
    this.maxRowidStmt = db.prepare<[], { m: number | null }>('SELECT MAX(rowid) AS m FROM main.federation_events');
    this.watermarkSetStmt = db.prepare('UPDATE search.search_state SET value = ? WHERE key = ?');
    this.watermarkGetStmt = db.prepare<[string], string>('SELECT value FROM search.search_state WHERE key = ?').pluck();
    this.claimStmt = db.prepare('UPDATE search.search_state SET value = value WHERE key = ?');
    this.relatedStmt = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM federation_events WHERE relates_to IS NOT NULL AND relates_to = ? LIMIT 1');
    this.load();
    // Behind the events (a new index file, or one rebuilt): it catches up a round at a time.
    if (!this.inWorker && this.watermark < (this.maxRowidStmt.get()?.m ?? 0)) this.schedule(0);
  }

  /**
   * Reads where the index stands from its file: at start, and after another connection folded
   * into it (the fold worker, search-worker.ts).
   */
  load(): void {
    this.watermark = Math.max(this.watermark, Number(this.watermarkGetStmt.get(WATERMARK_KEY)));
    this.largestKey = (this.db.prepare('SELECT MAX(search_rowid) FROM search.message_search_rows').pluck().safeIntegers(true).get() as bigint | null) ?? -1n;
  }

  /** A stored event was applied (inside the storing transaction): the index catches up shortly. */
  apply(event: Envelope): void {
    if (this.inWorker || !INDEXED_TYPES.has(event.event_type)) return;
    this.burst.stored();
    this.schedule(this.burst.quietMs);
  }

  /**
   * The timer's catch-up folds one transaction's worth of events per turn and gives the event
   * loop back in between, so a large backlog (a long catch-up from a peer) never stops the node
   * for long; a search catches up completely before it queries.
   */
  private schedule(delayMs: number): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      try {
        const wait = this.db.open ? this.burst.waitMs(() => this.backlog()) : 0;
        if (wait > 0) {
          this.schedule(wait);
          return;
        }
        this.burst.folding();
        this.foldSome();
      } catch {
        // the database is closing or busy: the next search or message catches up
      }
    }, delayMs);
    this.timer.unref();
  }

  /** One turn of folding: the worker's while it runs or for a backlog, else a round here. */
  private foldSome(): void {
    if (!this.db.open || this.stopped) return;
    const worker = this.worker;
    if (worker?.running) {
      if (worker.closing) void worker.ended.then(() => this.schedule(0));
      else worker.fold();
      return;
    }
    if (worker && this.backlog() >= this.workerBacklog && worker.start()) {
      worker.fold();
      return;
    }
    if (this.catchUp(1)) this.schedule(0);
  }

  /** Events stored past the watermark (of every type: an upper bound of what is left to fold). */
  private backlog(): number {
    return (this.maxRowidStmt.get()?.m ?? 0) - this.watermark;
  }

  /** Whether the fold worker runs (tests). */
  get workerRunning(): boolean {
    return this.worker?.running ?? false;
  }

  /** Workers started so far (tests and probes). */
  get workerStarts(): number {
    return this.worker?.starts ?? 0;
  }

  /** After the worker ended: this thread folds from where it left the index (what is left too). */
  private workerExited(): void {
    try {
      if (this.db.open) {
        this.load();
        if (this.backlog() > 0 && !this.worker!.paused) this.schedule(0);
      }
    } catch {
      // closing: nothing more is folded here
    }
  }

  /**
   * Every stored message folded in: by the worker while it runs (started for a backlog, as a
   * rebuild's: the event loop goes on while the search waits), else here.
   */
  private async caughtUpNow(abandoned: () => boolean = () => false): Promise<void> {
    const worker = this.worker;
    if (worker && !worker.running && !this.stopped && this.backlog() >= this.workerBacklog) worker.start();
    while (worker?.running) {
      if (worker.closing) await worker.ended;
      else {
        // Answered by the worker (not by its exit, nor a failed round): the index has it all.
        if (await worker.catchUp()) return;
        if (worker.running) await worker.ended;
      }
    }
    // Here, a round at a time with the event loop running in between; not for a search that
    // stopped waiting, nor once the node stops.
    while (!abandoned() && !this.stopped && this.db.open && this.catchUp(1)) await new Promise((resolve) => setImmediate(resolve));
  }

  /** No more timers or worker (before the database is closed); resolves once the worker ended. */
  stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.worker?.close();
    return this.worker?.ended ?? Promise.resolve();
  }

  /**
   * Folds the stored messages, edits and deletes past the watermark into the index: all of them,
   * or at most `rounds` transactions of CATCH_UP_ROWS. True when some are left.
   */
  catchUp(rounds = Infinity): boolean {
    for (let round = 0; round < rounds; round++) {
      // Nothing stored past the watermark: no transaction.
      if ((this.maxRowidStmt.get()?.m ?? 0) <= this.watermark) return false;
      let folded = 0;
      this.db.transaction(() => {
        // The index's write lock first, so the watermark read next is the latest: another
        // connection (the fold worker, search-worker.ts) may have folded since.
        this.claimStmt.run(WATERMARK_KEY);
        const stored = Number(this.watermarkGetStmt.get(WATERMARK_KEY));
        this.watermark = Math.max(this.watermark, stored);
        const rows = this.pendingStmt.all(this.watermark, CATCH_UP_ROWS);
        const last = rows.length < CATCH_UP_ROWS ? Math.max(this.maxRowidStmt.get()?.m ?? 0, this.watermark) : rows[rows.length - 1]!.rowid;
        for (const row of rows) {
          try {
            this.fold(row);
          } catch (error) {
            // SQLite ended the transaction (the disk is full, an I/O error): nothing of this round
            // is kept, the watermark neither; the next fold tries again.
            if (!this.db.inTransaction) throw error;
            // one row that cannot be folded (its text left out of search) never stops the index
          }
        }
        // Saved whenever it moved (also past events of other types only: the claim wrote this
        // transaction already), so another connection, or this one after a restart, starts from it.
        if (last > stored) {
          this.watermarkSetStmt.run(String(last), WATERMARK_KEY);
          this.watermarkSetStmt.run(indexedEventAt(this.db, last) ?? '', 'indexed_event');
        }
        this.watermark = last;
        folded = rows.length;
      })();
      if (folded < CATCH_UP_ROWS) return false;
    }
    return true;
  }

  /** One event: a new message's text is in the row, unless an edit or delete of it came first. */
  private fold(row: PendingRow): void {
    if (row.event_type !== 'm.message') {
      if (row.relates_to !== null) this.reindex(row.relates_to);
      return;
    }
    if (typeof row.body !== 'string' || this.relatedStmt.get(row.event_id)) {
      this.reindex(row.event_id);
      return;
    }
    // A message with no edit or delete, past the watermark: never indexed (an edit or delete
    // folded earlier reindexes only a message stored by then, and this one is folded in rowid
    // order after them), so there is nothing to remove first.
    this.insertKeyed(row.rowid, row.depth, row.body, row.room_id, row.event_id);
  }

  private remove(eventRowid: number): void {
    this.removeStmt.run(eventRowid);
    this.removeKeyStmt.run(eventRowid);
  }

  /** (Re)indexes one message's text under a fresh key of its depth. */
  private index(eventRowid: number, depth: number, body: string, roomId: string, eventId: string): void {
    this.remove(eventRowid);
    this.insertKeyed(eventRowid, depth, body, roomId, eventId);
  }

  /** Indexes a message not in the index: under the next free key of its depth (depth clamped so the key fits 64 bits). */
  private insertKeyed(eventRowid: number, depth: number, body: string, roomId: string, eventId: string): void {
    const lo = BigInt(Math.min(Math.max(Math.trunc(depth), 0), 8796093022207)) * 1048576n;
    // Past every key given out (the usual case: depths grow with time), the depth has none yet.
    let key = lo;
    if (lo <= this.largestKey) key = this.nextKeyOfDepth(lo);
    try {
      this.keyStmt.run(eventRowid, key);
    } catch (error) {
      // Taken after all (another process folded into this database meanwhile): ask the index.
      if (key !== lo || lo <= this.largestKey) throw error;
      key = this.nextKeyOfDepth(lo);
      this.keyStmt.run(eventRowid, key);
    }
    this.insertStmt.run(key, body, this.roomKeys.of(roomId), roomId, eventId);
    if (key > this.largestKey) this.largestKey = key;
  }

  private readonly roomKeys = new RoomKeys();

  /** The next free key of the depth whose first key is `lo` (read from the index). */
  private nextKeyOfDepth(lo: bigint): bigint {
    const max = this.maxKeyStmt.get(lo, lo + 1048575n);
    return max === null || max === undefined ? lo : max + 1n;
  }

  /** The message's current text from its stored events (the same fold as the timeline). */
  private reindex(messageId: string): void {
    const message = this.messageStmt.get(messageId);
    if (!message || message.event_type !== 'm.message') return;
    if (this.deletedStmt.get(messageId, message.room_id)) {
      this.remove(message.rowid);
      return;
    }
    const edit = this.latestEditStmt.get(messageId, message.room_id, message.sender);
    const body = typeof edit?.body === 'string' ? edit.body : message.body;
    if (typeof body !== 'string') {
      this.remove(message.rowid);
      return;
    }
    this.index(message.rowid, message.depth, body, message.room_id, messageId);
  }

  /**
   * Messages matching every word, in the rooms `userId` has joined (or only `roomId`), newest
   * first. `words` come from queryWords (never raw user text). The inner query is what FTS5
   * answers by walking its matches in descending key order and stopping at `limit` (the room
   * filter is checked on each match; nothing is sorted); only that page is joined to the events.
   */
  async search(userId: string, words: string[], roomId: string | null, limit: number): Promise<SearchHit[]> {
    return (await this.searchWithin(userId, words, roomId, limit, Infinity)).hits;
  }

  /**
   * A search that waits at most `waitMs` for the index to catch up (a rebuild of a long history
   * after an upgrade takes a while; the event loop runs meanwhile): after that it searches what is
   * indexed, and `unindexed` says how many stored messages, edits and deletes it has not folded
   * yet (0: the answer covers everything).
   */
  async searchWithin(userId: string, words: string[], roomId: string | null, limit: number, waitMs: number): Promise<{ hits: SearchHit[]; unindexed: number }> {
    if (words.length === 0) return { hits: [], unindexed: 0 };
    let timer: NodeJS.Timeout | undefined;
    let gaveUp = false;
    let complete: boolean;
    try {
      complete = await Promise.race([
        this.caughtUpNow(() => gaveUp).then(() => true),
        ...(Number.isFinite(waitMs) ? [new Promise<boolean>((resolve) => (timer = setTimeout(resolve, waitMs, false)))] : []),
      ]);
    } finally {
      clearTimeout(timer);
    }
    gaveUp = !complete;
    const hits = this.query(userId, words, roomId, limit);
    return { hits, unindexed: complete ? 0 : this.unindexed(userId, roomId) };
  }

  /**
   * Messages, edits and deletes of the user's rooms (or of `roomId`) stored past the index's
   * stored watermark, counted up to UNINDEXED_COUNT_CAP (the count reads each of them).
   */
  private unindexed(userId: string, roomId: string | null): number {
    const watermark = Number(this.watermarkGetStmt.get(WATERMARK_KEY));
    return this.db
      .prepare<unknown[], number>(
        `SELECT COUNT(*) FROM (SELECT 1 FROM main.federation_events WHERE rowid > ? AND event_type IN ('m.message', 'm.message.edit', 'm.message.delete')
           AND room_id IN (SELECT room_id FROM room_members WHERE user_id = ? AND membership = 'join') ${roomId ? 'AND room_id = ?' : ''}
         LIMIT ${UNINDEXED_COUNT_CAP})`,
      )
      .pluck()
      .get(watermark, userId, ...(roomId ? [roomId] : [])) as number;
  }

  private query(userId: string, words: string[], roomId: string | null, limit: number): SearchHit[] {
    const rooms = roomId !== null ? [roomId] : this.joinedStmt.all(userId);
    if (rooms.length === 0) return [];
    // Keys narrow the search when the user is not in every room (the owner usually is: naming
    // them all would only slow its rare words down, 1.05 → 1.56 ms at 200,000 messages). In more
    // rooms than one match names (MAX_ROOM_KEYS), a match per MAX_ROOM_KEYS of them, merged.
    const narrows = roomId !== null || rooms.length < this.roomCountStmt.get()!;
    const keys = narrows ? rooms.map((r) => this.roomKeys.of(r)) : null;
    const groups = keys === null ? [null] : Array.from({ length: Math.ceil(keys.length / MAX_ROOM_KEYS) }, (_, i) => keys.slice(i * MAX_ROOM_KEYS, (i + 1) * MAX_ROOM_KEYS));
    const statement = this.db.prepare<unknown[], HitRow>(
      `SELECT CAST(m.search_key AS TEXT) AS search_key, m.room_id AS room_id, m.event_id AS event_id, e.sender AS sender, n.display_name AS sender_display_name, m.body AS body, e.origin_ts AS origin_ts
       FROM (
         SELECT rowid AS search_key, room_id, event_id, body FROM search.message_search
         WHERE message_search MATCH ?
           AND room_id IN (SELECT room_id FROM room_members WHERE user_id = ? AND membership = 'join')
           ${roomId ? 'AND room_id = ?' : ''}
         ORDER BY rowid DESC
         LIMIT ?
       ) m JOIN federation_events e ON e.event_id = m.event_id
       LEFT JOIN room_member_names n ON n.room_id = m.room_id AND n.user_id = e.sender
       ORDER BY m.search_key DESC`,
    );
    let found = groups.flatMap((group) => statement.all(searchExpression(words, group), userId, ...(roomId ? [roomId] : []), limit));
    // Newest first across the groups (keys pass 2^53: compared as BigInt).
    // A message found by two groups (two rooms whose keys collide, 64 bits: a host can make that) once.
    if (groups.length > 1) {
      const seen = new Set<string>();
      found = found
        .filter((row) => !seen.has(row.search_key) && seen.add(row.search_key) !== undefined)
        .sort((a, b) => (BigInt(b.search_key) > BigInt(a.search_key) ? 1 : BigInt(b.search_key) < BigInt(a.search_key) ? -1 : 0))
        .slice(0, limit);
    }
    const rows = found.map(({ search_key: _key, ...row }) => row);
    // The newest hits within the page budget (page-budget.ts).
    // The sender's display name in that room (docs/PROTOCOL.md "Display names"), when they have one.
    const marked = highlighter(words);
    const hits: SearchHit[] = rows.map(({ sender_display_name: name, ...r }) => ({ ...r, ...(name ? { sender_display_name: name } : {}), highlight: marked(r.body) }));
    return withinBytes(hits, (h) => jsonStringBytes(h.body) + jsonStringBytes(h.highlight) + utf8Bytes(h.sender) + jsonStringBytes(h.sender_display_name ?? '') + h.room_id.length + h.event_id.length + 120).items;
  }
}
