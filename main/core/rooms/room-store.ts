/**
 * Rooms, members and local users in SQLite. Membership follows the membership event with the
 * greatest display key (depth, origin_server, event_id), so every server that holds the
 * same events computes the same membership, whatever order they arrived in.
 */
import type { Db } from '../store/database.ts';
import type { Envelope } from '../federation/envelope.ts';
import type { EventPosition } from '../store/federation-events.ts';
import { serverOf } from '../../../shared/identifiers.ts';
import { MAX_INVITE_LIFETIME_MS, compareDisplayOrder, joinDisplayName } from './event-types.ts';
import { ReactionIndex } from './reaction-index.ts';
import { RoomBans } from './room-bans.ts';
import { SearchIndex } from './search-index.ts';
import { ReadMarkers } from './read-markers.ts';
import { RELAYED_MAX_FUTURE_MS, clockAfter } from './ordering.ts';
import { ownValue } from '../../../shared/own-value.ts';

export type Membership = 'invite' | 'join' | 'leave';
export type Role = 'owner' | 'moderator' | 'member';

export interface RoomRow {
  room_id: string;
  name: string;
  host_server: string;
  created_at: number;
  last_depth: number;
}

export interface MemberRow {
  room_id: string;
  user_id: string;
  server_name: string;
  membership: Membership;
  role: Role;
  invite_expires_at: number | null;
  event_id: string;
  event_depth: number;
  event_origin: string;
  updated_at: number;
}

/** A user's latest m.member.join in a room (display order): one seek in migration 48's index. */
export const LATEST_JOIN_SQL = `SELECT depth, origin_server, event_id FROM federation_events INDEXED BY federation_events_room_state
  WHERE room_id = ? AND state_key = ? AND event_type = 'm.member.join' ORDER BY depth DESC, origin_server DESC, event_id DESC LIMIT 1`;
/** A user's first membership event of a type after a position (display order): one seek too. */
export const FIRST_OF_TYPE_AFTER_SQL = `SELECT depth, origin_server, event_id FROM federation_events INDEXED BY federation_events_room_state
  WHERE room_id = ? AND state_key = ? AND event_type = ? AND (depth, origin_server, event_id) > (?, ?, ?)
  ORDER BY depth, origin_server, event_id LIMIT 1`;

export class RoomStore {
  private readonly db: Db;
  private readonly roomStmt;
  private readonly memberStmt;
  private readonly bumpDepthStmt;
  private readonly latestRoleStmt;
  /** Current reactions, kept by apply() (issue #14 item 4). */
  readonly reactions: ReactionIndex;
  /** Bans, the message search index and read markers (issue #20), kept by apply(). */
  readonly bans: RoomBans;
  readonly search: SearchIndex;
  readonly readMarkers: ReadMarkers;

  /** Our server's name, once the node has an identity (membership of our own users: `takes`). */
  private readonly serverName: () => string | null;

  constructor(db: Db, options: { maxReactionsPerUserPerMessage?: number; serverName?: () => string | null } = {}) {
    this.db = db;
    this.serverName = options.serverName ?? (() => null);
    this.reactions = new ReactionIndex(db, options.maxReactionsPerUserPerMessage);
    this.bans = new RoomBans(db);
    this.search = new SearchIndex(db);
    this.readMarkers = new ReadMarkers(db);
    this.roomStmt = db.prepare<[string], RoomRow>('SELECT * FROM rooms WHERE room_id = ?');
    this.memberStmt = db.prepare<[string, string], MemberRow>('SELECT * FROM room_members WHERE room_id = ? AND user_id = ?');
    this.bumpDepthStmt = db.prepare('UPDATE rooms SET last_depth = MAX(last_depth, ?) WHERE room_id = ?');
    this.latestRoleStmt = db.prepare<[string, string], { depth: number; origin_server: string; event_id: string }>(
      `SELECT depth, origin_server, event_id FROM federation_events WHERE room_id = ? AND event_type = 'm.room.role' AND state_key = ?
       ORDER BY depth DESC, origin_server DESC, event_id DESC LIMIT 1`,
    );
  }

  /**
   * Room rows are read several times per event (routing, authorization, clock); cached. The
   * cached clock is bumped by apply(), so it may run ahead of a rolled-back transaction —
   * harmless for a clock that only needs to grow — and rollbacks clear the cache anyway.
   */
  private readonly roomCache = new Map<string, RoomRow>();

  room(roomId: string): RoomRow | undefined {
    const cached = this.roomCache.get(roomId);
    if (cached) return cached;
    const row = this.roomStmt.get(roomId);
    if (row) {
      if (this.roomCache.size > 10_000) this.roomCache.clear();
      this.roomCache.set(roomId, row);
    }
    return row;
  }

