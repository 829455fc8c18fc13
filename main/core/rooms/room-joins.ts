/**
 * Joins, leaves and snapshots (docs/PROTOCOL.md §Rooms): the joiner accepts an invite and takes
 * the host's snapshot (directly, or as a join-answer through a mailbox); the host answers
 * `/invite` preflights, `/join` and `/leave`, a reference server's event-less ones too.
 */
import { warnLimited } from '../log/rate-limit.ts';
import { isUserId, serverOf, stripUnsafeDisplay } from '../../../shared/identifiers.ts';
import { HttpError, badRequest, forbidden, notFound } from '../errors.ts';
import { contentHash, envelopeSigningBytes, signEnvelope, type Envelope, type UnsignedEnvelope } from '../federation/envelope.ts';
import type { EventIngest, VerifiedEvent } from '../federation/event-ingest.ts';
import { MEMBERSHIP_WIRE_ORDER, wireJson } from '../federation/wire-json.ts';
import { authorizeEvent, banned } from './authorize.ts';
import { compareDisplayOrder } from './event-types.ts';
import { newEventId } from './ids.ts';
import { checkRelayedOrdering } from './ordering.ts';
import type { MemberRow } from './room-store.ts';
import { PAGE_BYTES, utf8Bytes, withinBytes } from '../federation/page-budget.ts';
import { JOIN_PATH } from '../federation/paths.ts';
import { PEER_MEMBERSHIP_CODES, RoomPart, type RoomServiceDeps } from './room-part.ts';
import type { LocalSends } from './local-sends.ts';
import type { RoomCatchUp } from './catch-up.ts';
import { INVITE_ROWS, type RoomInviteRow } from './room-invites.ts';
import { peerRefusal } from '../federation/peer-refusal.ts';
import { isFinalRefusal } from '../federation/fetched-event-failure.ts';
import type { JoinRefusal } from '../federation/routes/membership/schema.ts';
import { guarded } from '../util/guarded.ts';

const SNAPSHOT_EVENTS = 100;
/** How often one accept's join is signed again and sent by itself after its host took it too late. */
export const MAX_JOIN_RESENDS = 5;
/**
 * The most events of a join snapshot we verify and store (ours send SNAPSHOT_EVENTS): the rest of
 * the history comes with the catch-up, which is charged and paced like any delivery.
 */
const MAX_SNAPSHOT_EVENTS_ACCEPTED = 2 * SNAPSHOT_EVENTS;

export interface RoomSnapshot {
  room: { room_id: string; name: string; host_server: string; depth: number };
  members: Array<Pick<MemberRow, 'user_id' | 'membership' | 'role' | 'invite_expires_at' | 'event_id' | 'event_depth' | 'event_origin'>>;
  /** The room's latest events, within the page budget (page-budget.ts). */
  events: Envelope[];
  /** False when `members` or `events` are not the whole room: the joiner catches up from the room's start. */
  complete: boolean;
  /** A join of a user already in: the join event that stands (the joiner adopts it instead of its new one). */
  join_event?: Envelope;
}

const MEMBERSHIPS = new Set(['invite', 'join', 'leave']);
const ROLES = new Set(['owner', 'moderator', 'member']);

/** A snapshot member entry with the right shape (the snapshot comes from another server). */
function isReportedMember(m: unknown): m is RoomSnapshot['members'][number] {
  const member = m as Record<string, unknown> | null;
  return (
    !!member && isUserId(member.user_id) && MEMBERSHIPS.has(member.membership as string) &&
    ROLES.has(member.role as string) && typeof member.event_id === 'string' && Number.isSafeInteger(member.event_depth) &&
    typeof member.event_origin === 'string' && (member.invite_expires_at === null || Number.isSafeInteger(member.invite_expires_at))
  );
}

export class RoomJoins extends RoomPart {
  private readonly sends: LocalSends;
  private readonly history: RoomCatchUp;

  constructor(deps: RoomServiceDeps, sends: LocalSends, history: RoomCatchUp) {
    super(deps);
    this.sends = sends;
    this.history = history;
  }

