/**
 * The federation_events table: every signed event this node holds, exactly as signed.
 * Inserting is idempotent by event id: the same signed content again is a no-op, other
 * content under a known id is a conflict (409 event_id_conflict).
 */
import { canonicalJson } from '../crypto/canonical-json.ts';
import { conflict } from '../errors.ts';
import type { Envelope } from '../federation/envelope.ts';
import type { Db } from './database.ts';

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
}

export class FederationEvents {
  private readonly db: Db;
  private readonly getStmt;
  private readonly hashStmt;
  private readonly insertStmt;

  constructor(db: Db) {
    this.db = db;
    this.getStmt = db.prepare<[string], EventRow>('SELECT * FROM federation_events WHERE event_id = ?');
    this.hashStmt = db.prepare<[string], { content_hash: string }>('SELECT content_hash FROM federation_events WHERE event_id = ?');
    this.insertStmt = db.prepare(
      `INSERT INTO federation_events (event_id, room_id, event_type, sender, origin_server, origin_ts, depth, state_key, content, signatures, content_hash, received_from, received_at, relates_to)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  hashOf(eventId: string): string | undefined {
    return this.hashStmt.get(eventId)?.content_hash;
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
  insertNew(envelope: Envelope, hash: string, receivedFrom: string | null, options: { now?: number; contentJson?: string | undefined } = {}): void {
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
      canonicalJson(envelope.signatures),
      hash,
      receivedFrom,
      options.now ?? Date.now(),
      typeof envelope.content.target === 'string' ? envelope.content.target : null,
    );
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

  /** The latest `limit` events of a room, any type, in display order. */
  latest(roomId: string, limit: number): Envelope[] {
    return this.db
      .prepare<[string, number], EventRow>(
        `SELECT * FROM (SELECT * FROM federation_events WHERE room_id = ?
           ORDER BY depth DESC, origin_server DESC, event_id DESC LIMIT ?)
         ORDER BY depth, origin_server, event_id`,
      )
      .all(roomId, limit)
      .map(rowToEnvelope);
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

  /**
   * Catch-up page: events with depth > sinceDepth in display order. A page never splits the
   * events of one depth, so `since_depth = last depth` never skips any (up to a hard cap).
   */
  since(roomId: string, sinceDepth: number, limit: number): { events: Envelope[]; complete: boolean } {
    const rows = this.db
      .prepare<[string, number, number], EventRow>(
        'SELECT * FROM federation_events WHERE room_id = ? AND depth > ? ORDER BY depth, origin_server, event_id LIMIT ?',
      )
      .all(roomId, sinceDepth, limit + 1);
    const complete = rows.length <= limit;
    let page = rows.slice(0, limit);
    if (!complete && page.length > 0) {
      const lastDepth = page[page.length - 1]!.depth;
      const rest = this.db
        .prepare<[string, number, number], EventRow>(
          'SELECT * FROM federation_events WHERE room_id = ? AND depth = ? ORDER BY origin_server, event_id LIMIT ?',
        )
        .all(roomId, lastDepth, 1000);
      page = [...page.filter((r) => r.depth !== lastDepth), ...rest];
    }
    return { events: page.map(rowToEnvelope), complete };
  }
}

function rowToEnvelope(row: EventRow): Envelope {
  return {
    event_id: row.event_id,
    room_id: row.room_id,
    event_type: row.event_type,
    sender: row.sender,
    origin_server: row.origin_server,
    origin_ts: row.origin_ts,
    depth: row.depth,
    state_key: row.state_key,
    content: JSON.parse(row.content) as Record<string, unknown>,
    signatures: JSON.parse(row.signatures) as Envelope['signatures'],
  };
}
