/**
 * Host-authoritative rooms (docs/PROTOCOL.md §Rooms). The server named in a room id hosts it: it
 * authorizes every event, orders and stores the full history, and relays each accepted event
 * (origin signature intact) to every other server with joined members. Other servers send
 * their users' events to the host only, and apply what the host relays.
 *
 * Every local action is one group-commit job: authorize → sign → store → apply → enqueue
 * deliveries, so the outbox rows are durable exactly when the event is.
 *
 * This class is the rooms' one entry point (the admin operations, the federation routes and the
 * node call it); each concept lives in its own file, which it delegates to: local sends
 * (local-sends.ts), invites (room-invites.ts), joins and snapshots (room-joins.ts), inbound
 * events (inbound-events.ts), catch-up (catch-up.ts); what they share is room-part.ts.
 */
import type { TakenLate } from '../mailbox/deposits.ts';
import type { JoinRefusal } from '../federation/routes/membership/schema.ts';
import { notFound } from '../errors.ts';
import { envelopeWireJson, type Envelope } from '../federation/envelope.ts';
import { inOneRead } from '../store/database.ts';
import type { RoomEventType } from './event-types.ts';
import { roomMessages, type MessageView } from './messages-view.ts';
import { messageChanges, messagePage, roomActions } from './message-page.ts';
import type { RoomActions } from '../../../shared/contract/admin-operations.ts';
import { ClientTxns } from './client-txns.ts';
import { RoomPart, type RoomServiceDeps } from './room-part.ts';
import { LocalSends } from './local-sends.ts';
import { DEFAULT_INVITE_MAX_AGE_S, RoomInvites, type RoomInviteRow } from './room-invites.ts';
import { RoomJoins, type RoomSnapshot } from './room-joins.ts';
import { InboundEvents } from './inbound-events.ts';
import { OwnEventsRecovery, type RecoveryMark } from './own-recovery.ts';
import { RoomCatchUp } from './catch-up.ts';

export type { RoomServiceDeps } from './room-part.ts';
export { DEFAULT_INVITE_MAX_AGE_S, DEFAULT_MAX_PENDING_INVITES_PER_PEER, type RoomInviteRow } from './room-invites.ts';
export type { RoomSnapshot } from './room-joins.ts';
export { DEFAULT_CATCH_UP_MAX_PAGES_PER_RUN, DEFAULT_CATCH_UP_REQUESTS_PER_HOST_PER_MINUTE } from './catch-up.ts';

export class RoomService extends RoomPart {
  /** Client transaction ids of our users' sends: a repeat is stored once (client-txns.ts). */
  readonly clientTxns: ClientTxns;
  private readonly sends: LocalSends;
  private readonly invitations: RoomInvites;
  private readonly joins: RoomJoins;
  private readonly inbound: InboundEvents;
  private readonly history: RoomCatchUp;
  private readonly recovery: OwnEventsRecovery;

  constructor(deps: RoomServiceDeps) {
    super(deps);
    this.clientTxns = new ClientTxns(deps.db);
    this.sends = new LocalSends(deps, this.clientTxns);
    this.invitations = new RoomInvites(deps, this.sends);
    this.history = new RoomCatchUp(deps, (roomId) => this.invitations.adoptHistoryInvites(roomId));
    this.joins = new RoomJoins(deps, this.sends, this.history);
    this.inbound = new InboundEvents(deps);
    this.recovery = new OwnEventsRecovery(deps);
  }

  localUser(userId: string | undefined): string {
    const id = userId ?? `@owner:${this.server}`;
    if (!this.d.users.get(id)) throw notFound('unknown_user', `${id} is not a user of this server`);
    return id;
  }

  /** A stored event of a room (read markers point at one). */
  roomEvent(roomId: string, eventId: string): Envelope | undefined {
    const event = this.d.events.get(eventId);
    return event?.room_id === roomId ? event : undefined;
  }