  /** Federation `POST /invite` without an invitee (join preflight): may `origin` join this room? */
  preflight(requestOrigin: string, roomId: string, maxAgeSeconds?: number | null): RoomSnapshot['room'] & { member_count: number } & Record<string, unknown> {
    const room = this.hostedRoom(roomId);
    const members = this.d.rooms.members(roomId);
    const now = Date.now();
    const mayJoin = members.some(
      (m) => m.server_name === requestOrigin && (m.membership === 'join' || (m.membership === 'invite' && (m.invite_expires_at === null || m.invite_expires_at > now))),
    );
    if (!mayJoin) throw forbidden('not_invited', `no user of ${requestOrigin} is invited to ${roomId}`);
    const guildId = room.room_id.slice(1, room.room_id.indexOf(':'));
    return {
      room_id: room.room_id, name: room.name, host_server: room.host_server, depth: room.last_depth, member_count: members.filter((m) => m.membership === 'join').length,
      // The reference's FederationInviteResponse (client.rs:461-470), read by a reference joining our room.
      accepted: true, guild_id: guildId, guild_name: room.name, default_channel_id: guildId, join_endpoint: JOIN_PATH,
      expires_in_seconds: Math.min(86_400, Math.max(60, maxAgeSeconds ?? 3_600)),
    };
  }

  /**
   * Invitee side: accept a pending invite — the signed join goes to the host, which answers with a
   * snapshot. `resend`: not the user's accept, the join signed again after the host took it too
   * late (receiveJoinAnswer); counted, where the user's accept starts the count again.
   */
  async acceptInvite(inviteId: string, userId?: string, resend = false): Promise<{ room_id: string; waiting_for_host?: boolean }> {
    const invite = this.d.db.prepare<[string], RoomInviteRow>(`${INVITE_ROWS} WHERE i.invite_id = ?`).get(inviteId);
    if (!invite || invite.state !== 'pending' || (userId !== undefined && invite.invitee !== userId)) {
      throw notFound('unknown_invite', `no pending invite ${inviteId}${userId ? ` for ${userId}` : ''}`);
    }
    const refusal = this.hostRefusal(invite.host_server);
    if (refusal) throw refusal;
    // A join already sent for it (its answer may have been lost) goes again whatever the expiry:
    // the host, which may hold our user as joined, decides (a join is idempotent, docs/PROTOCOL.md).
    if (invite.expires_at <= Date.now() && invite.join_sent_at === null) throw forbidden('invite_expired', 'this invite has expired; ask for a new one');
    if (invite.host_server === this.server) {
      await this.sends.send(invite.room_id, 'm.member.join', invite.invitee, invite.invitee, this.d.users.joinContent(invite.invitee, { membership: 'join' }));
      this.d.db.prepare("UPDATE room_invites SET state = 'accepted' WHERE invite_id = ?").run(inviteId);
      return { room_id: invite.room_id };
    }
    const now = Date.now();
    const unsigned: UnsignedEnvelope = {
      event_id: newEventId(this.server), room_id: invite.room_id, event_type: 'm.member.join', sender: invite.invitee,
      origin_server: this.server, origin_ts: now, depth: this.d.rooms.nextDepth(invite.room_id, now), state_key: invite.invitee,
      content: this.d.users.joinContent(invite.invitee, { membership: 'join' }),
    };
    authorizeEvent(this.d.rooms, this.d.events, unsigned, now);
    const join = signEnvelope(unsigned, this.d.identity());
    const body = wireJson({ origin_server: this.server, room_id: invite.room_id, user_id: invite.invitee, event: join }, MEMBERSHIP_WIRE_ORDER);
    // Sent now: where it stood before (left at a mailbox, refused) is over.
    this.d.db
      .prepare(
        `INSERT INTO room_invite_joins (invite_id, sent_at, event_id) VALUES (?, ?, ?) ON CONFLICT (invite_id) DO UPDATE SET sent_at = excluded.sent_at,
           event_id = excluded.event_id, mailbox = NULL, refused_at = NULL, refused_error = NULL, refused_message = NULL, resent = ${resend ? 'resent' : '0'}`,
      )
      .run(inviteId, now, join.event_id);
    // Sent by itself (no user waits for this answer): the invite's screen is told where it stands.
    if (resend) this.tellInvite(inviteId, invite.room_id, invite.invitee);
    let answer: unknown;
    try {
      answer = await this.callPeer(invite.host_server, JOIN_PATH, body);
    } catch (error) {
      // Nobody reaches the host, but a mailbox holds mail for it (issue #32): the join goes there,
      // and the host's answer comes back the same way (receiveJoinAnswer). The invite stays
      // pending until then, shown waiting there; accepting it again sends the join again.
      const unreachable = error instanceof HttpError && error.code === 'peer_unreachable';
      const mailbox = unreachable && this.d.leaveAtMailbox ? await this.d.leaveAtMailbox(invite.host_server, JOIN_PATH, body) : null;
      if (mailbox === null) {
        // The host's own refusal (a 4xx other than a limit) is where the join stands: shown with the invite.
        if (isFinalRefusal(error)) this.noteJoinRefused(inviteId, join.event_id, error);
        throw error;
      }
      this.d.db.prepare('UPDATE room_invite_joins SET mailbox = ? WHERE invite_id = ? AND event_id = ? AND refused_at IS NULL').run(mailbox, inviteId, join.event_id);
      this.tellInvite(inviteId, invite.room_id, invite.invitee);
      this.d.log.info({ event: 'join_left_at_mailbox', room_id: invite.room_id, host: invite.host_server, user_id: invite.invitee, mailbox }, 'join left at a mailbox of the room\'s host; the room appears when its answer comes back');
      return { room_id: invite.room_id, waiting_for_host: true };
    }
    await this.applySnapshot(invite.host_server, answer, join);
    this.d.db.prepare("UPDATE room_invites SET state = 'accepted' WHERE invite_id = ?").run(inviteId);
    this.d.log.info({ event: 'room_joined', room_id: invite.room_id, user_id: invite.invitee }, 'joined a remote room');
    // The snapshot shows the room at once; the full history follows in the background.
    void this.history.catchUp(invite.room_id).catch((error: Error) => warnLimited(this.d.log, `catch_up_failed ${invite.host_server}`, { event: 'catch_up_failed', room_id: invite.room_id, host: invite.host_server, error: error.message }, 'catch-up failed'));
    return { room_id: invite.room_id };
  }

