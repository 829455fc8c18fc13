/**
 * Bans per (room, user) (issue #20 item 2), kept as events are applied. Like membership, each
 * entry follows the m.member.ban / m.member.unban event with the greatest display key, so every
 * server holding the same events computes the same bans, whatever order they arrived in.
 */
import type { Envelope } from '../federation/envelope.ts';
import type { Db } from '../store/database.ts';
import { compareDisplayOrder } from './event-types.ts';

export interface BanView {
  user_id: string;
  by: string;
  reason: string | null;
  at: number;
}

interface BanRow {
  banned: number;
  event_id: string;
  event_depth: number;
  event_origin: string;
}

export class RoomBans {
  private readonly getStmt;
  private readonly upsertStmt;
  private readonly listStmt;

  constructor(db: Db) {
    this.getStmt = db.prepare<[string, string], BanRow>('SELECT banned, event_id, event_depth, event_origin FROM room_bans WHERE room_id = ? AND user_id = ?');
    this.upsertStmt = db.prepare(
      `INSERT INTO room_bans (room_id, user_id, banned, by_user, reason, at, event_id, event_depth, event_origin)
       VALUES (@room_id, @user_id, @banned, @by_user, @reason, @at, @event_id, @event_depth, @event_origin)
       ON CONFLICT (room_id, user_id) DO UPDATE SET banned = excluded.banned, by_user = excluded.by_user, reason = excluded.reason,
         at = excluded.at, event_id = excluded.event_id, event_depth = excluded.event_depth, event_origin = excluded.event_origin`,
    );
    this.listStmt = db.prepare<[string], { user_id: string; by_user: string; reason: string | null; at: number }>(
      'SELECT user_id, by_user, reason, at FROM room_bans WHERE room_id = ? AND banned = 1 ORDER BY at, user_id',
    );
  }

  isBanned(roomId: string, userId: string): boolean {
    return this.getStmt.get(roomId, userId)?.banned === 1;
  }

  list(roomId: string): BanView[] {
    return this.listStmt.all(roomId).map((r) => ({ user_id: r.user_id, by: r.by_user, reason: r.reason, at: r.at }));
  }

  /** Folds one event in (inside the storing transaction); other event types are ignored. */
  apply(event: Envelope): void {
    if ((event.event_type !== 'm.member.ban' && event.event_type !== 'm.member.unban') || event.state_key === null) return;
    const existing = this.getStmt.get(event.room_id, event.state_key);
    if (existing && compareDisplayOrder({ depth: existing.event_depth, origin_server: existing.event_origin, event_id: existing.event_id }, event) >= 0) return;
    const reason = typeof event.content.reason === 'string' ? event.content.reason : null;
    this.upsertStmt.run({
      room_id: event.room_id, user_id: event.state_key, banned: event.event_type === 'm.member.ban' ? 1 : 0, by_user: event.sender, reason,
      // As the host decided: the event's signed time.
      at: event.origin_ts, event_id: event.event_id, event_depth: event.depth, event_origin: event.origin_server,
    });
  }
}
