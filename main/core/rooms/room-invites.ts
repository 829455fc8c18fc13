/**
 * Invites (docs/PROTOCOL.md §Rooms): the host's side (invite a local or remote user, a reference
 * server's user by push) and the invitee's (an invite received, pushed or pulled, capped per peer).
 */
import { warnLimited } from '../log/rate-limit.ts';
import { isSafeDisplayName, isUserId, serverOf } from '../../../shared/identifiers.ts';
import { fetchedEventFailure } from '../federation/fetched-event-failure.ts';
import { HttpError, badRequest, conflict, forbidden, notFound } from '../errors.ts';
import { InviteNotices } from './invite-notices.ts';
import { contentHash, envelopeSigningBytes, parseEnvelope, signEnvelope, type Envelope, type UnsignedEnvelope } from '../federation/envelope.ts';
import { INVITE_WIRE_ORDER, wireJson } from '../federation/wire-json.ts';
import { authorizeEvent } from './authorize.ts';
import { MAX_INVITE_LIFETIME_MS } from './event-types.ts';
import { newEventId, newInviteId } from './ids.ts';
import { checkRelayedOrdering } from './ordering.ts';
import { INVITE_PATH } from '../federation/paths.ts';
import { RoomPart, type RoomServiceDeps } from './room-part.ts';
import type { LocalSends } from './local-sends.ts';
import type { InviteJoin, RoomInvite } from '../../../shared/contract/admin/invites.ts';
import { MAILBOX_MAX_AGE_MS } from '../mailbox/mailbox-store.ts';

/** How long an invite stays valid unless the inviter says otherwise. */
export const DEFAULT_INVITE_MAX_AGE_S = 7 * 24 * 3600;
/** Default for NodeConfig.maxPendingInvitesPerPeer. */
export const DEFAULT_MAX_PENDING_INVITES_PER_PEER = 50;

/** A stored invite: what the contract lists (RoomInvite) and what only the node keeps. */
export interface RoomInviteRow extends RoomInvite {
  event_id: string;
  state: 'pending' | 'accepted' | 'declined';
  created_at: number;
  /** When a join was sent to the host for it (null: never), and its event id (null before migration 37). */
  join_sent_at: number | null;
  join_event_id: string | null;
  /** How often that join was signed again and sent by itself (room-joins.ts MAX_JOIN_RESENDS). */
  join_resent: number | null;
  /** The mailbox it was left at (the host away), or null. */
  join_mailbox: string | null;
  /** The host's refusal of it: when, our error code, its words (null: none came). */
  join_refused_at: number | null;
  join_refused_error: string | null;
  join_refused_message: string | null;
}

/** Invite rows with where the join sent for each stands (room_invite_joins). */
export const INVITE_ROWS = `SELECT i.*, j.sent_at AS join_sent_at, j.event_id AS join_event_id, j.resent AS join_resent, j.mailbox AS join_mailbox, j.refused_at AS join_refused_at,
  j.refused_error AS join_refused_error, j.refused_message AS join_refused_message
  FROM room_invites i LEFT JOIN room_invite_joins j ON j.invite_id = i.invite_id`;

/**
 * Where the join sent for an invite stands, for the admin API (absent: none sent). Left at a
 * mailbox longer than a mailbox keeps anything, it no longer waits there: unanswered.
 */
export function inviteJoin(row: RoomInviteRow, now = Date.now()): InviteJoin | undefined {
  if (row.join_sent_at === null) return undefined;
  if (row.join_refused_at !== null) {
    return { state: 'refused', since: row.join_refused_at, error: row.join_refused_error ?? 'peer_refused', ...(row.join_refused_message ? { message: row.join_refused_message } : {}) };
  }
  if (row.join_mailbox !== null && now - row.join_sent_at < MAILBOX_MAX_AGE_MS) return { state: 'waiting', since: row.join_sent_at, mailbox: row.join_mailbox };
  return { state: 'unanswered', since: row.join_sent_at };
}

/** The longest an invite that was not pushed to us (pulled, fetched, or with a room's history) stays offered. */
const MAX_HELD_INVITE_AGE_S = MAX_INVITE_LIFETIME_MS / 1000;

export class RoomInvites extends RoomPart {
  private readonly sends: LocalSends;
  private readonly notices: InviteNotices;

  constructor(deps: RoomServiceDeps, sends: LocalSends) {
    super(deps);
    this.sends = sends;
    this.notices = new InviteNotices((notice) => deps.notifications.notify(notice));
  }

