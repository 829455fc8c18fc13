/**
 * The federation_events table: every signed event this node holds, exactly as signed.
 * Inserting is idempotent by event id: the same signed content again is a no-op, other
 * content under a known id is a conflict (409 event_id_conflict).
 */
import { randomInt } from 'node:crypto';
import { canonicalJson } from '../crypto/canonical-json.ts';
import { conflict } from '../errors.ts';
import type { Envelope } from '../federation/envelope.ts';
import { serverOf } from '../../../shared/identifiers.ts';
import { RELAYED_MAX_FUTURE_MS } from '../rooms/ordering.ts';
import { inOneRead, type Db } from './database.ts';
import { ReferenceMessageIds } from './reference-message-ids.ts';
import { PAGE_BYTES, utf8Bytes, withinBytes } from '../federation/page-budget.ts';

/**
 * A page for callers that only know `since_depth` takes at most this many events of its last
 * depth beyond `limit` (with the byte budget: a depth of small events fits whole).
 */
export const MAX_DEPTH_GROUP = 5_000;

interface EventRow {
  event_id: string;
  room_id: string;
  event_type: string;
  sender: string;
  origin_server: string;
  origin_ts: number;
  depth: number;
  state_key: string | null;
  content: string;
  signatures: string;
  content_hash: string;
  received_from: string | null;
  received_at: number;
  relates_to: string | null;
  /** The depth as signed, when `depth` (the local ordering column) was re-derived (migration 5). */
  signed_depth: number | null;
}

/** A catch-up position: after the event `event_id` at ordering depth `depth`. */
export interface EventCursor {
  depth: number;
  event_id: string;
}

/**
 * One origin's events of a room after a cursor (ofOrigin, the member side of GET /own-events):
 * searched in federation_events_room_origin (migration 47), not in every event of the room.
 */
export const OF_ORIGIN_SQL = 'SELECT * FROM federation_events WHERE room_id = ? AND origin_server = ? AND (depth, event_id) > (?, ?) ORDER BY depth, event_id LIMIT ?';

/** Where an event stands in display order (shared/display-order.ts). */
export interface EventPosition {
  depth: number;
  origin_server: string;
  event_id: string;
}

/** The latest events of a type before `anchor` (a row value: a subquery or parameters), newest `limit`, in display order. */
const latestOfTypeBelowSql = (anchor: string) =>
  `SELECT * FROM (SELECT * FROM federation_events WHERE room_id = ? AND event_type = ?
     AND (depth, origin_server, event_id) < ${anchor}
     ORDER BY depth DESC, origin_server DESC, event_id DESC LIMIT ?)
   ORDER BY depth, origin_server, event_id`;

/** A message's latest edit by its author with a text body (`bound`: a further condition). */
const latestEditSql = (bound: string) =>
  `SELECT * FROM federation_events INDEXED BY federation_events_relates_type
   WHERE relates_to = ? AND event_type = 'm.message.edit' AND room_id = ? AND sender = ? AND typeof(json_extract(content, '$.body')) = 'text' ${bound}
   ORDER BY depth DESC, origin_server DESC, event_id DESC LIMIT 1`;

/** An event stored after a changes cursor (FederationEvents.arrivedSince): what it is, names, and where it stands. */
export interface ArrivedEvent extends EventPosition {
  event_type: string;
  relates_to: string | null;
  state_key: string | null;
}

export class FederationEvents {
  private readonly db: Db;
  private readonly getStmt;
  private readonly hashStmt;
  private readonly maxRowidStmt;
  private readonly arrivedStmt;
  private readonly insertStmt;
  /** The reference's message_id names, noted as each message is stored (reference-message-ids.ts). */
  private readonly messageIds: ReferenceMessageIds;

