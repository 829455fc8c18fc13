/**
 * Read markers and unread counts of local users (issue #20 item 4). A marker is the last
 * message a user has seen in a room, in display order; it only moves forward and is never
 * federated. Unread: messages by others, after the user's join, after the marker, not
 * deleted. Mentions: those of them whose current text (after their author's latest edit, as
 * the timeline shows it) names the user as `@localpart` or `@localpart:server` — a mention an
 * edit adds to an unread message counts, one an edit removes no longer does.
 */
import { transactionWithoutFsync, type Db } from '../store/database.ts';
import { compareDisplayOrder } from './event-types.ts';

/** Unread messages counted per room at most (the badge shows "999+"-style caps beyond). */
export const MAX_UNREAD_COUNTED = 10_000;

interface Position {
  depth: number;
  origin_server: string;
  event_id: string;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Does `body` mention the user (by id, or by localpart as a display name)? */
export function mentions(body: string, userId: string): boolean {
  const localpart = userId.slice(1, userId.indexOf(':'));
  const pattern = new RegExp(`(^|[^\\p{L}\\p{N}_])@(${escapeRegExp(userId.slice(1))}|${escapeRegExp(localpart)})(?![\\p{L}\\p{N}_]|:[A-Za-z0-9\\[])`, 'iu');
  return pattern.test(body);
}

export class ReadMarkers {
  private readonly db: Db;
  private readonly getStmt;
  private readonly upsertStmt;

  constructor(db: Db) {
    this.db = db;
    this.getStmt = db.prepare<[string, string], Position>('SELECT depth, origin_server, event_id FROM room_read_markers WHERE room_id = ? AND user_id = ?');
    this.upsertStmt = db.prepare(
      `INSERT INTO room_read_markers (room_id, user_id, event_id, depth, origin_server, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (room_id, user_id) DO UPDATE SET event_id = excluded.event_id, depth = excluded.depth,
         origin_server = excluded.origin_server, updated_at = excluded.updated_at`,
    );
  }

  marker(roomId: string, userId: string): Position | undefined {
    return this.getStmt.get(roomId, userId);
  }

  /**
   * Moves the marker to `event` unless it already is at or after it. True when it moved. Written
   * without waiting for the disk: the UI sets a marker for every message a user sees, and an fsync
   * on the main thread for each (tens of ms on a slow disk) is too dear for a hint whose loss on a
   * power cut only shows a message as unread again (the next durable commit flushes it anyway).
   */
  markRead(roomId: string, userId: string, event: Position, now = Date.now()): boolean {
    const current = this.getStmt.get(roomId, userId);
    if (current && compareDisplayOrder(current, event) >= 0) return false;
    transactionWithoutFsync(this.db, () => this.upsertStmt.run(roomId, userId, event.event_id, event.depth, event.origin_server, now));
    return true;
  }

  /** Unread and mention counts of `userId` in a room they joined at `joinedAt`. */
  counts(roomId: string, userId: string, joinedAt: Position): { unread: number; mentions: number } {
    const marker = this.getStmt.get(roomId, userId);
    const after = marker && compareDisplayOrder(marker, joinedAt) > 0 ? marker : joinedAt;
    // Each unread message's current text: its author's latest edit (in display order, wherever it
    // stands), as the timeline shows it — one lookup in the relations index per message, never a
    // read of every edit after the marker (a peer's 20,000 edits of one message: red team 2026-11-26).
    const rows = this.db
      .prepare<[string, string, number, string, string, number], { event_id: string; sender: string; body: unknown }>(
        `SELECT m.event_id, m.sender, COALESCE(
             (SELECT json_extract(x.content, '$.body') FROM federation_events x INDEXED BY federation_events_relates_type
               WHERE x.relates_to = m.event_id AND x.event_type = 'm.message.edit' AND x.room_id = m.room_id AND x.sender = m.sender
                 AND typeof(json_extract(x.content, '$.body')) = 'text'
               ORDER BY x.depth DESC, x.origin_server DESC, x.event_id DESC LIMIT 1),
             json_extract(m.content, '$.body')) AS body
         FROM federation_events m
         WHERE m.room_id = ? AND m.event_type = 'm.message' AND m.sender <> ?
           AND (m.depth, m.origin_server, m.event_id) > (?, ?, ?)
           AND NOT EXISTS (SELECT 1 FROM federation_events d WHERE d.relates_to = m.event_id AND d.event_type = 'm.message.delete' AND d.room_id = m.room_id)
         LIMIT ?`,
      )
      .all(roomId, userId, after.depth, after.origin_server, after.event_id, MAX_UNREAD_COUNTED);
    let mentionCount = 0;
    for (const row of rows) if (typeof row.body === 'string' && mentions(row.body, userId)) mentionCount++;
    return { unread: rows.length, mentions: mentionCount };
  }
}