  /** Host side: invite a user (local or remote). A remote user's server is told first; if it refuses, nothing changes. */
  async invite(roomId: string, inviter: string, invitee: string, maxAgeSeconds = DEFAULT_INVITE_MAX_AGE_S): Promise<{ event_id: string }> {
    const room = this.d.rooms.room(roomId);
    if (!room) throw notFound('unknown_room', `no room ${roomId} here`);
    if (!this.isHost(roomId)) throw badRequest('not_room_host', `invites to ${roomId} are made on its host, ${room.host_server}`);
    const inviteeServer = serverOf(invitee);
    if (!isUserId(invitee) && !this.speaksReference(inviteeServer)) throw badRequest('invalid_input', 'user_id: must look like @localpart:server');
    if (inviteeServer === this.server && !this.d.users.get(invitee)) throw notFound('unknown_user', `${invitee} is not a user of this server`);
    const expiresAt = Date.now() + maxAgeSeconds * 1000;
    const content = { membership: 'invite', expires_at: expiresAt, room_name: room.name };
    if (inviteeServer === this.server) {
      const event = await this.sends.send(roomId, 'm.member.invite', inviter, invitee, content);
      await this.d.commit.run(() => this.recordInvite(event, room.name, maxAgeSeconds));
      return { event_id: event.event_id };
    }
    // Whichever way it would go (a reference's queue, a pull, a call): not to a server held or not allowed.
    this.refuseUncallable(inviteeServer);
    if (this.d.dialects?.isReference(inviteeServer)) return this.inviteReferenceUser(roomId, inviter, invitee, content);
    // Sign the invite now, but store it only once the invitee's server has accepted it.
    const now = Date.now();
    const unsigned: UnsignedEnvelope = {
      event_id: newEventId(this.server), room_id: roomId, event_type: 'm.member.invite', sender: inviter,
      origin_server: this.server, origin_ts: now, depth: this.d.rooms.nextDepth(roomId, now), state_key: invitee, content,
    };
    authorizeEvent(this.d.rooms, this.d.events, unsigned, now);
    const event = signEnvelope(unsigned, this.d.identity());
    const body = wireJson(
      { origin_server: this.server, room_id: roomId, sender: inviter, max_age_seconds: maxAgeSeconds, invitee, room_name: room.name, event },
      INVITE_WIRE_ORDER,
    );
    // A server that receives by pull (behind a router, issue #32) cannot be called: the signed
    // invite event waits in its queue like any event and becomes an invite there when pulled
    // (federation/puller.ts). Its server cannot refuse it now; an invite it refuses simply expires.
    let byPull = this.d.workers.status(inviteeServer).waiting_to_be_pulled;
    if (!byPull) {
      try {
        await this.callPeer(inviteeServer, INVITE_PATH, body);
      } catch (error) {
        // Nobody reaches it, but a mailbox holds mail for it (issue #32): the invite goes that way.
        if (!(error instanceof HttpError && error.code === 'peer_unreachable') || !this.d.mailboxFor || (await this.d.mailboxFor(inviteeServer)) === null) throw error;
        this.d.noteUnreachable?.(inviteeServer);
        byPull = true;
      }
    }
    const stored = await this.d.commit.run(() => {
      authorizeEvent(this.d.rooms, this.d.events, event);
      this.d.events.insert(event, contentHash(envelopeSigningBytes(event)), null);
      this.d.rooms.apply(event);
      const now = Date.now();
      this.enqueueDeliveries(event, byPull ? null : inviteeServer, now);
      if (byPull) this.d.outbox.enqueue(inviteeServer, event.event_id, roomId, now);
      return event;
    });
    this.afterCommit(stored);
    if (byPull) this.d.workers.deliver(inviteeServer, { queued: true });
    this.d.log.info({ event: 'invite_sent', room_id: roomId, invitee, ...(byPull ? { by_pull: true } : {}) }, byPull ? 'invite queued: its server fetches it (by pull, or from its mailbox)' : 'invite sent');
    return { event_id: stored.event_id };
  }