  /**
   * A host's answer to a join we left at its mailbox (issue #32), carried back the same way: the
   * room's snapshot, taken exactly as the answer to a direct join (applySnapshot), or its refusal
   * (`refused`), for an invite whose join we sent to that host. Its join event must be our user's
   * own, signed by us, and names the invite (that user's). A snapshot that cannot be read is a
   * final answer (400): carried again, it would not read better, and it would hold every later
   * request from that host at the mailbox behind it.
   */
  async receiveJoinAnswer(host: string, roomId: string, answer: Record<string, unknown>, refused?: JoinRefusal): Promise<{ ok: true }> {
    const invites = this.d.db
      .prepare<[string, string], RoomInviteRow>(`${INVITE_ROWS} WHERE i.room_id = ? AND i.host_server = ? AND i.state = 'pending' AND j.invite_id IS NOT NULL`)
      .all(roomId, host);
    if (invites.length === 0) throw notFound('no_join_sent', `no join to ${roomId} was sent to ${host} from here`);
    const raw = refused ? refused.join_event : answer.join_event;
    if (raw === undefined) throw badRequest('bad_snapshot', 'the answer carries no join event');
    if (!this.namesUs(raw)) throw badRequest('bad_snapshot', 'the answer\'s join event is not one of ours');
    const own = (await this.d.ingest.verify(host, raw, { skipRoute: true })).envelope;
    const invite = invites.find((i) => i.invitee === own.sender);
    if (!invite || own.event_type !== 'm.member.join' || own.origin_server !== this.server || own.room_id !== roomId || own.state_key !== own.sender) {
      throw badRequest('bad_snapshot', 'the answer\'s join event is not that of a user of ours who sent a join to that room');
    }
    if (refused) {
      this.takeJoinRefusal(host, invite, own, refused);
      return { ok: true };
    }
    try {
      await this.applySnapshot(host, answer, own);
    } catch (error) {
      if (error instanceof HttpError && error.code === 'bad_snapshot') {
        // The host answered, unreadably: that is where the join stands (not waiting at the mailbox).
        if (invite.join_event_id === own.event_id) this.noteJoinRefused(invite.invite_id, own.event_id, error);
        throw badRequest('bad_snapshot', error.message);
      }
      throw error;
    }
    this.d.db.prepare("UPDATE room_invites SET state = 'accepted' WHERE invite_id = ?").run(invite.invite_id);
    this.d.log.info({ event: 'room_joined', room_id: roomId, user_id: invite.invitee, via: 'mailbox' }, 'joined a remote room (its answer came through a mailbox)');
    this.d.notifications.notify({ type: 'status' });
    return { ok: true };
  }

