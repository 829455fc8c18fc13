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
}

export class FederationEvents {
  private readonly getStmt;
  private readonly hashStmt;
  private readonly insertStmt;

  constructor(db: Db) {
    this.getStmt = db.prepare<[string], EventRow>('SELECT * FROM federation_events WHERE event_id = ?');
    this.hashStmt = db.prepare<[string], { content_hash: string }>('SELECT content_hash FROM federation_events WHERE event_id = ?');
    this.insertStmt = db.prepare(
      `INSERT INTO federation_events (event_id, room_id, event_type, sender, origin_server, origin_ts, depth, state_key, content, signatures, content_hash, received_from, received_at)
       VALUES (@event_id, @room_id, @event_type, @sender, @origin_server, @origin_ts, @depth, @state_key, @content, @signatures, @content_hash, @received_from, @received_at)`,
    );
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
    this.insertStmt.run({
      event_id: envelope.event_id,
      room_id: envelope.room_id,
      event_type: envelope.event_type,
      sender: envelope.sender,
      origin_server: envelope.origin_server,
      origin_ts: envelope.origin_ts,
      depth: envelope.depth,
      state_key: envelope.state_key,
      content: canonicalJson(envelope.content),
      signatures: canonicalJson(envelope.signatures),
      content_hash: hash,
      received_from: receivedFrom,
      received_at: now,
    });
    return { inserted: true };
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