  rooms(): RoomRow[] {
    return this.db.prepare<[], RoomRow>('SELECT * FROM rooms ORDER BY created_at, room_id').all();
  }

  createRoom(room: Omit<RoomRow, 'last_depth'>): void {
    this.db
      .prepare('INSERT INTO rooms (room_id, name, host_server, created_at, last_depth) VALUES (?, ?, ?, ?, 0) ON CONFLICT (room_id) DO NOTHING')
      .run(room.room_id, room.name, room.host_server, room.created_at);
  }

  /** Next depth for an event made here: the room's hybrid logical clock (docs/PROTOCOL.md §Ordering: depth and display order). */
  nextDepth(roomId: string, now: number): number {
    const room = this.room(roomId);
    return Math.max(now, (room?.last_depth ?? 0) + 1, (this.reserved.get(roomId) ?? 0) + 1);
  }

  /**
   * Depths handed out ahead of their transaction (a batch signed off the main thread), per room:
   * later events of the room get depths after them. Only grows, in memory; depths reserved and
   * never stored leave a gap, which a clock may have.
   */
  private readonly reserved = new Map<string, number>();

  /** Reserves `count` consecutive depths for events made here; the first one. */
  reserveDepths(roomId: string, count: number, now: number): number {
    const first = this.nextDepth(roomId, now);
    if (this.reserved.size > 10_000) this.reserved.clear();
    this.reserved.set(roomId, first + count - 1);
    return first;
  }

  /**
   * Membership rows, read for every event's authorization; cached (absent ones too). Every
   * write goes through writeMember, which updates the cache; rollbacks clear it.
   */
  private readonly memberCache = new Map<string, MemberRow | null>();

  member(roomId: string, userId: string): MemberRow | undefined {
    const key = `${roomId}\n${userId}`;
    const cached = this.memberCache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const row = this.memberStmt.get(roomId, userId);
    if (this.memberCache.size > 50_000) this.memberCache.clear();
    this.memberCache.set(key, row ?? null);
    return row;
  }

  /**
   * Who ended `userId`'s membership of `roomId` and why: the sender, reason and time of the leave
   * or ban event its membership row names (null while joined or invited, or when that event is not
   * stored here: a host's join snapshot reported it, or no join of the user is: an invitation
   * withdrawn). The user's own leave has `by` = the user.
   */
  membershipEnd(roomId: string, userId: string): { by: string; reason: string | null; at: number; banned: boolean } | null {
    const row = this.member(roomId, userId);
    if (row?.membership !== 'leave') return null;
    // What ended the user's latest join (an invitation withdrawn or refused after it, or a ban of
    // one who had left, ended nothing more); none: no join of the user is stored, or no end of it.
    const end = this.latestJoinEnd(roomId, userId);
    if (!end) return null;
    // A ban in force is said as the ban (RoomBans keeps its sender and reason).
    const ban = this.bans.isBanned(roomId, userId) ? this.bans.list(roomId).find((b) => b.user_id === userId) : undefined;
    if (ban) return { by: ban.by, reason: ban.reason, at: ban.at, banned: true };
    const event = this.db.prepare<[string, string], { sender: string; origin_ts: number; content: string }>(
      'SELECT sender, origin_ts, content FROM federation_events WHERE event_id = ? AND room_id = ?',
    ).get(end.event_id, roomId);
    if (!event) return null;
    const content = JSON.parse(event.content) as { reason?: unknown };
    const reason = typeof content.reason === 'string' && content.reason.trim() !== '' ? content.reason : null;
    return { by: event.sender, reason, at: event.origin_ts, banned: false };
  }

  private joinEndStmts: {
    latestJoin: import('better-sqlite3').Statement<[string, string], EventPosition>;
    firstAfter: import('better-sqlite3').Statement<[string, string, string, number, string, string], EventPosition>;
  } | undefined;