  /**
   * The host refused the join `own` sent for `invite` (a join-answer carrying `refused`): noted as
   * where the join stands, or, taken too late, the join signed again and sent again.
   */
  private takeJoinRefusal(host: string, invite: RoomInviteRow, own: Envelope, refused: JoinRefusal): void {
    // The host refused that join. Another than the join last sent (accepted again since) is no
    // answer to it: ignored. The host's code and words go through peerRefusal like a direct
    // answer's: one of our codes it may use as it is, else peer_refused, its words cleaned and cut.
    // (A join sent before migration 37 has no event id stored: one signed since it was sent counts.)
    if (invite.join_event_id === null ? invite.join_sent_at === null || own.origin_ts < invite.join_sent_at : invite.join_event_id !== own.event_id) return;
    // Taken too late (a mailbox held it over the host's minute for events, 409 depth_too_old):
    // signed again and sent again by itself, as a message taken late is, at most
    // MAX_JOIN_RESENDS times per accept (a host saying so of every join cannot loop us).
    // Claimed in one statement after the checks (two answers at once resend once), only for
    // that join, not refused already, under the bound.
    if (refused.error === 'depth_too_old' && this.d.db
      .prepare('UPDATE room_invite_joins SET resent = resent + 1 WHERE invite_id = ? AND event_id = ? AND refused_at IS NULL AND resent < ?')
      .run(invite.invite_id, own.event_id, MAX_JOIN_RESENDS).changes === 1) {
      this.d.log.info({ event: 'join_resent', room_id: own.room_id, host, user_id: invite.invitee }, 'the room\'s host took our join too late (it waited at a mailbox); signed again and sent again');
      void this.acceptInvite(invite.invite_id, undefined, true).catch((error: unknown) => {
        // Not sent again for a reason of ours (the invite is gone, the host is held here, …): the
        // join no longer waits at the mailbox; no answer came that counts (accepting again asks).
        // (A refusal by the host of the join sent again is noted by acceptInvite itself.)
        guarded(this.d.log, 'join_resend_failed', () => {
          if (this.d.db.prepare('UPDATE room_invite_joins SET mailbox = NULL WHERE invite_id = ? AND event_id = ?').run(invite.invite_id, own.event_id).changes > 0) {
            this.tellInvite(invite.invite_id, own.room_id, invite.invitee);
          }
        });
        warnLimited(this.d.log, `join_resend_failed ${host}`, { event: 'join_resend_failed', room_id: own.room_id, host, error: (error as Error).message }, 'could not send a join again; its user may accept again');
      });
      return;
    }
    const error = peerRefusal(host, { status: 403, json: { error: refused.error, message: refused.message }, text: '' }, 'peer_refused', { keep: PEER_MEMBERSHIP_CODES });
    if (this.noteJoinRefused(invite.invite_id, own.event_id, error)) {
      this.d.log.info({ event: 'join_refused', room_id: own.room_id, host, user_id: invite.invitee, error: error.code, via: 'mailbox' }, 'the room\'s host refused our join (its answer came through a mailbox)');
    }
  }

  /** The invite's screens are told it changed. */
  private tellInvite(inviteId: string, roomId: string, invitee: string): void {
    this.d.notifications.notify({ type: 'invite', invite_id: inviteId, room_id: roomId, invitee });
  }

  /** Whether a peer's copy of a join event names us as its origin: checked before it is verified (else another server's keys would be fetched for it). */
  private namesUs(raw: unknown): boolean {
    return (raw as { origin_server?: unknown } | null)?.origin_server === this.server;
  }