  messages(roomId: string, limit: number, before?: string): MessageView[] {
    if (!this.d.rooms.room(roomId)) throw notFound('unknown_room', `no room ${roomId} here`);
    if (before === undefined) return roomMessages(this.d.events, this.d.rooms, roomId, limit);
    const anchor = this.d.events.get(before);
    if (!anchor || anchor.room_id !== roomId) throw notFound('unknown_event', `no event ${before} in ${roomId}`);
    return roomMessages(this.d.events, this.d.rooms, roomId, limit, anchor.event_id);
  }

  /** The UI's page of messages: permissions of `viewer` and delivery of own messages included (message-page.ts). */
  // Both in one read transaction: a page runs a few hundred small queries (two authorizations per
  // message), and each alone would take and drop the WAL's read lock (~20 µs each here); one
  // snapshot also makes the page consistent with itself.
  // `cursor` is read in the same snapshot: a later `since: cursor` finds exactly what came after this answer.
  messagePage(roomId: string, viewer: string, limit: number, before?: string, since?: string, also?: readonly string[]): { messages: MessageView[]; has_more?: boolean; cursor: string; changes?: true } {
    return inOneRead(this.d.db, () => {
      if (!this.d.rooms.room(roomId)) throw notFound('unknown_room', `no room ${roomId} here`);
      const cursor = this.d.events.changeCursor();
      const deps = { db: this.d.db, events: this.d.events, rooms: this.d.rooms, server: this.server, isHeld: this.d.isHeldDestination };
      if (since !== undefined) {
        const changed = messageChanges(deps, roomId, viewer, limit, since, also ?? [], this.readOnlyHere(roomId));
        if (changed) return { messages: changed, cursor, changes: true };
      }
      if (before !== undefined) {
        const anchor = this.d.events.get(before);
        if (!anchor || anchor.room_id !== roomId) throw notFound('unknown_event', `no event ${before} in ${roomId}`);
      }
      return { ...messagePage(deps, roomId, viewer, limit, before, this.readOnlyHere(roomId)), cursor };
    });
  }

  /** What `viewer` may do in the room as a whole, by the rules send() enforces (message-page.ts `roomActions`). */
  roomActions(roomId: string, viewer: string): RoomActions {
    return inOneRead(this.d.db, () => roomActions({ db: this.d.db, events: this.d.events, rooms: this.d.rooms, server: this.server }, roomId, viewer, this.readOnlyHere(roomId)));
  }

  wireEvent(event: Envelope): string {
    return envelopeWireJson(event);
  }

  // ——— local sends (local-sends.ts) ———

  /**
   * A local user's messages, in order (the admin API's sendMessage and sendMessages): a message
   * with a client `txn_id` already stored answers the event stored the first time and is not
   * sent again. One message goes the single-send way, several in one job.
   */
  sendMessages(roomId: string, sender: string, messages: ReadonlyArray<{ body: string; txn_id?: string | undefined }>): Promise<string[]> {
    return this.sends.sendMessages(roomId, sender, messages);
  }

  createRoom(name: string, creator: string): Promise<string> {
    return this.sends.createRoom(name, creator);
  }

  /**
   * Several events of one local user in one room, in one job (all or none), in order: one
   * transaction and, downstream, consecutive outbox rows that leave in one batch request.
   */
  sendMany(roomId: string, type: RoomEventType, sender: string, contents: ReadonlyArray<Record<string, unknown>>, txnIds?: ReadonlyArray<string | undefined>): Promise<Envelope[]> {
    return this.sends.sendMany(roomId, type, sender, contents, txnIds);
  }

  /** Makes, authorizes, signs, stores and queues one event of a local user. */
  send(roomId: string, type: RoomEventType, sender: string, stateKey: string | null, content: Record<string, unknown>, txnId?: string): Promise<Envelope> {
    return this.sends.send(roomId, type, sender, stateKey, content, txnId);
  }

  // ——— invites (room-invites.ts) ———

  /** Host side: invite a user (local or remote). A remote user's server is told first; if it refuses, nothing changes. */
  invite(roomId: string, inviter: string, invitee: string, maxAgeSeconds = DEFAULT_INVITE_MAX_AGE_S): Promise<{ event_id: string }> {
    return this.invitations.invite(roomId, inviter, invitee, maxAgeSeconds);
  }

  invites(userId?: string): RoomInviteRow[] {
    return this.invitations.invites(userId);
  }