  /**
   * The event that ended `userId`'s latest join of the room: its first m.member.leave (its own
   * leave, or a removal) or m.member.ban after its latest m.member.join, in display order (depth,
   * origin_server, event_id). A user who left reads the room up to there (rooms/message-page.ts
   * `readsUpTo`), whatever came after: a ban of one who had already left, an invitation later
   * withdrawn, refused or still open, do not move it. Null when no join of the user is stored or
   * nothing stored ended its latest one. Two seeks in an index (migration 48), per call.
   */
  latestJoinEnd(roomId: string, userId: string): EventPosition | null {
    this.joinEndStmts ??= { latestJoin: this.db.prepare(LATEST_JOIN_SQL), firstAfter: this.db.prepare(FIRST_OF_TYPE_AFTER_SQL) };
    const join = this.joinEndStmts.latestJoin.get(roomId, userId);
    if (!join) return null;
    let end: EventPosition | null = null;
    for (const type of ['m.member.leave', 'm.member.ban']) {
      const found = this.joinEndStmts.firstAfter.get(roomId, userId, type, join.depth, join.origin_server, join.event_id);
      if (found && (!end || compareDisplayOrder(found, end) < 0)) end = found;
    }
    return end;
  }

  members(roomId: string): MemberRow[] {
    return this.db.prepare<[string], MemberRow>('SELECT * FROM room_members WHERE room_id = ? ORDER BY user_id').all(roomId);
  }

  /** Joined servers per room, asked for every event; dropped whenever a membership changes. */
  private readonly joinedCache = new Map<string, string[]>();

  /** Servers with at least one joined member. */
  joinedServers(roomId: string): string[] {
    const cached = this.joinedCache.get(roomId);
    if (cached) return cached;
    const servers = this.db
      .prepare<[string], { server_name: string }>("SELECT DISTINCT server_name FROM room_members WHERE room_id = ? AND membership = 'join' ORDER BY server_name")
      .all(roomId)
      .map((r) => r.server_name);
    this.joinedCache.set(roomId, servers);
    return servers;
  }

  /** Forget cached membership (after a transaction that changed it was rolled back). */
  forgetCachedMembership(): void {
    this.bans.forget();
    this.joinedCache.clear();
    this.roomCache.clear();
    this.memberCache.clear();
  }

  /** Whether a user of `server` has joined the room (every event a room's host pushes us asks: from the cache above). */
  isJoinedServer(roomId: string, server: string): boolean {
    return this.joinedServers(roomId).includes(server);
  }

  /**
   * A membership as the host reports it in a join snapshot, for members whose events are older
   * than the snapshot's recent events. The same rule as apply(): a later event always wins. What
   * a host reports about our own users is never taken (`takes`).
   */
  applyHostReport(roomId: string, member: Pick<MemberRow, 'user_id' | 'membership' | 'role' | 'invite_expires_at' | 'event_id' | 'event_depth' | 'event_origin'>, now = Date.now()): void {
    if (!this.takes(member.user_id, member.membership, null)) return;
    this.applyReportedMember(roomId, member, now);
  }

  /**
   * A membership without an event that this node decides or derives itself: a reference server's
   * RPC join or leave (of its user in our room, or of our user in its room), a guild's
   * membership copied to its channel rooms. Never a host's word: that is applyHostReport.
   */
  applyReportedMember(roomId: string, member: Pick<MemberRow, 'user_id' | 'membership' | 'role' | 'invite_expires_at' | 'event_id' | 'event_depth' | 'event_origin'>, now = Date.now()): void {
    const existing = this.member(roomId, member.user_id);
    const key = { depth: member.event_depth, origin_server: member.event_origin, event_id: member.event_id };
    if (existing && compareDisplayOrder({ depth: existing.event_depth, origin_server: existing.event_origin, event_id: existing.event_id }, key) >= 0) return;
    this.writeMember({ room_id: roomId, ...member, server_name: serverOf(member.user_id), updated_at: now });
  }

  /**
   * Whether a membership of `userId` that `origin` decided is taken (null: another server's report
   * without an event). Our own users' membership is what this node did (docs/SECURITY.md, "a host
   * planting members"): no report of another server is taken for them, and no event of another
   * origin makes them joined, so a room they left stays closed to its host. A host's moderators
   * still invite, remove and ban them, by event.
   */
  private takes(userId: string, membership: Membership, origin: string | null): boolean {
    const ours = this.serverName();
    if (ours === null || serverOf(userId) !== ours) return true;
    if (origin === null) return false;
    return membership !== 'join' || origin === ours;
  }

  private ownedHereStmt: import('better-sqlite3').Statement<[string], { n: number }> | undefined;

  /** Rooms hosted on this server whose owner `userId` is (the rooms it created). */
  roomsOwnedHere(userId: string): number {
    this.ownedHereStmt ??= this.db.prepare<[string], { n: number }>(
      "SELECT COUNT(*) AS n FROM room_members m JOIN rooms r ON r.room_id = m.room_id AND r.host_server = m.server_name WHERE m.user_id = ? AND m.role = 'owner'",
    );
    return this.ownedHereStmt.get(userId)!.n;
  }