  /**
   * The host refused the join `joinEventId` sent for an invite: shown with it (admin
   * `listInvites`), the UI told. Once per join: the same refusal again changes and tells nothing
   * (a host repeating it must not make every screen fetch the invites again). True when noted.
   */
  private noteJoinRefused(inviteId: string, joinEventId: string, error: HttpError): boolean {
    const changed = this.d.db
      .prepare('UPDATE room_invite_joins SET refused_at = ?, refused_error = ?, refused_message = ?, mailbox = NULL WHERE invite_id = ? AND event_id = ? AND refused_at IS NULL')
      .run(Date.now(), error.code, error.message, inviteId, joinEventId).changes;
    const invite = changed > 0 ? this.d.db.prepare<[string], { room_id: string; invitee: string }>('SELECT room_id, invitee FROM room_invites WHERE invite_id = ?').get(inviteId) : undefined;
    if (invite) this.tellInvite(inviteId, invite.room_id, invite.invitee);
    return changed > 0;
  }

  private async applySnapshot(host: string, answer: unknown, ownJoin: Envelope): Promise<void> {
    const snapshot = answer as Partial<RoomSnapshot> | undefined;
    if (!snapshot?.room || !Array.isArray(snapshot.members) || !Array.isArray(snapshot.events)) {
      throw new HttpError(502, 'bad_snapshot', `${host} answered the join without a room snapshot`);
    }
    const verified: VerifiedEvent[] = [];
    for (const raw of snapshot.events.slice(0, MAX_SNAPSHOT_EVENTS_ACCEPTED)) {
      try {
        verified.push(await this.d.ingest.verify(host, raw, { skipRoute: true }));
      } catch (error) {
        warnLimited(this.d.log, `snapshot_event_rejected ${host}`, { event: 'snapshot_event_rejected', host, error: (error as Error).message }, 'snapshot event rejected');
      }
    }
    verified.sort((a, b) => compareDisplayOrder(a.envelope, b.envelope));
    const room = snapshot.room;
    const join = await this.standingJoin(host, snapshot.join_event, ownJoin);
    let overQuota = 0;
    await this.d.commit.run(() => {
      const name = stripUnsafeDisplay(String(room.name ?? '')).slice(0, 100).trim() || ownJoin.room_id;
      this.d.rooms.createRoom({ room_id: ownJoin.room_id, name, host_server: host, created_at: Date.now() });
      if (!this.d.events.get(join.event_id)) this.d.events.insert(join, contentHash(envelopeSigningBytes(join)), null);
      this.d.rooms.apply(join);
      for (const event of verified) {
        const { envelope } = event;
        if (envelope.room_id !== ownJoin.room_id) continue;
        try {
          checkRelayedOrdering(envelope, Date.now());
        } catch {
          continue; // no honest host relays a depth a day ahead of our clock
        }
        // The ingest chain decides as for any event the host relays: blocked, held in quarantine, quota.
        let outcome: ReturnType<EventIngest['storeIn']>;
        try {
          outcome = this.d.ingest.storeIn(event, host);
        } catch (error) {
          if (error instanceof HttpError && error.code === 'quota_exceeded') overQuota++;
          continue;
        }
        if (outcome !== 'held') this.d.rooms.apply(envelope);
      }
      // Members whose membership events are older than the snapshot's recent events: as the host
      // reports them (it hosts the room; the events themselves follow with the catch-up). Never
      // our own users: their membership is what this node did (RoomStore.applyHostReport). Nor
      // from a host quarantined or blocked (its events are held, not applied: its reports too).
      const reports = this.hostRefusal(host) === null ? snapshot.members!.slice(0, 10_000) : [];
      for (const member of reports) {
        if (!isReportedMember(member)) continue;
        this.d.rooms.applyHostReport(ownJoin.room_id, member);
      }
    });
    if (overQuota > 0) {
      warnLimited(this.d.log, `snapshot_over_quota ${host}`, { event: 'snapshot_over_quota', host, room_id: ownJoin.room_id, dropped: overQuota }, 'join snapshot events over the host\'s storage quota were not stored');
    }
    this.d.notifications.notify({ type: 'room', room_id: ownJoin.room_id, event_id: ownJoin.event_id, event_type: ownJoin.event_type, sender: ownJoin.sender });
  }