  /** Federation `POST /invite` with an invitee: the host tells us one of our users is invited. */
  receiveInvite(requestOrigin: string, body: { room_id: string; invitee: string; room_name?: string; max_age_seconds: number; event: unknown }): Promise<{ invite_id: string; inserted: boolean }> {
    return this.invitations.receiveInvite(requestOrigin, body);
  }

  /**
   * Pull mode and mailboxes (issue #32): the host of a room queues the signed invite of one of our
   * users instead of calling us, and we pull it, fetch it from a mailbox, or get it pushed later. Taken exactly as its `POST /invite` would be (receiveInvite:
   * signature, the room is the sender's, our user exists, the per-peer cap): true when `raw` was
   * such an invite (stored, or refused and logged: refusals are final, as a push's are), false when
   * it is not one (the ingest chain takes it). A page asked again finds it stored: a no-op.
   */
  receiveInviteEvent(host: string, raw: unknown): false | Promise<'taken' | 'known'> {
    return this.invitations.receiveInviteEvent(host, raw);
  }

  // ——— joins, leaves, snapshots (room-joins.ts) ———

  /** Federation `POST /invite` without an invitee (join preflight): may `origin` join this room? */
  preflight(requestOrigin: string, roomId: string, maxAgeSeconds?: number | null): RoomSnapshot['room'] & { member_count: number } & Record<string, unknown> {
    return this.joins.preflight(requestOrigin, roomId, maxAgeSeconds);
  }

  /** Invitee side: accept a pending invite — the signed join goes to the host, which answers with a snapshot. */
  acceptInvite(inviteId: string, userId?: string): Promise<{ room_id: string; waiting_for_host?: boolean }> {
    return this.joins.acceptInvite(inviteId, userId);
  }

  /**
   * A host's answer to a join we left at its mailbox (issue #32), carried back the same way: the
   * room's snapshot, taken exactly as the answer to a direct join (applySnapshot), for an invite
   * whose join we sent to that host. Its join event must be our user's own, signed by us.
   */
  receiveJoinAnswer(host: string, roomId: string, answer: Record<string, unknown>, refused?: JoinRefusal): Promise<{ ok: true }> {
    return this.joins.receiveJoinAnswer(host, roomId, answer, refused);
  }

  /** Host side of `POST /join` and `POST /leave`: the membership event arrives in the body. */
  receiveMembership(requestOrigin: string, kind: 'join' | 'leave', body: { room_id: string; user_id: string; event?: unknown }): Promise<RoomSnapshot | { ok: true } | Record<string, unknown>> {
    return this.joins.receiveMembership(requestOrigin, kind, body);
  }

  /**
   * A join's answer, within what the joiner reads (page-budget.ts): members (those in the room
   * first) in at most half the page, then the latest events in the rest. What does not fit
   * comes with the catch-up, which starts at the room's beginning.
   */
  snapshot(roomId: string): RoomSnapshot {
    return this.joins.snapshot(roomId);
  }

  // ——— inbound events (inbound-events.ts) ———

  /** Before the signature check: is this the right server to send us this room's event? */
  checkRoute(requestOrigin: string, event: Envelope): void {
    this.inbound.checkRoute(requestOrigin, event);
  }

  /** Inside the storing transaction, before the insert: the host authorizes. */
  authorizeInbound(event: Envelope): void {
    this.inbound.authorizeInbound(event);
  }

  /** Inside the storing transaction, after the insert: apply and relay. */
  onInboundStored(event: Envelope, receivedFrom: string): void {
    this.inbound.onInboundStored(event, receivedFrom);
  }

  /** At the commit of an inbound event, before the flush: the UI hears of it. */
  onInboundCommitted(event: Envelope): void {
    this.inbound.onInboundCommitted(event);
  }

  /**
   * Once an inbound event is durable: relays start. Not earlier: a host that relayed an event a
   * power cut then took back would refuse its sender's copy sent again later as too old, and the
   * sender's re-issue under the same id would conflict with the copies the members already hold.
   */
  onInboundDurable(event: Envelope): void {
    this.inbound.onInboundDurable(event);
  }