  /**
   * A user of a reference server: its `/invite` is only a join preflight for rooms IT hosts
   * (federation.rs:2040-2089), so it cannot be told. The invite is stored here, and the room's
   * latest join event and the invite are pushed to its `POST /event`: an ingested m.member.join
   * makes it create the mirror guild (federation.rs:1206-1292) whose local invite code its user
   * accepts, which sends us its preflight and `/join` (crates/paracord-api/src/routes/invites.rs:347-369).
   */
  private async inviteReferenceUser(roomId: string, inviter: string, invitee: string, content: Record<string, unknown>): Promise<{ event_id: string }> {
    const event = await this.sends.send(roomId, 'm.member.invite', inviter, invitee, content);
    const server = serverOf(invitee);
    await this.d.commit.run(() => {
      const now = Date.now();
      for (const join of this.d.events.latestOfType(roomId, 'm.member.join', 1)) this.d.outbox.enqueue(server, join.event_id, roomId, now);
      this.d.outbox.enqueue(server, event.event_id, roomId, now);
    });
    this.d.workers.deliver(server, { queued: true });
    this.d.log.info({ event: 'invite_sent', room_id: roomId, invitee, dialect: 'reference' }, 'invite recorded for a reference server user; its server learns the room by push');
    return { event_id: event.event_id };
  }

  /**
   * Invitee side: remember a pending invite for a local user (inside a transaction). `renewed`
   * when the user already had this invite pending (unexpired, or a join sent for it): the host
   * signed it again. A renewal is no news: no notification (each makes every screen of the
   * invitee fetch its invites, rooms, timeline and members again, as often as a hostile host
   * re-signs), the join sent for it stays, and it is no news to the loops that pace a peer's pages
   * (answered `inserted: false`). The row keeps the name and inviter the user was shown and takes
   * the new event's expiry, which is what accepting meets (our membership row and the host go by
   * the latest invite); an earlier one is told, as news is. Every notification of an invite goes
   * through `notices` (at most one per host and invitee every 2 s, the last one never dropped).
   */
  private recordInvite(event: Envelope, roomName: string, maxAgeSeconds: number): { inviteId: string; renewed: boolean } {
    const now = Date.now();
    const existing = this.d.db
      .prepare<[number, string, string], { invite_id: string; expires_at: number; live: number }>(
        `SELECT i.invite_id, i.expires_at, i.state = 'pending' AND (i.expires_at > ? OR EXISTS (SELECT 1 FROM room_invite_joins j WHERE j.invite_id = i.invite_id)) AS live
           FROM room_invites i WHERE i.room_id = ? AND i.invitee = ?`,
      )
      .get(now, event.room_id, event.state_key!);
    const expiresAt = Math.min(event.content.expires_at as number, now + maxAgeSeconds * 1000);
    const notice = (inviteId: string) => this.notices.tell(serverOf(event.room_id), { type: 'invite', invite_id: inviteId, room_id: event.room_id, invitee: event.state_key! });
    if (existing?.live === 1) {
      this.d.db.prepare('UPDATE room_invites SET event_id = ?, expires_at = ? WHERE invite_id = ?').run(event.event_id, expiresAt, existing.invite_id);
      // A join the host refused is over: the invite signed again is offered afresh (its card no
      // longer says the host refused, e.g. that it had expired).
      const refusedJoin = this.d.db.prepare('DELETE FROM room_invite_joins WHERE invite_id = ? AND refused_at IS NOT NULL').run(existing.invite_id).changes > 0;
      if (refusedJoin || expiresAt < existing.expires_at) notice(existing.invite_id);
      return { inviteId: existing.invite_id, renewed: true };
    }
    const inviteId = existing?.invite_id ?? newInviteId();
    this.d.db
      .prepare(
        `INSERT INTO room_invites (invite_id, room_id, room_name, host_server, inviter, invitee, event_id, state, expires_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
         ON CONFLICT (room_id, invitee) DO UPDATE SET state = 'pending', event_id = excluded.event_id, inviter = excluded.inviter,
           expires_at = excluded.expires_at, room_name = excluded.room_name`,
      )
      .run(inviteId, event.room_id, roomName, serverOf(event.room_id), event.sender, event.state_key, event.event_id, expiresAt, now);
    // A new invite (after a decline, an accept, or an expiry with no join sent): no join was sent for it yet.
    if (existing) this.d.db.prepare('DELETE FROM room_invite_joins WHERE invite_id = ?').run(inviteId);
    notice(inviteId);
    return { inviteId, renewed: false };
  }

  stop(): void {
    this.notices.stop();
  }

  invites(userId?: string): RoomInviteRow[] {
    const rows = this.d.db
      .prepare<[], RoomInviteRow>(`${INVITE_ROWS} WHERE i.state = 'pending' ORDER BY i.created_at`)
      .all()
      // An invite from a host quarantined or blocked since is not offered (the chain's one decision).
      .filter((r) => (userId === undefined || r.invitee === userId) && this.hostRefusal(r.host_server) === null);
    return rows;
  }