  /**
   * The join that stands for our user: `ownJoin`, or — when the host already had our user in
   * (an earlier answer we never got) — the join we signed then, which the host sends back.
   */
  private async standingJoin(host: string, raw: unknown, ownJoin: Envelope): Promise<Envelope> {
    if (raw === undefined) return ownJoin;
    if (!this.namesUs(raw)) throw new HttpError(502, 'bad_snapshot', `${host} answered the join with a join event that is not one of ours`);
    const standing = (await this.d.ingest.verify(host, raw, { skipRoute: true })).envelope;
    if (standing.event_type !== 'm.member.join' || standing.origin_server !== this.server || standing.room_id !== ownJoin.room_id ||
      standing.sender !== ownJoin.sender || standing.state_key !== ownJoin.sender) {
      throw new HttpError(502, 'bad_snapshot', `${host} answered the join with a join event that is not ${ownJoin.sender}'s own`);
    }
    // An old join of ours (before a leave) would not make the user a member again.
    const current = this.d.rooms.member(ownJoin.room_id, ownJoin.sender);
    if (current && compareDisplayOrder({ depth: current.event_depth, origin_server: current.event_origin, event_id: current.event_id }, standing) > 0) {
      throw new HttpError(502, 'bad_snapshot', `${host} answered the join with an earlier join of ${ownJoin.sender}, before their latest membership`);
    }
    return standing;
  }

  /** Host side of `POST /join` and `POST /leave`: the membership event arrives in the body. */
  async receiveMembership(requestOrigin: string, kind: 'join' | 'leave', body: { room_id: string; user_id: string; event?: unknown }): Promise<RoomSnapshot | { ok: true } | Record<string, unknown>> {
    this.hostedRoom(body.room_id);
    const domain = this.d.dialects?.domainOf(requestOrigin) ?? null;
    if (serverOf(body.user_id) !== requestOrigin && !(domain !== null && serverOf(body.user_id) === domain)) {
      throw forbidden('not_origin', `${body.user_id} is not a user of ${requestOrigin}`);
    }
    // A ban is answered `banned` in every dialect (a reference server's event-less join too),
    // before anything else about the join is looked at.
    if (kind === 'join' && this.d.rooms.bans.isBanned(body.room_id, body.user_id)) {
      const now = Date.now();
      if (this.bannedSendIsAbuse(requestOrigin, body.room_id, body.user_id, now, now)) this.d.onBannedSender?.(requestOrigin);
      throw banned(body.user_id);
    }
    if (body.event === undefined && this.d.dialects?.isReference(requestOrigin)) return this.receiveReferenceMembership(requestOrigin, kind, body);
    // The snapshot holds the room's history: only for this very user, invited (or already in).
    if (kind === 'join') this.requireInvited(body.room_id, body.user_id);
    if (body.event === undefined) {
      // A join without an event (reference style: the snapshot only) stores nothing: no news.
      if (kind === 'join') return { ...this.snapshot(body.room_id), inserted: false };
      throw badRequest('event_required', 'POST /leave needs the signed m.member.leave event in "event"');
    }
    const verified = await this.d.ingest.verify(requestOrigin, body.event);
    const event = verified.envelope;
    if (event.event_type !== `m.member.${kind}` || event.room_id !== body.room_id || event.sender !== body.user_id) {
      throw badRequest('invalid_membership', `the event must be an m.member.${kind} of ${body.user_id} in ${body.room_id}`);
    }
    if (kind === 'join') {
      // A join of a user already in (its server lost our first answer, or gave up on it): the room
      // again, and the join that stands, instead of 409. A join is idempotent (docs/PROTOCOL.md).
      const standing = this.d.rooms.member(body.room_id, body.user_id);
      const joinEvent = standing?.membership === 'join' && standing.event_id !== event.event_id ? this.d.events.get(standing.event_id) : undefined;
      if (joinEvent) return { ...this.snapshot(body.room_id), join_event: joinEvent, inserted: false };
    }
    // `inserted`: whether the event was new here (a copy is answered as the first one was, and says
    // it was no news: a mailbox's loop paces pages of copies, mailbox/self-dispatch.ts).
    const { inserted } = await this.d.ingest.store(verified, requestOrigin);
    return kind === 'join' ? { ...this.snapshot(body.room_id), inserted } : { ok: true, inserted };
  }