  private nameStmts: {
    get: import('better-sqlite3').Statement<[string, string], { display_name: string | null; event_id: string; event_depth: number; event_origin: string }>;
    put: import('better-sqlite3').Statement<[string, string, string | null, string, number, string]>;
  } | undefined;

  private names(): NonNullable<RoomStore['nameStmts']> {
    this.nameStmts ??= {
      get: this.db.prepare('SELECT display_name, event_id, event_depth, event_origin FROM room_member_names WHERE room_id = ? AND user_id = ?'),
      put: this.db.prepare(
        `INSERT INTO room_member_names (room_id, user_id, display_name, event_id, event_depth, event_origin) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (room_id, user_id) DO UPDATE SET display_name = excluded.display_name, event_id = excluded.event_id,
           event_depth = excluded.event_depth, event_origin = excluded.event_origin`,
      ),
    };
    return this.nameStmts;
  }

  /**
   * A join (taken for its user): its display name becomes the user's in the room when it is the
   * user's latest join in display order, whatever the membership decided since (a member who left
   * keeps the name their messages were sent under). Its content passed the join schema.
   */
  private applyJoinName(event: Envelope): void {
    const stored = this.names().get.get(event.room_id, event.state_key!);
    if (stored && compareDisplayOrder({ depth: stored.event_depth, origin_server: stored.event_origin, event_id: stored.event_id }, event) >= 0) return;
    this.names().put.run(event.room_id, event.state_key!, joinDisplayName(event.content), event.event_id, event.depth, event.origin_server);
  }

  private joinBelowStmt: import('better-sqlite3').Statement<[string, string, number, string, string], { content: string }> | undefined;

  /**
   * Display names of these users in the room (their latest join's), for those that have one.
   * `upTo`: their latest join before that position instead (what a user who left saw then), one
   * seek per user (migration 48's index).
   */
  displayNames(roomId: string, userIds: Iterable<string>, upTo?: EventPosition): Map<string, string> {
    const names = new Map<string, string>();
    for (const userId of new Set(userIds)) {
      let name: string | null | undefined;
      const stored = this.names().get.get(roomId, userId);
      if (upTo && stored && compareDisplayOrder({ depth: stored.event_depth, origin_server: stored.event_origin, event_id: stored.event_id }, upTo) > 0) {
        this.joinBelowStmt ??= this.db.prepare(
          `SELECT content FROM federation_events INDEXED BY federation_events_room_state
           WHERE room_id = ? AND state_key = ? AND event_type = 'm.member.join' AND (depth, origin_server, event_id) < (?, ?, ?)
           ORDER BY depth DESC, origin_server DESC, event_id DESC LIMIT 1`,
        );
        const join = this.joinBelowStmt.get(roomId, userId, upTo.depth, upTo.origin_server, upTo.event_id);
        name = join ? joinDisplayName(JSON.parse(join.content) as Record<string, unknown>) : null;
      } else {
        name = stored?.display_name;
      }
      if (name) names.set(userId, name);
    }
    return names;
  }

  /** Writes one membership row (callers have checked it is later than the stored one). */
  private writeMember(row: MemberRow): void {
    this.joinedCache.delete(row.room_id);
    this.db
      .prepare(
        `INSERT INTO room_members (room_id, user_id, server_name, membership, role, invite_expires_at, event_id, event_depth, event_origin, updated_at)
         VALUES (@room_id, @user_id, @server_name, @membership, @role, @invite_expires_at, @event_id, @event_depth, @event_origin, @updated_at)
         ON CONFLICT (room_id, user_id) DO UPDATE SET membership = excluded.membership, role = excluded.role,
           invite_expires_at = excluded.invite_expires_at, event_id = excluded.event_id, event_depth = excluded.event_depth,
           event_origin = excluded.event_origin, updated_at = excluded.updated_at`,
      )
      .run(row);
    const { room_id, user_id, server_name, membership, role, invite_expires_at, event_id, event_depth, event_origin, updated_at } = row;
    this.memberCache.set(`${room_id}\n${user_id}`, { room_id, user_id, server_name, membership, role, invite_expires_at, event_id, event_depth, event_origin, updated_at });
  }