  /** Federation `POST /invite` with an invitee: the host tells us one of our users is invited. */
  async receiveInvite(requestOrigin: string, body: { room_id: string; invitee: string; room_name?: string; max_age_seconds: number; event: unknown }): Promise<{ invite_id: string; inserted: boolean }> {
    if (serverOf(body.room_id) !== requestOrigin) throw forbidden('not_room_host', `${requestOrigin} does not host ${body.room_id}`);
    if (serverOf(body.invitee) !== this.server || !this.d.users.get(body.invitee)) {
      throw notFound('unknown_user', `${body.invitee} is not a user of this server`);
    }
    const verified = await this.d.ingest.verify(requestOrigin, body.event, { skipRoute: true });
    const event = verified.envelope;
    if (event.event_type !== 'm.member.invite' || event.state_key !== body.invitee || event.room_id !== body.room_id) {
      throw badRequest('invalid_invite', 'the invite event does not match the invite (type, room or invitee)');
    }
    checkRelayedOrdering(event, Date.now());
    // Not over a join here (the host checks the same on its side): such an invite turned our
    // joined user's row into an invitation, and the room, once it expired, into one "known only
    // from invites" (enforceInviteCap), whose history was then deleted.
    if (this.d.rooms.member(event.room_id, body.invitee)?.membership === 'join') throw conflict('already_joined', `${body.invitee} is already in ${event.room_id} here`);
    // An invite over before it arrived is none (as a pulled one, receiveInviteEvent).
    const expires = event.content.expires_at;
    if (typeof expires !== 'number' || expires <= Date.now()) throw forbidden('invite_expired', 'the invite expired before it arrived');
    const roomName = (event.content.room_name as string | undefined) ?? body.room_name ?? body.room_id;
    // The name is shown to our users: no bidi override, control or invisible character (issue #14 item 10).
    if (typeof roomName !== 'string' || roomName.length > 100 || !isSafeDisplayName(roomName)) {
      throw badRequest('invalid_room_name', 'room_name must be at most 100 characters without control, bidi or invisible characters');
    }
    const { inviteId, renewed } = await this.d.commit.run(() => {
      this.enforceInviteCap(requestOrigin, event.room_id, body.invitee);
      this.d.rooms.createRoom({ room_id: event.room_id, name: roomName, host_server: requestOrigin, created_at: Date.now() });
      // Through the ingest chain's decisions (blocked, quota); an invite cannot wait in quarantine: refused.
      this.d.ingest.storeIn(verified, requestOrigin, { hold: false });
      this.d.rooms.apply(event);
      return this.recordInvite(event, roomName, body.max_age_seconds);
    });
    if (!renewed) this.d.log.info({ event: 'invite_received', room_id: event.room_id, invitee: body.invitee, from: requestOrigin }, 'room invite received');
    // `inserted: false`: an invite the user had pending already, signed again (recordInvite).
    return { invite_id: inviteId, inserted: !renewed };
  }

  /**
   * Pull mode and mailboxes (issue #32): the host of a room queues the signed invite of one of our
   * users instead of calling us, and we pull it, fetch it from a mailbox, or get it pushed later. Taken exactly as its `POST /invite` would be (receiveInvite:
   * signature, the room is the sender's, our user exists, the per-peer cap): true when `raw` was
   * such an invite and it was stored ('taken'; 'known' when it was stored before, or only renewed
   * an invite the user had pending: recordInvite), false (at once, no promise: a batch asks it of
   * every event) when it is not one (the ingest chain takes it); rejects
   * when it is refused (a final 4xx, logged) or cannot be taken yet (429 quota, 5xx, a failure
   * here: asked again). A page asked again finds it stored: a no-op.
   */
  receiveInviteEvent(host: string, raw: unknown): false | Promise<'taken' | 'known'> {
    const e = raw as InviteEventFields | null;
    if (!e || typeof e !== 'object' || e.event_type !== 'm.member.invite' || typeof e.state_key !== 'string' || typeof e.room_id !== 'string') return false;
    if (!isUserId(e.state_key) || serverOf(e.state_key) !== this.server || serverOf(e.room_id) !== host) return false;
    return this.takeInviteEvent(host, e as InviteEventFields & { state_key: string; room_id: string }, raw);
  }