  /**
   * A reference server's `/join` and `/leave` carry no event (federation.rs:2091-2233): the RPC
   * itself is the membership change. The host records it (a join still needs the user's pending
   * invite) and answers in the reference's shape (FederationJoinResponse / FederationLeaveResponse,
   * client.rs:472-485: every field required) plus our snapshot for a join. The reference's own
   * m.member.join, when it arrives by polling, confirms it.
   */
  private async receiveReferenceMembership(origin: string, kind: 'join' | 'leave', body: { room_id: string; user_id: string }): Promise<Record<string, unknown>> {
    // The ingest chain's decision (EventIngest.admit): with no event to hold, a quarantined server's change waits for the owner.
    if (this.d.ingest.admit(origin, origin)) throw forbidden('origin_quarantined', `${origin} is quarantined by this server: its ${kind} is not accepted until the owner ends the quarantine`);
    const guildId = body.room_id.slice(1, body.room_id.indexOf(':'));
    if (kind === 'join') this.requireInvited(body.room_id, body.user_id);
    const member = this.d.rooms.member(body.room_id, body.user_id);
    const now = Date.now();
    await this.d.commit.run(() => {
      if (kind === 'leave' && member?.membership !== 'join' && member?.membership !== 'invite') return;
      if (kind === 'join' && member?.membership === 'join') return;
      // No signed event exists for this change: the row says who decided it (the host, on the peer's RPC).
      const depth = Math.max(now, (this.d.rooms.room(body.room_id)?.last_depth ?? 0) + 1);
      this.d.rooms.applyReportedMember(body.room_id, {
        user_id: body.user_id, membership: kind, role: member?.role === 'owner' ? 'owner' : 'member', invite_expires_at: null,
        event_id: `$rpc_${kind}:${now}:${this.server}`, event_depth: depth, event_origin: origin,
      });
    });
    this.d.log.info({ event: `reference_${kind}`, room_id: body.room_id, user_id: body.user_id, server: origin }, `a reference server's user ${kind === 'join' ? 'joined' : 'left'} a room we host`);
    this.d.notifications.notify({ type: 'status' });
    if (kind === 'leave') return { left: member?.membership === 'join' || member?.membership === 'invite', room_id: body.room_id, guild_id: guildId };
    return { joined: true, room_id: body.room_id, guild_id: guildId, local_user_id: body.user_id, ...this.snapshot(body.room_id) };
  }

  /** A join needs a pending, unexpired invite of that user (or the user is already joined). */
  private requireInvited(roomId: string, userId: string): void {
    const member = this.d.rooms.member(roomId, userId);
    if (member?.membership === 'join') return;
    if (member?.membership !== 'invite') throw forbidden('not_invited', `${userId} has no invite to ${roomId}`);
    if (member.invite_expires_at !== null && member.invite_expires_at <= Date.now()) throw forbidden('invite_expired', 'the invite to this room has expired');
  }

  /**
   * A join's answer, within what the joiner reads (page-budget.ts): members (those in the room
   * first) in at most half the page, then the latest events in the rest. What does not fit
   * comes with the catch-up, which starts at the room's beginning.
   */
  snapshot(roomId: string): RoomSnapshot {
    const room = this.d.rooms.room(roomId)!;
    const members = this.d.rooms.members(roomId)
      .map((m) => ({
        user_id: m.user_id, membership: m.membership, role: m.role, invite_expires_at: m.invite_expires_at,
        event_id: m.event_id, event_depth: m.event_depth, event_origin: m.event_origin,
      }))
      .sort((a, b) => Number(a.membership === 'leave') - Number(b.membership === 'leave'));
    const listed = withinBytes(members, (m) => utf8Bytes(m.user_id) + m.event_id.length + m.event_origin.length + 160, PAGE_BYTES / 2);
    const latest = this.d.events.latest(roomId, SNAPSHOT_EVENTS, PAGE_BYTES - listed.bytes);
    return {
      room: { room_id: room.room_id, name: room.name, host_server: room.host_server, depth: room.last_depth },
      members: listed.items,
      events: latest.events,
      complete: latest.complete && !listed.cut,
    };
  }

}