  constructor(db: Db) {
    this.db = db;
    this.messageIds = new ReferenceMessageIds(db);
    this.getStmt = db.prepare<[string], EventRow>('SELECT * FROM federation_events WHERE event_id = ?');
    this.hashStmt = db.prepare<[string], { content_hash: string }>('SELECT content_hash FROM federation_events WHERE event_id = ?');
    this.maxRowidStmt = db.prepare<[], number | null>('SELECT MAX(rowid) FROM federation_events').pluck();
    this.arrivedStmt = db.prepare<[number, number, string], ArrivedEvent>(
      'SELECT event_type, event_id, relates_to, state_key, depth, origin_server FROM federation_events WHERE rowid > ? AND rowid <= ? AND room_id = ? ORDER BY rowid',
    );
    this.insertStmt = db.prepare(
      `INSERT INTO federation_events (event_id, room_id, event_type, sender, origin_server, origin_ts, depth, state_key, content, signatures, content_hash, received_from, received_at, relates_to)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /**
   * The room changes cursor (`listMessages?since=`, message-page.ts): the largest rowid of this
   * table, which grows with every event stored in arrival order, and this process's rewrite epoch.
   * The epoch starts at a random value with each process and moves whenever rows are rewritten or
   * deleted (`noteRewrite`): a reissued event changes its depth in place, and a deleted row with
   * the largest rowid would let the next insert reuse it. A cursor from another epoch is not
   * followed: its holder gets a whole page instead.
   */
  private rewriteEpoch = randomInt(1, 2 ** 31);

  changeCursor(): string {
    return `${this.maxRowidStmt.get() ?? 0}-${this.rewriteEpoch}`;
  }

  /** Whatever deletes or rewrites rows of this table in place calls this (see changeCursor). */
  noteRewrite(): void {
    this.rewriteEpoch = (this.rewriteEpoch % 2 ** 31) + 1;
  }

  /**
   * The room's events stored after `cursor` (type, id and the target of a relation), in arrival
   * order; `null` when the cursor is not one to follow (another epoch, ahead of the table) or more
   * than `scanAtMost` events of any room arrived since (the caller then reads a whole page).
   */
  arrivedSince(roomId: string, cursor: string, scanAtMost: number): ArrivedEvent[] | null {
    const match = /^(\d{1,15})-(\d{1,10})$/.exec(cursor);
    if (!match || Number(match[2]) !== this.rewriteEpoch) return null;
    const from = Number(match[1]);
    const to = this.maxRowidStmt.get() ?? 0;
    if (from > to || to - from > scanAtMost) return null;
    return this.arrivedStmt.all(from, to, roomId);
  }

  /** Runs reads that belong together (a received batch's checks) in one read transaction. */
  readTogether<T>(read: () => T): T {
    return inOneRead(this.db, read);
  }

  hashOf(eventId: string): string | undefined {
    return this.hashStmt.get(eventId)?.content_hash;
  }

  private hashesStmt: import('better-sqlite3').Statement<[string], { event_id: string; content_hash: string }> | undefined;

  /** hashOf for several ids in one statement (a batch asks for all its events at once); stored ids only. */
  hashesOf(eventIds: readonly string[]): Map<string, string> {
    const found = new Map<string, string>();
    if (eventIds.length === 0) return found;
    this.hashesStmt ??= this.db.prepare<[string], { event_id: string; content_hash: string }>(
      'SELECT event_id, content_hash FROM federation_events WHERE event_id IN (SELECT value FROM json_each(?))',
    );
    for (const row of this.hashesStmt.all(JSON.stringify(eventIds))) found.set(row.event_id, row.content_hash);
    return found;
  }

  get(eventId: string): Envelope | undefined {
    const row = this.getStmt.get(eventId);
    return row ? rowToEnvelope(row) : undefined;
  }

  /** Inserts the event; `inserted: false` when the same signed content is already stored. */
  insert(envelope: Envelope, hash: string, receivedFrom: string | null, now = Date.now()): { inserted: boolean } {
    const existing = this.hashStmt.get(envelope.event_id);
    if (existing) {
      if (existing.content_hash === hash) return { inserted: false };
      throw conflict('event_id_conflict', `event ${envelope.event_id} is already stored with different content`);
    }
    this.insertNew(envelope, hash, receivedFrom, { now });
    return { inserted: true };
  }

  /** Inserts an event the caller knows is not stored yet (it asked hashOf in the same transaction). */
  insertNew(
    envelope: Envelope,
    hash: string,
    receivedFrom: string | null,
    options: { now?: number; contentJson?: string | undefined; signaturesJson?: string | undefined; relatesTo?: string | null } = {},
  ): void {
    this.insertStmt.run(
      envelope.event_id,
      envelope.room_id,
      envelope.event_type,
      envelope.sender,
      envelope.origin_server,
      envelope.origin_ts,
      envelope.depth,
      envelope.state_key,
      options.contentJson ?? canonicalJson(envelope.content),
      options.signaturesJson ?? canonicalJson(envelope.signatures),
      hash,
      receivedFrom,
      options.now ?? Date.now(),
      options.relatesTo !== undefined ? options.relatesTo : typeof envelope.content.target === 'string' ? envelope.content.target : null,
    );
    this.messageIds.note(envelope);
  }

  private relationTargetsStmt: import('better-sqlite3').Statement<[string], { relates_to: string }> | undefined;

  /**
   * The messages these events (edits, deletes, reactions) relate to; events that relate to none
   * add nothing. One statement for any number of ids (a JSON array), compiled once: it runs after
   * every settled delivery while a screen listens.
   */
  relationTargets(eventIds: readonly string[]): string[] {
    if (eventIds.length === 0) return [];
    this.relationTargetsStmt ??= this.db.prepare<[string], { relates_to: string }>(
      'SELECT relates_to FROM federation_events WHERE event_id IN (SELECT value FROM json_each(?)) AND relates_to IS NOT NULL',
    );
    return this.relationTargetsStmt.all(JSON.stringify(eventIds)).map((row) => row.relates_to);
  }

  /** Several events by id in one query (the outbox loads a batch at once); missing ids are absent. */
  getMany(eventIds: readonly string[]): Map<string, Envelope> {
    const found = new Map<string, Envelope>();
    for (let start = 0; start < eventIds.length; start += 100) {
      const chunk = eventIds.slice(start, start + 100);
      const rows = this.db.prepare<string[], EventRow>(`SELECT * FROM federation_events WHERE event_id IN (${chunk.map(() => '?').join(',')})`).all(...chunk);
      for (const row of rows) found.set(row.event_id, rowToEnvelope(row));
    }
    return found;
  }

  /** The latest `limit` events of a type in a room, in display order. */
  latestOfType(roomId: string, eventType: string, limit: number): Envelope[] {
    return this.db
      .prepare<[string, string, number], EventRow>(
        `SELECT * FROM (SELECT * FROM federation_events WHERE room_id = ? AND event_type = ?
           ORDER BY depth DESC, origin_server DESC, event_id DESC LIMIT ?)
         ORDER BY depth, origin_server, event_id`,
      )
      .all(roomId, eventType, limit)
      .map(rowToEnvelope);
  }

  /** The latest `limit` events of a type that come before the event `beforeId` in display order (a page further up). */
  latestOfTypeBefore(roomId: string, eventType: string, limit: number, beforeId: string): Envelope[] {
    return this.db
      .prepare<[string, string, string, number], EventRow>(latestOfTypeBelowSql('(SELECT depth, origin_server, event_id FROM federation_events WHERE event_id = ?)'))
      .all(roomId, eventType, beforeId, limit)
      .map(rowToEnvelope);
  }

  /**
   * The latest `limit` events of a type before position `below` in display order (which need not
   * be a stored event's): what a user who left a room reads of it, up to its leave (message-page.ts).
   */
  latestOfTypeBelow(roomId: string, eventType: string, limit: number, below: EventPosition): Envelope[] {
    return this.db
      .prepare<[string, string, number, string, string, number], EventRow>(latestOfTypeBelowSql('(?, ?, ?)'))
      .all(roomId, eventType, below.depth, below.origin_server, below.event_id, limit)
      .map(rowToEnvelope);
  }

  /**
   * A user's own messages after `after` (its cut: the end of its latest join) and before `below`
   * (a page's anchor, if any), the latest `limit` in display order. They were written before its
   * node stored the cut (a send is refused after that), so their depths lie at most a day (the
   * room clock's furthest lead, ordering.ts RELAYED_MAX_FUTURE_MS) past when that event arrived
   * here: the scan of its server's events in the room stops there, however long ago the cut was.
   */
  ownMessagesAfter(roomId: string, sender: string, after: EventPosition, below: EventPosition | null, limit: number): Envelope[] {
    const anchor = below ?? { depth: Number.MAX_SAFE_INTEGER, origin_server: '', event_id: '' };
    this.ownAfterStmt ??= this.db.prepare<[string, string, number, string, number, number, string, string, number, string, string, string, number], EventRow>(
      `SELECT * FROM (SELECT * FROM federation_events INDEXED BY federation_events_room_origin
         WHERE room_id = ? AND origin_server = ? AND depth >= ? AND depth <= (SELECT received_at FROM federation_events WHERE event_id = ?) + ?
           AND (depth, origin_server, event_id) > (?, ?, ?) AND (depth, origin_server, event_id) < (?, ?, ?)
           AND event_type = 'm.message' AND sender = ?
         ORDER BY depth DESC, event_id DESC LIMIT ?)
       ORDER BY depth, origin_server, event_id`,
    );
    return this.ownAfterStmt
      .all(roomId, serverOf(sender), after.depth, after.event_id, RELAYED_MAX_FUTURE_MS, after.depth, after.origin_server, after.event_id, anchor.depth, anchor.origin_server || '\uffff', anchor.event_id, sender, limit)
      .map(rowToEnvelope);
  }

  private ownAfterStmt: import('better-sqlite3').Statement<[string, string, number, string, number, number, string, string, number, string, string, string, number], EventRow> | undefined;

  /**
   * The latest `limit` events of a room, any type, in display order, within `maxBytes` on the
   * wire (page-budget.ts): the newest ones are kept; `complete` when they are the whole room.
   */
  latest(roomId: string, limit: number, maxBytes = PAGE_BYTES): { events: Envelope[]; complete: boolean } {
    const newestFirst = this.db
      .prepare<[string, number], EventRow>('SELECT * FROM federation_events WHERE room_id = ? ORDER BY depth DESC, origin_server DESC, event_id DESC LIMIT ?')
      .all(roomId, limit + 1);
    const kept = withinBytes(newestFirst.slice(0, limit), rowWireBytes, maxBytes);
    return { events: kept.items.reverse().map(rowToEnvelope), complete: !kept.cut && newestFirst.length <= limit };
  }

  /**
   * A room's events of one origin after the cursor (ordering depth, event id; '' = from the
   * depth's start), in order, at most `limit` and within `maxBytes` on the wire: what a member
   * serves a restored host of its own events (GET /own-events, docs/PROTOCOL.md). `complete`
   * when none of that origin follows the page.
   */
  ofOrigin(roomId: string, origin: string, sinceDepth: number, afterEventId: string, limit: number, maxBytes = PAGE_BYTES): { events: Envelope[]; complete: boolean; last: EventCursor | null } {
    const rows = this.db
      .prepare<[string, string, number, string, number], EventRow>(OF_ORIGIN_SQL)
      .all(roomId, origin, sinceDepth, afterEventId, limit + 1);
    const kept = withinBytes(rows.slice(0, limit), rowWireBytes, maxBytes);
    const last = kept.items[kept.items.length - 1];
    return { events: kept.items.map(rowToEnvelope), complete: !kept.cut && rows.length <= limit, last: last ? { depth: last.depth, event_id: last.event_id } : null };
  }


  /** The event a message_id names in a room: `origin`'s own first ('' = any origin). */
  messageEvent(roomId: string, origin: string, messageId: string): string | undefined {
    return this.messageIds.eventOf(roomId, origin, messageId);
  }

  /** The message_id a stored m.message carries, if any. */
  messageIdOf(eventId: string): string | undefined {
    return this.messageIds.messageIdOf(eventId);
  }

  /** The room a stored event is in (here: a reference channel's message is in its channel room). */
  roomOf(eventId: string): string | undefined {
    return this.db.prepare<[string], { room_id: string }>('SELECT room_id FROM federation_events WHERE event_id = ?').get(eventId)?.room_id;
  }

  /** The origin_server of a stored event (ids do not say it: the opaque part may hold `:`). */
  originOf(eventId: string): string | undefined {
    return this.db.prepare<[string], { origin_server: string }>('SELECT origin_server FROM federation_events WHERE event_id = ?').get(eventId)?.origin_server;
  }

  /** What a stored event relates to (its target), as indexed when it was stored. */
  relatesToOf(eventId: string): string | undefined {
    return this.db.prepare<[string], { relates_to: string | null }>('SELECT relates_to FROM federation_events WHERE event_id = ?').get(eventId)?.relates_to ?? undefined;
  }

  /** Events of the room that relate to any of `targets`, in display order. */
  relatedTo(roomId: string, targets: readonly string[]): Envelope[] {
    if (targets.length === 0) return [];
    const placeholders = targets.map(() => '?').join(',');
    return this.db
      .prepare<unknown[], EventRow>(
        // Without statistics the planner prefers the room index (for the ORDER BY) and scans the
        // whole room; the relates_to index finds the few related events directly.
        `SELECT * FROM federation_events INDEXED BY federation_events_relates_to
         WHERE relates_to IS NOT NULL AND relates_to IN (${placeholders}) AND room_id = ?
         ORDER BY depth, origin_server, event_id`,
      )
      .all(...targets, roomId)
      .map(rowToEnvelope);
  }

  private firstDeleteStmt: import('better-sqlite3').Statement<[string, string], EventRow> | undefined;
  private latestEditStmt: import('better-sqlite3').Statement<[string, string, string], EventRow> | undefined;
  private latestEditBelowStmt: import('better-sqlite3').Statement<[string, string, string, number, string, string], EventRow> | undefined;

  /**
   * What a message shows of its edits and deletes (messages-view.ts): its first delete in display
   * order, and the latest edit by its author with a text body. Two lookups in the relations index
   * (relates_to, event_type, depth, origin_server, event_id) per message, however many relations
   * name it: a fold of every edit made one message with 20,000 edits cost its page 270 ms.
   * `upTo`: only edits before that position count (a user who left reads the text as it was at its
   * leave); a delete counts wherever it stands (a deleted message is gone for everyone).
   */
  messageRelations(roomId: string, message: { event_id: string; sender: string }, upTo?: EventPosition): { delete?: Envelope; edit?: Envelope } {
    this.firstDeleteStmt ??= this.db.prepare<[string, string], EventRow>(
      `SELECT * FROM federation_events INDEXED BY federation_events_relates_type
       WHERE relates_to = ? AND event_type = 'm.message.delete' AND room_id = ?
       ORDER BY depth, origin_server, event_id LIMIT 1`,
    );
    const deleted = this.firstDeleteStmt.get(message.event_id, roomId);
    if (deleted) return { delete: rowToEnvelope(deleted) };
    let edit: EventRow | undefined;
    if (upTo) {
      this.latestEditBelowStmt ??= this.db.prepare(latestEditSql('AND (depth, origin_server, event_id) < (?, ?, ?)'));
      edit = this.latestEditBelowStmt.get(message.event_id, roomId, message.sender, upTo.depth, upTo.origin_server, upTo.event_id);
    } else {
      this.latestEditStmt ??= this.db.prepare(latestEditSql(''));
      edit = this.latestEditStmt.get(message.event_id, roomId, message.sender);
    }
    return edit ? { edit: rowToEnvelope(edit) } : {};
  }

  /** Whether an event of `type` relates to `target` (a delete of a message), by index. */
  hasRelatedOfType(roomId: string, target: string, type: string): boolean {
    return (
      this.db
        .prepare<[string, string, string], { one: number }>(
          `SELECT 1 AS one FROM federation_events INDEXED BY federation_events_relates_type
           WHERE relates_to IS NOT NULL AND relates_to = ? AND event_type = ? AND room_id = ? LIMIT 1`,
        )
        .get(target, type, roomId) !== undefined
    );
  }

  /**
   * Catch-up page in display order, at most `limit` events and `maxBytes` on the wire
   * (page-budget.ts). With `after` (a cursor from an earlier page), exactly the events after it.
   * Without (callers that only know `since_depth`, the reference's form), the events with
   * depth > sinceDepth, and a page never ends inside a depth while the whole depth fits in a
   * page: `since_depth = last depth` then skips nothing. Only a depth that alone exceeds a page
   * is split, and its cursor then needs the event id. `complete` is true only when nothing comes
   * after the page. `last` is the cursor of the page's last event (its ordering depth, not the signed one).
   */
  since(roomId: string, sinceDepth: number, limit: number, after?: string, maxBytes = PAGE_BYTES): { events: Envelope[]; complete: boolean; last: EventCursor | null } {
    // Rows are read one by one and the reading stops at the byte budget: a page of large events
    // never loads more than it serves (plus one row).
    let events: EventRow[] = [];
    let bytes = 0;
    let cut = false;
    const take = (rows: IterableIterator<EventRow>) => {
      for (const row of rows) {
        const size = rowWireBytes(row);
        if (events.length > 0 && bytes + size > maxBytes) {
          cut = true;
          break; // ends the statement (better-sqlite3 resets it)
        }
        bytes += size;
        events.push(row);
      }
    };
    if (after !== undefined) {
      take(
        this.db
          .prepare<[string, number, string, string, number], EventRow>(
            'SELECT * FROM federation_events WHERE room_id = ? AND (depth, origin_server, event_id) > (?, ?, ?) ORDER BY depth, origin_server, event_id LIMIT ?',
          )
          .iterate(roomId, sinceDepth, this.originOf(after) ?? serverOf(after), after, limit),
      );
    } else {
      take(this.db.prepare<[string, number, number], EventRow>('SELECT * FROM federation_events WHERE room_id = ? AND depth > ? ORDER BY depth, origin_server, event_id LIMIT ?').iterate(roomId, sinceDepth, limit));
      const lastOfRows = events[events.length - 1];
      if (!cut && events.length === limit && lastOfRows) {
        // The rest of the page's last depth joins it (a depth-only cursor cannot point inside one).
        take(
          this.db
            .prepare<[string, number, string, string, number], EventRow>(
              'SELECT * FROM federation_events WHERE room_id = ? AND depth = ? AND (origin_server, event_id) > (?, ?) ORDER BY origin_server, event_id LIMIT ?',
            )
            .iterate(roomId, lastOfRows.depth, lastOfRows.origin_server, lastOfRows.event_id, MAX_DEPTH_GROUP),
        );
      }
    }
    let lastRow = events[events.length - 1];
    // The depth of the first event after the page, if any: "complete" says there is none.
    const following = lastRow
      ? this.db
          .prepare<[string, number, string, string], { depth: number }>(
            'SELECT depth FROM federation_events WHERE room_id = ? AND (depth, origin_server, event_id) > (?, ?, ?) ORDER BY depth, origin_server, event_id LIMIT 1',
          )
          .get(roomId, lastRow.depth, lastRow.origin_server, lastRow.event_id)?.depth
      : undefined;
    if (after === undefined && lastRow && following === lastRow.depth) {
      // Cut inside a depth (bytes, or a depth larger than a page): the page ends at the depth
      // before when it holds one; a page of one split depth needs the event id to go on.
      const splitDepth = lastRow.depth;
      const whole = events.filter((r) => r.depth !== splitDepth);
      if (whole.length > 0) {
        events = whole;
        lastRow = events[events.length - 1];
      }
    }
    return { events: events.map(rowToEnvelope), complete: following === undefined, last: lastRow ? { depth: lastRow.depth, event_id: lastRow.event_id } : null };
  }

  /**
   * Replaces our own event, refused by its room's host as too old, by its re-issue: same id,
   * type, sender and content, a new origin_ts, depth and signature. Nobody else holds the
   * refused version (members receive events only through the host, which refused it).
   */
  reissue(envelope: Envelope, hash: string): void {
    this.noteRewrite();
    this.db
      .prepare('UPDATE federation_events SET origin_ts = ?, depth = ?, signed_depth = NULL, signatures = ?, content_hash = ? WHERE event_id = ?')
      .run(envelope.origin_ts, envelope.depth, canonicalJson(envelope.signatures), hash, envelope.event_id);
  }
}

/**
 * At least the size of a stored event on the wire (its envelope as JSON): its stored JSON fields,
 * its strings, and 200 bytes for the keys, punctuation and numbers (about 170 are used).
 */
function rowWireBytes(row: EventRow): number {
  return utf8Bytes(row.content) + row.signatures.length + row.event_id.length + row.room_id.length + row.event_type.length +
    utf8Bytes(row.sender) + row.origin_server.length + (row.state_key === null ? 0 : utf8Bytes(row.state_key)) + 200;
}

function rowToEnvelope(row: EventRow): Envelope {
  return {
    event_id: row.event_id,
    room_id: row.room_id,
    event_type: row.event_type,
    sender: row.sender,
    origin_server: row.origin_server,
    origin_ts: row.origin_ts,
    depth: row.signed_depth ?? row.depth,
    state_key: row.state_key,
    content: JSON.parse(row.content) as Record<string, unknown>,
    signatures: JSON.parse(row.signatures) as Envelope['signatures'],
  };
}