  /**
   * m.room.role: the member's role changes (the host checked the owner sent it); the owner's never
   * does. Like membership, independent of arrival order: only the latest role event of that user
   * (in display order, among the stored ones — this one is stored already) counts, and only when
   * it comes after the user's current membership event and that is a join (a leave ends a role; a
   * role given to someone who had left by then in display order gives nothing, as the host, which
   * applied it while they were in, reset it at the leave: red team 2026-11-26).
   */
  private applyRole(event: Envelope, now: number): void {
    const existing = event.state_key === null ? undefined : this.member(event.room_id, event.state_key);
    const role = event.content.role;
    if (!existing || existing.membership !== 'join' || existing.role === 'owner' || (role !== 'moderator' && role !== 'member')) return;
    if (compareDisplayOrder({ depth: existing.event_depth, origin_server: existing.event_origin, event_id: existing.event_id }, event) > 0) return;
    const latest = this.latestRoleStmt.get(event.room_id, event.state_key!);
    if (latest && compareDisplayOrder(latest, event) > 0) return;
    this.writeMember({ ...existing, role, updated_at: now });
  }

  /** Within coalescingClockUpdates: the greatest depth applied per room, written at its end. */
  private pendingClocks: Map<string, number> | null = null;

  /**
   * Runs `write` (inside a transaction) with the rooms' clock updates of all its events made
   * as one UPDATE per room at the end, instead of one per event. If `write` throws, nothing is
   * written by this (the caller's transaction rolls back anyway).
   */
  coalescingClockUpdates<T>(write: () => T): T {
    if (this.pendingClocks) return write();
    this.pendingClocks = new Map();
    try {
      const result = write();
      for (const [roomId, depth] of this.pendingClocks) this.bumpDepthStmt.run(depth, roomId);
      return result;
    } finally {
      this.pendingClocks = null;
    }
  }

  /** Applies an event to the room state: clock, reactions, and membership for m.member.* events. */
  apply(event: Envelope, now = Date.now()): void {
    // A relayed depth never moves the clock beyond ours plus the skew (ordering.ts): the next
    // local depth, max(now, last + 1), stays a safe integer whatever a peer sent.
    const clock = clockAfter(Math.max(this.pendingClocks?.get(event.room_id) ?? 0, this.room(event.room_id)?.last_depth ?? 0), event.depth, now);
    if (this.pendingClocks) this.pendingClocks.set(event.room_id, clock);
    else this.bumpDepthStmt.run(clock, event.room_id);
    const cached = this.roomCache.get(event.room_id);
    if (cached && clock > cached.last_depth) this.roomCache.set(event.room_id, { ...cached, last_depth: clock });
    this.reactions.apply(event);
    this.bans.apply(event);
    this.search.apply(event);
    if (event.event_type === 'm.room.role') {
      this.applyRole(event, now);
      return;
    }
    const membership = ownValue(MEMBERSHIP_OF, event.event_type);
    if (!membership || event.state_key === null || !this.takes(event.state_key, membership, event.origin_server)) return;
    if (event.event_type === 'm.member.join') this.applyJoinName(event);
    const existing = this.member(event.room_id, event.state_key);
    if (existing && compareDisplayOrder({ depth: existing.event_depth, origin_server: existing.event_origin, event_id: existing.event_id }, event) >= 0) {
      return; // an event later in display order already decided this membership
    }
    // Another server's invite does not undo our user's join (room-invites.ts refuses such an
    // invite 409 on its own path; pushed or caught up as an event, it is not applied either).
    const ours = this.serverName();
    if (membership === 'invite' && existing?.membership === 'join' && ours !== null && serverOf(event.state_key) === ours && event.origin_server !== ours) return;
    const content = event.content as { role?: Role; expires_at?: number };
    // Leaving (or being removed or banned) ends a moderator's role; the owner stays the owner.
    const kept = existing?.role === 'owner' || membership !== 'leave' ? (existing?.role ?? 'member') : 'member';
    const role: Role = membership === 'join' && content.role === 'owner' ? 'owner' : kept;
    this.writeMember({
      room_id: event.room_id,
      user_id: event.state_key,
      server_name: serverOf(event.state_key),
      membership,
      role,
      // At most the longest an invite lasts after it was signed (authorize.ts refuses longer ones on
      // the host; a member's node stores what its host sent): never "for ever".
      invite_expires_at: membership === 'invite' && content.expires_at !== undefined ? Math.min(content.expires_at, event.origin_ts + MAX_INVITE_LIFETIME_MS + RELAYED_MAX_FUTURE_MS) : null,
      event_id: event.event_id,
      event_depth: event.depth,
      event_origin: event.origin_server,
      updated_at: now,
    });
  }
}

const MEMBERSHIP_OF: Record<string, Membership | undefined> = {
  'm.member.invite': 'invite',
  'm.member.join': 'join',
  'm.member.leave': 'leave',
  // A ban removes the user as well (the ban itself is kept by RoomBans).
  'm.member.ban': 'leave',
};
