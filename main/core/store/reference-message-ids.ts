import type { Envelope } from '../federation/envelope.ts';
import type { Db } from './database.ts';

/**
 * The reference's names for messages (`reference_message_ids`): it names edit, delete and
 * reaction targets by the `message_id` the origin put on its m.message
 * (federation/reference/vocabulary.ts). Indexed per (room, origin) as each message is stored;
 * the first message per message_id wins. FederationEvents keeps it with its rows.
 */
export class ReferenceMessageIds {
  private readonly db: Db;
  private noteStmt: import('better-sqlite3').Statement<[string, string, string, string]> | undefined;

  constructor(db: Db) {
    this.db = db;
  }

  /** Notes the message_id of a message being stored (in its transaction). */
  note(envelope: Envelope): void {
    const messageId = envelope.event_type === 'm.message' ? envelope.content.message_id : undefined;
    if (typeof messageId === 'string' && messageId.length > 0 && messageId.length <= 64) {
      (this.noteStmt ??= this.db.prepare<[string, string, string, string]>('INSERT OR IGNORE INTO reference_message_ids (room_id, origin_server, message_id, event_id) VALUES (?, ?, ?, ?)')).run(
        envelope.room_id, envelope.origin_server, messageId, envelope.event_id,
      );
    }
  }

  /** The event a message_id names in a room: `origin`'s own first ('' = any origin). */
  eventOf(roomId: string, origin: string, messageId: string): string | undefined {
    const row = origin === ''
      ? this.db.prepare<[string, string], { event_id: string }>('SELECT event_id FROM reference_message_ids WHERE room_id = ? AND message_id = ? LIMIT 1').get(roomId, messageId)
      : this.db.prepare<[string, string, string], { event_id: string }>('SELECT event_id FROM reference_message_ids WHERE room_id = ? AND origin_server = ? AND message_id = ?').get(roomId, origin, messageId);
    return row?.event_id;
  }

  /** The message_id a stored m.message carries, if any. */
  messageIdOf(eventId: string): string | undefined {
    // By the event's primary key, then the map's: the map has no index on event_id, and a scan
    // of it made every reaction and edit of our users cost a pass over every message (issue #17).
    // The map keeps the first message per message_id: a later message reusing one has none here.
    return this.db
      .prepare<[string], { message_id: string }>(
        `SELECT r.message_id FROM federation_events e
         JOIN reference_message_ids r ON r.room_id = e.room_id AND r.origin_server = e.origin_server AND r.message_id = json_extract(e.content, '$.message_id')
         WHERE e.event_id = ? AND e.event_type = 'm.message' AND r.event_id = e.event_id`,
      )
      .get(eventId)?.message_id;
  }
}