  /**
   * An attempt's outcome changed the delivery of events (delivered, a retry, a refusal): the UI is
   * told of those this server made, per room, so the "waiting" and "delivered" it shows follow
   * the outbox (rooms reload only what changed, issue #17, so nothing else would refresh them).
   */
  noteDeliveryChanged(rows: ReadonlyArray<{ event_id: string; room_id: string }>): void {
    this.inbound.noteDeliveryChanged(rows);
  }

  /**
   * Events acknowledged by `destination` (pushed, or pulled and acked): a ban of a room we host
   * reaching the banned user's server is recorded (the time from which its sends count as abuse).
   * Called inside the transaction that deletes their outbox rows.
   */
  noteRead(destination: string, rows: ReadonlyArray<{ event_id: string; room_id: string }>, held = false): void {
    this.inbound.noteRead(destination, rows, held);
  }

  /**
   * Member side of a 409 `depth_too_old` from a room's host (e.g. messages typed while the host
   * was down longer than its reorder window): our event is re-issued with the same id, a fresh
   * origin_ts and depth = max(now, room_depth + 1, our room clock + 1), signed again, and
   * replaces our stored copy (nobody else has the refused one: members receive events only
   * through the host). True when it was re-issued and should be delivered again.
   */
  reissueRefused(destination: string, eventId: string, roomDepth: unknown, options: { signedBefore?: number } = {}): Promise<boolean> {
    return this.inbound.reissueRefused(destination, eventId, roomDepth, options);
  }

  /** reissueRefused's signing in the caller's transaction (a pull ack's); told after its commit with reissued. */
  reissueNow(destination: string, eventId: string, roomDepth: unknown): Envelope | null {
    return this.inbound.reissueNow(destination, eventId, roomDepth);
  }

  /** A re-issue committed (reissueNow's): logged, and the room's screens told. */
  reissued(event: Envelope): void {
    this.inbound.reissued(event);
  }

  /** Our events a room's host took from a mailbox too late (mailbox/deposits.ts): re-issued and queued for it again. */
  resendTakenLate(late: ReadonlyArray<TakenLate>, settled: (row: TakenLate) => void): Promise<void> {
    return this.inbound.resendTakenLate(late, settled);
  }

  // ——— catch-up (catch-up.ts) ———

  /**
   * Host side of `GET /events`: a page for a server with joined members. `sinceEventId` makes
   * the cursor (depth, event_id) exact; without it, `since_depth` alone (older callers).
   */
  catchUpPage(requestOrigin: string, roomId: string, sinceDepth: number, limit: number, sinceEventId?: string) {
    return this.history.catchUpPage(requestOrigin, roomId, sinceDepth, limit, sinceEventId);
  }

  /** Cancels running catch-ups and scheduled resumptions (node stop, before the database closes). */
  stop(): void {
    this.history.stop();
    this.invitations.stop();
    this.recovery.stop();
  }

  // ——— a restored host's own events (own-recovery.ts) ———

  /** Member side of `GET /own-events`: the room host's own events we hold, to that host only. */
  ownEventsPage(requestOrigin: string, roomId: string, sinceDepth: number, limit: number, sinceEventId?: string) {
    return this.recovery.ownEventsPage(requestOrigin, roomId, sinceDepth, limit, sinceEventId);
  }

  /** After a restore: asks the members of the rooms we host for our own events, with retries; `finished` once done or given up. */
  recoverOwnEvents(mark: RecoveryMark, finished: (outcome: { done: boolean }) => void): void {
    this.recovery.start(mark, finished);
  }

  /** Pulls what we missed in a remote room from its host (on start, after a join). */
  catchUp(roomId: string): Promise<number> {
    return this.history.catchUp(roomId);
  }

  /** Whether the room's catch-up waits for the storage quota here: its host, until when. */
  catchUpQuotaWait(roomId: string, now = Date.now()): { server: string; until: number } | null {
    return this.history.quotaWaitOf(roomId, now);
  }

  /** Remote rooms where we have joined members: caught up at start. */
  remoteJoinedRooms(): string[] {
    return this.history.remoteJoinedRooms();
  }
}
