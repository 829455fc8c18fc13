/**
 * Bans per (room, user) (issue #20 item 2), kept as events are applied. Like membership, each
 * entry follows the m.member.ban / m.member.unban event with the greatest display key, so every
 * server holding the same events computes the same bans, whatever order they arrived in.
 */
import { serverOf } from '../../../shared/identifiers.ts';
import type { Envelope } from '../federation/envelope.ts';
import type { Db } from '../store/database.ts';
import { compareDisplayOrder } from './event-types.ts';
import { MAX_CLOCK_SKEW_MS } from './ordering.ts';

/**
 * After this long from the ban reaching a server, every event it still sends for the banned user
 * counts as abuse, whatever time it was signed at: an honest server's backlog (sent once, at its
 * next delivery attempt: at most minutes after the link came back) is long gone by then.
 */
export const BANNED_BACKLOG_GRACE_MS = 3600_000;

/**
 * Whether an event (or join) for a banned user, refused by the host, counts against the server
 * that sent it (docs/SECURITY.md item 9): only once that server had the ban (`knownAt`, the
 * host's time its delivery was acknowledged; null: not yet), for an event signed after it — more
 * than the clock skew we allow later — or arriving past the backlog grace. A server cut off when
 * its user was banned accepted their messages meanwhile; that backlog is refused, not held
 * against it.
 */
export function bannedEventIsAbuse(knownAt: number | null, originTs: number, now: number): boolean {
  if (knownAt === null) return false;
  return originTs > knownAt + MAX_CLOCK_SKEW_MS || now > knownAt + BANNED_BACKLOG_GRACE_MS;
}

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
  private readonly knownAtStmt;
  private readonly deliveredStmt;
  private readonly markKnownStmt;

  constructor(db: Db) {
    this.getStmt = db.prepare<[string, string], BanRow>('SELECT banned, event_id, event_depth, event_origin FROM room_bans WHERE room_id = ? AND user_id = ?');
    this.upsertStmt = db.prepare(
      `INSERT INTO room_bans (room_id, user_id, banned, by_user, reason, at, event_id, event_depth, event_origin, known_at)
       VALUES (@room_id, @user_id, @banned, @by_user, @reason, @at, @event_id, @event_depth, @event_origin, @known_at)
       ON CONFLICT (room_id, user_id) DO UPDATE SET banned = excluded.banned, by_user = excluded.by_user, reason = excluded.reason,
         at = excluded.at, event_id = excluded.event_id, event_depth = excluded.event_depth, event_origin = excluded.event_origin,
         known_at = excluded.known_at`,
    );
    this.knownAtStmt = db.prepare<[string, string], { known_at: number | null }>('SELECT known_at FROM room_bans WHERE room_id = ? AND user_id = ? AND banned = 1');
    this.deliveredStmt = db.prepare<[string, string, number], { user_id: string }>(
      'SELECT user_id FROM room_bans WHERE room_id = ? AND event_id = ? AND banned = 1 AND (known_at IS NULL OR known_at > ?)',
    );
    // The earliest wins: a ban noted known from later (held there: inbound-events.ts) and then read there for real is known from then.
    this.markKnownStmt = db.prepare('UPDATE room_bans SET known_at = ? WHERE room_id = ? AND user_id = ? AND (known_at IS NULL OR known_at > ?)');
    this.listStmt = db.prepare<[string], { user_id: string; by_user: string; reason: string | null; at: number }>(
      'SELECT user_id, by_user, reason, at FROM room_bans WHERE room_id = ? AND banned = 1 ORDER BY at, user_id',
    );
  }

  /**
   * Whether (room, user) is banned, read for every event's authorization: cached, absent entries
   * too. Every write goes through apply, which drops its entry; rollbacks clear it all (forget,
   * through RoomStore.forgetCachedMembership), as for membership rows.
   */
  private readonly bannedCache = new Map<string, boolean>();

  isBanned(roomId: string, userId: string): boolean {
    const key = `${roomId}\n${userId}`;
    const cached = this.bannedCache.get(key);
    if (cached !== undefined) return cached;
    const banned = this.getStmt.get(roomId, userId)?.banned === 1;
    if (this.bannedCache.size >= 10_000) this.bannedCache.clear();
    this.bannedCache.set(key, banned);
    return banned;
  }

  /** Drops what isBanned cached (a rolled-back transaction may have written bans). */
  forget(): void {
    this.bannedCache.clear();
  }

  /** When the banned user's server acknowledged the ban (null: not yet, or not banned). */
  knownAt(roomId: string, userId: string): number | null {
    return this.knownAtStmt.get(roomId, userId)?.known_at ?? null;
  }

  /**
   * `destination` read the event `eventId` of `roomId` (acknowledged, refused, or pulled): if it is the
   * ban in force and `destination` is the banned user's server, that server has the ban from `at`
   * (now, or later for a ban it holds for review), unless it had it from earlier.
   */
  noteRead(roomId: string, eventId: string, destination: string, at: number): void {
    const row = this.deliveredStmt.get(roomId, eventId, at);
    if (row && serverOf(row.user_id) === destination) this.markKnownStmt.run(at, roomId, row.user_id, at);
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
    this.bannedCache.delete(`${event.room_id}\n${event.state_key}`);
    this.upsertStmt.run({
      room_id: event.room_id, user_id: event.state_key, banned: event.event_type === 'm.member.ban' ? 1 : 0, by_user: event.sender, reason,
      // As the host decided: the event's signed time.
      at: event.origin_ts, event_id: event.event_id, event_depth: event.depth, event_origin: event.origin_server,
      // A ban made on the banned user's own server (by a moderator there) is known to it at once.
      known_at: event.event_type === 'm.member.ban' && event.origin_server === serverOf(event.state_key) ? event.origin_ts : null,
    });
  }
}