  /**
   * Whether `raw` is a copy of the event stored under `eventId`: the same signed bytes, not only the
   * id (else any stored id would be acknowledged, and the host could ask which events this node
   * holds). Anything else goes the invite's way, whose checks refuse it (event_id_conflict, a bad
   * signature, a malformed envelope).
   */
  private isStoredCopy(eventId: string, raw: unknown): boolean {
    const stored = this.d.events.hashOf(eventId);
    if (stored === undefined) return false;
    const parsed = parseEnvelope(raw);
    if (!parsed.success) return false;
    try {
      return contentHash(envelopeSigningBytes(parsed.data)) === stored;
    } catch {
      return false; // not canonical (a float, an unsafe integer): not what was stored
    }
  }

  /** receiveInviteEvent for an invite of one of our users by its room's host. */
  private async takeInviteEvent(host: string, e: InviteEventFields & { state_key: string; room_id: string }, raw: unknown): Promise<'taken' | 'known'> {
    if (typeof e.event_id === 'string' && this.isStoredCopy(e.event_id, raw)) {
      // Stored before. As the room's history it made no invitation: offered now if it still is
      // the user's latest membership (adoptHistoryInvites), not only at the next catch-up.
      await this.adoptHistoryInvites(e.room_id);
      return 'known';
    }
    const expiresAt = typeof e.content?.expires_at === 'number' ? e.content.expires_at : 0;
    const seconds = Math.ceil((expiresAt - Date.now()) / 1000);
    try {
      if (seconds <= 0) throw forbidden('invite_expired', 'the invite expired before it was fetched');
      const { inserted } = await this.receiveInvite(host, { room_id: e.room_id, invitee: e.state_key, max_age_seconds: Math.min(seconds, MAX_HELD_INVITE_AGE_S), event: raw });
      if (!inserted) return 'known';
    } catch (error) {
      // Not yet (over the storage quota here: 429 quota_exceeded; keys not readable now, a failure
      // here: 5xx, a database or system error): thrown, for the caller to ask again (a push's
      // sender, the puller, a mailbox hand-over), never taken as a refusal, which would drop the
      // invite. Anything else is a verdict, as for any fetched event (fetched-event-failure.ts):
      // over the per-peer invite cap, or thrown on the host's input; logged, and the invite is
      // not taken (it expires), so it cannot hold the host's other events behind it.
      if (fetchedEventFailure(error).kind !== 'refused') throw error;
      const http = error instanceof HttpError ? { status: error.status, error: error.code } : {};
      warnLimited(this.d.log, `pulled_invite_refused ${host}`, { event: 'pulled_invite_refused', server: host, room_id: e.room_id, ...http, message: (error as Error).message }, 'a pulled invite was refused');
      // Said to its sender as a final refusal (a push's or a carried request's answer, a batch's
      // result; the puller logs it and goes on), never as taken: its inviter learns it did not
      // arrive. Over the cap is 403 here, not the direct request's 429, which a sender retries.
      if (error instanceof HttpError) throw error.status === 429 ? new HttpError(403, error.code, error.message) : error;
      throw badRequest('invalid_invite', 'the invite could not be taken');
    }
    return 'taken';
  }

  /**
   * Invites of our users that came with a room's history (a catch-up page, a join's snapshot: sent
   * while we did not listen) are stored as the room's events, which make no invitation. Each one
   * still its user's latest membership here, unexpired, and never made an invitation (a declined
   * or accepted one stays so) becomes the invitation its push would have made, under the same
   * per-peer cap; an invite a later join, leave or ban overtook, or an expired one, stays history.
   */
  async adoptHistoryInvites(roomId: string): Promise<void> {
    const host = serverOf(roomId);
    if (host === this.server) return;
    const now = Date.now();
    const rows = this.d.db
      .prepare<[string, string, number], { user_id: string; event_id: string }>(
        `SELECT m.user_id, m.event_id FROM room_members m
          WHERE m.room_id = ? AND m.server_name = ? AND m.membership = 'invite' AND m.invite_expires_at > ?
            AND NOT EXISTS (SELECT 1 FROM room_invites i WHERE i.room_id = m.room_id AND i.invitee = m.user_id AND i.event_id = m.event_id)`,
      )
      .all(roomId, this.server, now);
    for (const row of rows) {
      const event = this.d.events.get(row.event_id);
      if (!event || event.event_type !== 'm.member.invite' || event.state_key !== row.user_id || !this.d.users.get(row.user_id)) continue;
      const expiresAt = event.content.expires_at;
      if (typeof expiresAt !== 'number' || expiresAt <= now) continue;
      const name = this.d.rooms.room(roomId)?.name ?? roomId;
      try {
        const { inviteId, renewed } = await this.d.commit.run(() => {
          this.enforceInviteCap(host, roomId, row.user_id);
          return this.recordInvite(event, name, Math.min(Math.ceil((expiresAt - now) / 1000), MAX_HELD_INVITE_AGE_S));
        });
        if (!renewed) this.d.log.info({ event: 'invite_received', room_id: roomId, invitee: row.user_id, from: host, invite_id: inviteId, by: 'history' }, 'room invite received with the room\'s history');
      } catch (error) {
        // Over the cap (or a failure here): not offered now; the next run looks again.
        warnLimited(this.d.log, `history_invite_not_taken ${host}`, { event: 'history_invite_not_taken', server: host, room_id: roomId, message: (error as Error).message }, 'an invite that came with a room\'s history was not offered');
      }
    }
  }

  /**
   * Unsolicited invites are capped per peer (inside the storing transaction): at most
   * maxPendingInvitesPerPeer pending, unexpired invites, re-invites of the same user to the
   * same room excepted. The peer's rooms we only know from invites that are no longer pending
   * (expired, declined) are forgotten first, so rooms a peer makes us hold stay bounded too.
   * "Only from invites" is what the room holds, which the host cannot rewrite: no event but
   * invites (a room our user was in, then banned from or re-invited to, keeps its history).
   * A room holding the table's newest row waits for the next time: federation_events has no
   * AUTOINCREMENT, so deleting the newest rows let the next ones reuse their rowids, at or below
   * the search index's watermark, and they were never folded: new messages never found, deleted
   * ones still found (a red-team review of search, 2026-11-30). The largest rowid never goes back.
   */
  private enforceInviteCap(peer: string, roomId: string, invitee: string): void {
    const now = Date.now();
    const stale = this.d.db
      .prepare<[string, string, string, number], { room_id: string }>(
        `SELECT r.room_id FROM rooms r WHERE r.host_server = ? AND r.room_id <> ?
           AND NOT EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = r.room_id AND m.server_name = ? AND m.membership IN ('join', 'leave'))
           AND NOT EXISTS (SELECT 1 FROM federation_events e WHERE e.room_id = r.room_id AND e.event_type <> 'm.member.invite')
           AND NOT EXISTS (SELECT 1 FROM room_invites i WHERE i.room_id = r.room_id AND i.state = 'pending'
             AND (i.expires_at > ? OR EXISTS (SELECT 1 FROM room_invite_joins j WHERE j.invite_id = i.invite_id)))
           AND NOT EXISTS (SELECT 1 FROM federation_events top WHERE top.rowid = (SELECT MAX(rowid) FROM federation_events) AND top.room_id = r.room_id)
         LIMIT 1000`,
      )
      .all(peer, roomId, this.server, now);
    for (const { room_id } of stale) {
      this.d.db.prepare('DELETE FROM room_invite_joins WHERE invite_id IN (SELECT invite_id FROM room_invites WHERE room_id = ?)').run(room_id);
      for (const table of ['room_invites', 'room_members', 'room_member_names', 'federation_events', 'reference_message_ids', 'reference_poll_cursors', 'reference_poll_cursor_ids', 'rooms']) this.d.db.prepare(`DELETE FROM ${table} WHERE room_id = ?`).run(room_id);
    }
    if (stale.length > 0) {
      this.d.rooms.forgetCachedMembership();
      this.d.events.noteRewrite(); // rows of federation_events went: change cursors start again (FederationEvents.changeCursor)
    }
    const cap = this.d.maxPendingInvitesPerPeer ?? DEFAULT_MAX_PENDING_INVITES_PER_PEER;
    const pending = this.d.db
      .prepare<[string, number, string, string], { n: number }>(
        "SELECT COUNT(*) AS n FROM room_invites WHERE host_server = ? AND state = 'pending' AND expires_at > ? AND NOT (room_id = ? AND invitee = ?)",
      )
      .get(peer, now, roomId, invitee)!.n;
    if (pending >= cap) {
      throw new HttpError(429, 'too_many_invites', `${peer} already has ${pending} pending invites for users of ${this.server} (at most ${cap}); they must be accepted, declined or expire first`);
    }
  }
}

/** The fields of a pushed or pulled event that tell whether it is an invite of one of our users. */
interface InviteEventFields {
  event_type?: unknown;
  state_key?: unknown;
  room_id?: unknown;
  event_id?: unknown;
  content?: { expires_at?: unknown };
}
