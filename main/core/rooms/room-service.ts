/**
 * Host-authoritative rooms (docs/PROTOCOL.md §Rooms). The server named in a room id hosts it: it
 * authorizes every event, orders and stores the full history, and relays each accepted event
 * (origin signature intact) to every other server with joined members. Other servers send
 * their users' events to the host only, and apply what the host relays.
 *
 * Every local action is one group-commit job: authorize → sign → store → apply → enqueue
 * deliveries, so the outbox rows are durable exactly when the event is.
 */
import type { Logger } from 'pino';
import { warnLimited } from '../log/rate-limit.ts';
import { EVENT_ID, isSafeDisplayName, isUserId, serverOf, stripUnsafeDisplay } from '../../../shared/identifiers.ts';
import { HttpError, badRequest, forbidden, notFound } from '../errors.ts';
import type { Discovery } from '../federation/discovery.ts';
import {
  contentHash,
  envelopeSigningBytes,
  envelopeSigningParts,
  envelopeWireJson,
  signEnvelope,
  signEnvelopeParts,
  unsignedPart,
  type Envelope,
  type UnsignedEnvelope,
} from '../federation/envelope.ts';
import { receivedOutcome, type EventIngest, type ReceivedOutcome, type VerifiedEvent } from '../federation/event-ingest.ts';
import type { HttpClient } from '../federation/http-client.ts';
import { peerRefusal } from '../federation/peer-refusal.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { INVITE_WIRE_ORDER, MEMBERSHIP_WIRE_ORDER, wireJson } from '../federation/wire-json.ts';
import type { Identity } from '../identity/identity.ts';
import type { NodeEvents } from '../node-events.ts';
import type { DeliveryWorkers } from '../outbox/delivery-worker.ts';
import type { Outbox, OutboxRow } from '../outbox/outbox.ts';
import { inOneRead, type Db } from '../store/database.ts';
import { MAX_DEPTH_GROUP, type FederationEvents } from '../store/federation-events.ts';
import { quotaWait } from '../trust/storage-quota.ts';
import type { GroupCommit } from '../store/group-commit.ts';
import { authorizeEvent, banned } from './authorize.ts';
import { compareDisplayOrder, type RoomEventType } from './event-types.ts';
import { newEventId, newInviteId, newRoomId } from './ids.ts';
import { SendOrder } from './send-order.ts';
import type { LocalUsers } from './local-users.ts';
import { roomMessages, type MessageView } from './messages-view.ts';
import { messageChanges, messagePage, roomActions } from './message-page.ts';
import type { RoomActions } from '../../../shared/contract/admin-operations.ts';
import { DEFAULT_REORDER_WINDOW_MS, believableRoomDepth, checkHostOrdering, checkRelayedOrdering } from './ordering.ts';
import { bannedEventIsAbuse } from './room-bans.ts';
import type { MemberRow, RoomStore } from './room-store.ts';
import type { PeerDialects } from '../federation/reference/peer-dialects.ts';
import { encodeHex } from '../crypto/hex.ts';
import type { PoolSignature, PoolSigningKey } from '../crypto/verify-pool.ts';
import { referenceExtras } from '../federation/reference/vocabulary.ts';
import { parseChannelRoom } from '../federation/reference/channel-rooms.ts';
import { aheadOfReference3, tooOldForReference3 } from '../federation/reference/carry.ts';
import { ClientTxns } from './client-txns.ts';
import { PAGE_BYTES, utf8Bytes, withinBytes } from '../federation/page-budget.ts';

export const INVITE_PATH = '/_paracord/federation/v1/invite';
export const JOIN_PATH = '/_paracord/federation/v1/join';
export const LEAVE_PATH = '/_paracord/federation/v1/leave';
/** A host's answer to a join that came through a mailbox (issue #32): the snapshot, carried back. */
export const JOIN_ANSWER_PATH = '/_paracord/federation/v1/join-answer';
export const EVENTS_PATH = '/_paracord/federation/v1/events';

/** How long an invite stays valid unless the inviter says otherwise. */
export const DEFAULT_INVITE_MAX_AGE_S = 7 * 24 * 3600;
const SNAPSHOT_EVENTS = 100;
/**
 * The most events of a join snapshot we verify and store (ours send SNAPSHOT_EVENTS): the rest of
 * the history comes with the catch-up, which is charged and paced like any delivery.
 */
const MAX_SNAPSHOT_EVENTS_ACCEPTED = 2 * SNAPSHOT_EVENTS;
const CATCH_UP_PAGE = 200;
/** The most events a catch-up page is taken with: what a host serves (the limit, and the rest of a depth). */
const CATCH_UP_MAX_EVENTS = CATCH_UP_PAGE + MAX_DEPTH_GROUP;
/** Default for NodeConfig.maxPendingInvitesPerPeer. */
export const DEFAULT_MAX_PENDING_INVITES_PER_PEER = 50;
/** After a host's catch-up cursor stopped advancing, its rooms are not pulled again for this long. */
const CATCH_UP_BACKOFF_MS = 10 * 60_000;
/**
 * Catch-up bounds (red team "catch-up crawl"): a host that keeps saying "more" while its pages
 * bring nothing — cursor creeping forward by one, the same or already stored events — is
 * dropped after this many such pages in a row, and backed off like a stalled host.
 */
const CATCH_UP_FRUITLESS_PAGES = 3;
/** Default for NodeConfig.catchUpMaxPagesPerRun: pages (200 events each) one run asks for; the rest waits for the next run. */
export const DEFAULT_CATCH_UP_MAX_PAGES_PER_RUN = 500;
/** Default for NodeConfig.catchUpRequestsPerHostPerMinute (all rooms together); then the run pauses a minute. */
export const DEFAULT_CATCH_UP_REQUESTS_PER_HOST_PER_MINUTE = 120;

export interface RoomInviteRow {
  invite_id: string;
  room_id: string;
  room_name: string;
  host_server: string;
  inviter: string;
  invitee: string;
  event_id: string;
  state: 'pending' | 'accepted' | 'declined';
  expires_at: number;
  created_at: number;
  /** When a join was sent to the host for it (null: never). */
  join_sent_at: number | null;
}

/** Invite rows with when a join was sent for each (room_invite_joins). */
const INVITE_ROWS = 'SELECT i.*, j.sent_at AS join_sent_at FROM room_invites i LEFT JOIN room_invite_joins j ON j.invite_id = i.invite_id';

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

export interface RoomServiceDeps {
  /** Where a request for a server nobody reaches can be left (a friend's mailbox, issue #32), or null. */
  mailboxFor?: (server: string) => Promise<string | null>;
  /** Leaves a request (signed by us, bound to `server`) at a mailbox of it; true once stored there. */
  leaveAtMailbox?: (server: string, path: string, body: string) => Promise<boolean>;
  db: Db;
  commit: GroupCommit;
  events: FederationEvents;
  rooms: RoomStore;
  users: LocalUsers;
  outbox: Outbox;
  workers: DeliveryWorkers;
  ingest: EventIngest;
  http: HttpClient;
  discovery: Discovery;
  identity: () => Identity;
  notifications: NodeEvents;
  log: Logger;
  /** A remote server sent an event (or a join) of a user banned from a room we host (issue #20: abuse). */
  onBannedSender?: ((server: string) => void) | undefined;
  /** How far behind the room's latest depth the host still places an event (ms); default 60 s. */
  reorderWindowMs?: number | undefined;
  /** Pending invites one peer may hold for our users; default 50. */
  maxPendingInvitesPerPeer?: number | undefined;
  /** Catch-up requests to one host per minute; default 120. */
  catchUpRequestsPerHostPerMinute?: number | undefined;
  /** Pages one catch-up run asks for at most; default 500. */
  catchUpMaxPagesPerRun?: number | undefined;
  /** Which peers speak the reference dialect (federation/reference/). */
  dialects?: PeerDialects | undefined;
  /** Told about each event a catch-up fetched (metrics: received events by result). */
  onReceived?: ((outcome: ReceivedOutcome) => void) | undefined;
  /** Signs a client's batch of messages off the main thread (the crypto pool); without it, here. */
  signer?: { sign(key: PoolSigningKey, messages: readonly Buffer[]): Promise<PoolSignature[]> } | undefined;
}

/** A client batch at least this large is signed by the crypto pool (a smaller one costs more in the round trip than it saves). */
const POOL_SIGNED_BATCH = 8;

/** A client's batch as the crypto pool signed it, with what signing computed on the way. */
type PoolSignedBatch = Array<{ event: Envelope; hash: string; contentJson: string }>;

/** A local event as committed: the rows queued for it, and its wire form when any were. */
interface LocalCommit {
  event: Envelope;
  queued: OutboxRow[];
  wire: string | null;
}

const MEMBERSHIPS = new Set(['invite', 'join', 'leave']);
/** Membership events the host also sends to the server of the user concerned (who may have no joined member left). */
const USER_NOTICE_TYPES: ReadonlySet<string> = new Set(['m.member.leave', 'm.member.ban', 'm.member.unban']);
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

export class RoomService {
  private readonly d: RoomServiceDeps;

  /** Client transaction ids of our users' sends: a repeat is stored once (client-txns.ts). */
  readonly clientTxns: ClientTxns;

  constructor(deps: RoomServiceDeps) {
    this.d = deps;
    this.clientTxns = new ClientTxns(deps.db);
  }

  /**
   * A local user's messages, in order (the admin API's sendMessage and sendMessages): a message
   * with a client `txn_id` already stored answers the event stored the first time and is not
   * sent again. One message goes the single-send way, several in one job.
   */
  async sendMessages(roomId: string, sender: string, messages: ReadonlyArray<{ body: string; txn_id?: string | undefined }>): Promise<string[]> {
    return this.clientTxns.once(sender, messages.map((m) => m.txn_id), async (fresh) => {
      const contents = fresh.map((i) => ({ body: messages[i]!.body, format: 'plain' }));
      const txnIds = fresh.map((i) => messages[i]!.txn_id);
      if (fresh.length === 1) return [(await this.send(roomId, 'm.message', sender, null, contents[0]!, txnIds[0])).event_id];
      return (await this.sendMany(roomId, 'm.message', sender, contents, txnIds)).map((e) => e.event_id);
    });
  }

  private get server(): string {
    return this.d.identity().serverName;
  }

  /** Whether a server speaks the Paracord reference's dialect (from its discovery). */
  speaksReference(server: string): boolean {
    return this.d.dialects?.isReference(server) ?? false;
  }

  isHost(roomId: string): boolean {
    return serverOf(roomId) === this.server;
  }

  // ——— local actions (admin API) ———

  localUser(userId: string | undefined): string {
    const id = userId ?? `@owner:${this.server}`;
    if (!this.d.users.get(id)) throw notFound('unknown_user', `${id} is not a user of this server`);
    return id;
  }

  async createRoom(name: string, creator: string): Promise<string> {
    const roomId = newRoomId(this.server);
    await this.d.commit.run(() => {
      this.d.rooms.createRoom({ room_id: roomId, name, host_server: this.server, created_at: Date.now() });
      this.commitLocalInTransaction(roomId, 'm.member.join', creator, creator, { membership: 'join', role: 'owner', room_name: name });
    });
    this.d.log.info({ event: 'room_created', room_id: roomId, creator }, 'room created');
    return roomId;
  }

  /**
   * Several events of one local user in one room, in one job (all or none), in order: one
   * transaction and, downstream, consecutive outbox rows that leave in one batch request.
   */
  async sendMany(roomId: string, type: RoomEventType, sender: string, contents: ReadonlyArray<Record<string, unknown>>, txnIds?: ReadonlyArray<string | undefined>): Promise<Envelope[]> {
    const signer = this.d.signer;
    const made = signer && contents.length >= POOL_SIGNED_BATCH
      ? await this.sendOrder.run(roomId, () => this.signBatchByPool(signer, roomId, type, sender, contents), (batch) => this.submitPoolSigned(roomId, batch, txnIds))
      : await this.sendOrder.run(
          roomId,
          () => this.d.rooms.reserveDepths(roomId, contents.length, Date.now()),
          (firstDepth) =>
            this.d.commit.run(
              () => contents.map((content, i) => this.recordTxn(this.commitLocalInTransaction(roomId, type, sender, null, content, firstDepth + i), txnIds?.[i])),
              (committed) => this.afterLocalBatch(committed),
            ),
        );
    const events = made.map((local) => local.event);
    for (const event of events) this.notifyEvent(event);
    return events;
  }

  private afterLocalBatch(committed: LocalCommit[]): void {
    for (const local of committed) this.rememberWire(local);
    if (committed[0]) this.kickDeliveries(committed[0].event, null);
  }

  /** Our users' events of a room enter the group commit in the order they came (send-order.ts). */
  private readonly sendOrder = new SendOrder();

  /**
   * A client's batch signed by the crypto pool (issue #17: signing was a quarter of a sending
   * node's main thread at saturation): the events are made here — ids, the time, depths reserved
   * from the room clock, their canonical form — and signed in a worker. They are authorized,
   * stored and queued afterwards, in one group-commit job as before (submitPoolSigned).
   */
  private async signBatchByPool(
    signer: NonNullable<RoomServiceDeps['signer']>,
    roomId: string,
    type: RoomEventType,
    sender: string,
    contents: ReadonlyArray<Record<string, unknown>>,
  ): Promise<PoolSignedBatch> {
    this.refuseOnReferenceHost(roomId, type);
    const identity = this.d.identity();
    const key = identity.poolSigningKey();
    const now = Date.now();
    // Reserved before the first await: a send that comes later gets later depths.
    const firstDepth = this.d.rooms.reserveDepths(roomId, contents.length, now);
    const unsigned = contents.map((content, i) => this.newLocalEvent(roomId, type, sender, null, content, firstDepth + i, now));
    const parts = unsigned.map((event) => envelopeSigningParts(event));
    const signed = await signer.sign(key, parts.map((p) => p.bytes));
    return unsigned.map((event, i) => ({
      event: { ...event, signatures: { [identity.serverName]: { [key.keyId]: encodeHex(signed[i]!.signature) } } },
      hash: encodeHex(signed[i]!.hash),
      contentJson: parts[i]!.contentJson,
    }));
  }

  /** Authorizes, stores and queues a batch the pool signed: one job, all or none. */
  private submitPoolSigned(roomId: string, batch: PoolSignedBatch, txnIds?: ReadonlyArray<string | undefined>): Promise<LocalCommit[]> {
    return this.d.commit.run(
      () =>
        batch.map(({ event, hash, contentJson }, i): LocalCommit => {
          const now = Date.now();
          authorizeEvent(this.d.rooms, this.d.events, event, now);
          if (this.isHost(roomId)) this.checkOrdering(event, now);
          return this.recordTxn(this.storeLocalInTransaction(event, hash, contentJson, now), txnIds?.[i]);
        }),
      (committed) => this.afterLocalBatch(committed),
    );
  }

  /** Makes, authorizes, signs, stores and queues one event of a local user. */
  async send(roomId: string, type: RoomEventType, sender: string, stateKey: string | null, content: Record<string, unknown>, txnId?: string): Promise<Envelope> {
    // Delivery starts as soon as the event is committed, while our own WAL flush runs (issue #17:
    // two flushes in a row made the user-to-user latency). A power cut in between can leave a
    // peer holding an event we lost, never the reverse: the sender hears "sent" only after the flush.
    // The rows queued go to the delivery workers with the kick: a worker that knows its queue was
    // empty sends the lone new row without reading the queue again (delivery-worker.ts).
    const { event } = await this.sendOrder.run(
      roomId,
      () => this.d.rooms.reserveDepths(roomId, 1, Date.now()),
      (depth) =>
        this.d.commit.run(
          () => this.recordTxn(this.commitLocalInTransaction(roomId, type, sender, stateKey, content, depth), txnId),
          (committed) => {
            this.rememberWire(committed);
            for (const row of committed.queued) this.d.workers.kick(row.destination, { row });
          },
        ),
    );
    this.notifyEvent(event);
    return event;
  }

  /** In the event's transaction: its sender's client transaction id, when the send named one. */
  private recordTxn(local: LocalCommit, txnId: string | undefined): LocalCommit {
    if (txnId !== undefined) this.clientTxns.record(local.event.sender, txnId, local.event.event_id, local.event.origin_ts);
    return local;
  }

  /** After the commit: the wire form of an event queued for delivery goes to the delivery workers (outbox/wire-cache.ts). */
  private rememberWire(local: LocalCommit): void {
    if (local.wire !== null) this.d.workers.wire.remember(local.event.event_id, local.wire, local.queued.length);
  }

  /** A new event of a local user, unsigned: a fresh id, the time, the depth given. */
  private newLocalEvent(roomId: string, type: RoomEventType, sender: string, stateKey: string | null, content: Record<string, unknown>, depth: number, now: number): UnsignedEnvelope {
    return {
      event_id: newEventId(this.server),
      room_id: roomId,
      event_type: type,
      sender,
      origin_server: this.server,
      origin_ts: now,
      depth,
      state_key: stateKey,
      // In a room a reference can mirror, our events also speak its vocabulary (reference/vocabulary.ts).
      content: this.onReferenceChannel(roomId, { ...content, ...referenceExtras(roomId, this.d.rooms.room(roomId)?.name, type, content, this.d.events, now) }),
    };
  }

  /**
   * In a guild room a reference 3.x hosts, our events name the channel the room shows (its
   * /invite's default_channel_id): it takes them only for one of its real channels.
   */
  private onReferenceChannel(roomId: string, content: Record<string, unknown>): Record<string, unknown> {
    if (content.channel_id === undefined || this.referenceHost3(roomId) === null) return content;
    const channel = this.d.db
      .prepare<[string], { channel_id: string }>('SELECT channel_id FROM reference_channel_rooms WHERE room_id = ? AND guild_room_id = room_id')
      .get(roomId)?.channel_id;
    return channel !== undefined ? { ...content, channel_id: channel } : content;
  }

  /**
   * The reference 3.x hosting `roomId`, when it is one of its guild rooms (its channels' rooms,
   * derived here, stay read-only): it takes our members' events there (docs/PROTOCOL.md). Null otherwise.
   */
  private referenceHost3(roomId: string): string | null {
    const dialects = this.d.dialects;
    const named = serverOf(roomId);
    if (dialects === undefined || named === this.server || parseChannelRoom(roomId) !== null) return null;
    const host = dialects.isReference(named) ? named : dialects.serverOfDomain(named);
    return host !== null && dialects.referenceVersion(host) === '3' ? host : null;
  }

  /** `depth`: reserved on the send's arrival (send-order.ts); otherwise the room clock's next. */
  private commitLocalInTransaction(roomId: string, type: RoomEventType, sender: string, stateKey: string | null, content: Record<string, unknown>, depth?: number): LocalCommit {
    const now = Date.now();
    this.refuseOnReferenceHost(roomId, type);
    const unsigned = this.newLocalEvent(roomId, type, sender, stateKey, content, depth ?? this.d.rooms.nextDepth(roomId, now), now);
    authorizeEvent(this.d.rooms, this.d.events, unsigned, now);
    if (this.isHost(roomId)) this.checkOrdering(unsigned, now);
    // A fresh random id: nothing to check for a stored copy; serialised once for signing and storing.
    const { event, hash, contentJson } = signEnvelopeParts(unsigned, this.d.identity());
    return this.storeLocalInTransaction(event, hash, contentJson, now);
  }

  /** Stores, applies and queues a signed event made here (authorized), in its transaction. */
  private storeLocalInTransaction(event: Envelope, hash: string, contentJson: string, now: number): LocalCommit {
    this.d.events.insertNew(event, hash, null, { now, contentJson });
    this.d.rooms.apply(event, now);
    const queued = this.enqueueDeliveries(event, null, now);
    // Signing made the canonical content: the wire form is a concatenation now, a read and a walk later.
    return { event, queued, wire: queued.length > 0 ? envelopeWireJson(event, contentJson) : null };
  }

  /**
   * A reference host cannot take our users' chat events: it files them in a duplicate "mirror"
   * guild of its own (docs/REFERENCE-INTEROP-NOTES.md row 19). In its rooms our users read;
   * joins and leaves go through its /join and /leave (reference/reference-rooms.ts).
   */
  private refuseOnReferenceHost(roomId: string, type: string): void {
    if (!this.readOnlyHere(roomId)) return;
    const host = serverOf(roomId);
    throw new HttpError(409, 'reference_host_read_only', `${host} runs the Paracord reference server, which cannot receive ${type} events from other servers; this room is read-only here`);
  }

  private isReferenceHost(host: string): boolean {
    const dialects = this.d.dialects;
    return dialects !== undefined && (dialects.isReference(host) || dialects.serverOfDomain(host) !== null);
  }

  /** Who must receive an event that is now stored here (inside the storing transaction); the rows queued. */
  private enqueueDeliveries(event: Envelope, receivedFrom: string | null, now: number): OutboxRow[] {
    const queued: OutboxRow[] = [];
    for (const destination of this.destinationsFor(event, receivedFrom)) {
      const row = this.d.outbox.enqueue(destination, event.event_id, event.room_id, now);
      if (row) queued.push(row);
    }
    return queued;
  }

  private destinationsFor(event: Envelope, receivedFrom: string | null): Set<string> {
    const destinations = new Set<string>();
    if (this.isHost(event.room_id)) {
      for (const server of this.d.rooms.joinedServers(event.room_id)) destinations.add(server);
      // A user removed by a moderator must learn it even though their server just left.
      // Likewise a banned user's server, and an unbanned one's (so it lets its user back in).
      if (USER_NOTICE_TYPES.has(event.event_type) && event.state_key) destinations.add(serverOf(event.state_key));
    } else if (event.origin_server === this.server && !this.isReferenceHost(serverOf(event.room_id))) {
      destinations.add(serverOf(event.room_id));
    } else if (event.origin_server === this.server) {
      const host = this.referenceHost3(event.room_id);
      if (host !== null) destinations.add(host);
    }
    destinations.delete(this.server);
    destinations.delete(event.origin_server);
    if (receivedFrom) destinations.delete(receivedFrom);
    return destinations;
  }

  /** The same destinations enqueueDeliveries wrote rows for (kicking one with nothing to do is free). */
  private kickDeliveries(event: Envelope, receivedFrom: string | null): void {
    for (const destination of this.destinationsFor(event, receivedFrom)) this.d.workers.kick(destination);
  }

  private afterCommit(event: Envelope): void {
    this.kickDeliveries(event, null);
    this.notifyEvent(event);
  }

  /** The UI and the tray hear of a stored event. */
  private notifyEvent(event: Envelope): void {
    this.d.notifications.notify({ type: 'room', room_id: event.room_id, event_id: event.event_id, event_type: event.event_type, sender: event.sender });
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
      const deps = { db: this.d.db, events: this.d.events, rooms: this.d.rooms, server: this.server };
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

  /** A room hosted on a Paracord reference server: our users read it, and send nothing into it (except a 3.x one's guild room). */
  private readOnlyHere(roomId: string): boolean {
    const host = serverOf(roomId);
    return host !== this.server && this.isReferenceHost(host) && this.referenceHost3(roomId) === null;
  }

  // ——— invites, joins, leaves ———

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
      const event = await this.send(roomId, 'm.member.invite', inviter, invitee, content);
      await this.d.commit.run(() => this.recordInvite(event, room.name, maxAgeSeconds));
      return { event_id: event.event_id };
    }
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
        this.d.workers.noteUnreachable(inviteeServer);
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
    if (byPull) this.d.workers.kick(inviteeServer);
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
    const event = await this.send(roomId, 'm.member.invite', inviter, invitee, content);
    const server = serverOf(invitee);
    await this.d.commit.run(() => {
      const now = Date.now();
      for (const join of this.d.events.latestOfType(roomId, 'm.member.join', 1)) this.d.outbox.enqueue(server, join.event_id, roomId, now);
      this.d.outbox.enqueue(server, event.event_id, roomId, now);
    });
    this.d.workers.kick(server);
    this.d.log.info({ event: 'invite_sent', room_id: roomId, invitee, dialect: 'reference' }, 'invite recorded for a reference server user; its server learns the room by push');
    return { event_id: event.event_id };
  }

  /** A signed request to a peer; maps its refusal or absence to an admin error. */
  private async callPeer(server: string, path: string, body: string): Promise<unknown> {
    // An endpoint a peer named and we never reached is not called (issue #32): through its mailbox, or by pull.
    if (this.d.workers.status(server).never_reached) throw new HttpError(502, 'peer_unreachable', `${server} could not be reached: it was never reached at the endpoint it named`);
    let response;
    try {
      const endpoint = await this.d.discovery.endpointOf(server);
      response = await this.d.http.signed(this.d.identity(), 'POST', endpoint, path, body, { destination: server });
    } catch (error) {
      throw new HttpError(502, 'peer_unreachable', `${server} could not be reached: ${(error as Error).message}`);
    }
    if (response.status >= 200 && response.status < 300) return response.json;
    throw peerRefusal(server, response, 'peer_refused', { keep: ['invite_expired', 'not_invited', 'unknown_user', 'too_many_invites', 'banned'] });
  }

  /** Invitee side: remember a pending invite for a local user (inside a transaction). */
  private recordInvite(event: Envelope, roomName: string, maxAgeSeconds: number): string {
    const existing = this.d.db
      .prepare<[string, string], { invite_id: string }>('SELECT invite_id FROM room_invites WHERE room_id = ? AND invitee = ?')
      .get(event.room_id, event.state_key!);
    const inviteId = existing?.invite_id ?? newInviteId();
    const expiresAt = Math.min(event.content.expires_at as number, Date.now() + maxAgeSeconds * 1000);
    this.d.db
      .prepare(
        `INSERT INTO room_invites (invite_id, room_id, room_name, host_server, inviter, invitee, event_id, state, expires_at, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?)
         ON CONFLICT (room_id, invitee) DO UPDATE SET state = 'pending', event_id = excluded.event_id, inviter = excluded.inviter,
           expires_at = excluded.expires_at, room_name = excluded.room_name`,
      )
      .run(inviteId, event.room_id, roomName, serverOf(event.room_id), event.sender, event.state_key, event.event_id, expiresAt, Date.now());
    // A new invite: no join was sent for it yet.
    if (existing) this.d.db.prepare('DELETE FROM room_invite_joins WHERE invite_id = ?').run(inviteId);
    this.d.notifications.notify({ type: 'invite', invite_id: inviteId, room_id: event.room_id, invitee: event.state_key! });
    return inviteId;
  }

  invites(userId?: string): RoomInviteRow[] {
    const rows = this.d.db
      .prepare<[], RoomInviteRow>(`${INVITE_ROWS} WHERE i.state = 'pending' ORDER BY i.created_at`)
      .all()
      // An invite from a host quarantined or blocked since is not offered (the chain's one decision).
      .filter((r) => (userId === undefined || r.invitee === userId) && this.hostRefusal(r.host_server) === null);
    return rows;
  }

  /**
   * Why what `host` reports (its invites, its member lists) is not taken now, or null: the ingest
   * chain's admission (EventIngest.admit) says it is blocked or quarantined.
   */
  private hostRefusal(host: string): HttpError | null {
    if (host === this.server) return null;
    try {
      return this.d.ingest.admit(host, host) === null ? null : forbidden('host_quarantined', `${host} is quarantined by this server: its invites and member lists are not taken until the owner ends the quarantine`);
    } catch (error) {
      // Our own decision, in our words (origin_blocked would read as "the other server blocks yours").
      if (error instanceof HttpError) return forbidden('host_blocked', `${host} is blocked by this server: its invites and member lists are not taken`);
      throw error;
    }
  }

  /** Federation `POST /invite` with an invitee: the host tells us one of our users is invited. */
  async receiveInvite(requestOrigin: string, body: { room_id: string; invitee: string; room_name?: string; max_age_seconds: number; event: unknown }): Promise<{ invite_id: string }> {
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
    const roomName = (event.content.room_name as string | undefined) ?? body.room_name ?? body.room_id;
    // The name is shown to our users: no bidi override, control or invisible character (issue #14 item 10).
    if (typeof roomName !== 'string' || roomName.length > 100 || !isSafeDisplayName(roomName)) {
      throw badRequest('invalid_room_name', 'room_name must be at most 100 characters without control, bidi or invisible characters');
    }
    const inviteId = await this.d.commit.run(() => {
      this.enforceInviteCap(requestOrigin, event.room_id, body.invitee);
      this.d.rooms.createRoom({ room_id: event.room_id, name: roomName, host_server: requestOrigin, created_at: Date.now() });
      // Through the ingest chain's decisions (blocked, quota); an invite cannot wait in quarantine: refused.
      this.d.ingest.storeIn(verified, requestOrigin, { hold: false });
      this.d.rooms.apply(event);
      return this.recordInvite(event, roomName, body.max_age_seconds);
    });
    this.d.log.info({ event: 'invite_received', room_id: event.room_id, invitee: body.invitee, from: requestOrigin }, 'room invite received');
    return { invite_id: inviteId };
  }

  /**
   * Pull mode and mailboxes (issue #32): the host of a room queues the signed invite of one of our
   * users instead of calling us, and we pull it, fetch it from a mailbox, or get it pushed later. Taken exactly as its `POST /invite` would be (receiveInvite:
   * signature, the room is the sender's, our user exists, the per-peer cap): true when `raw` was
   * such an invite (stored, or refused and logged: refusals are final, as a push's are), false when
   * it is not one (the ingest chain takes it). A page asked again finds it stored: a no-op.
   */
  async receiveInviteEvent(host: string, raw: unknown): Promise<boolean> {
    const e = raw as { event_type?: unknown; state_key?: unknown; room_id?: unknown; event_id?: unknown; content?: { expires_at?: unknown } } | null;
    if (!e || typeof e !== 'object' || e.event_type !== 'm.member.invite' || typeof e.state_key !== 'string' || typeof e.room_id !== 'string') return false;
    if (!isUserId(e.state_key) || serverOf(e.state_key) !== this.server || serverOf(e.room_id) !== host) return false;
    if (typeof e.event_id === 'string' && this.d.events.get(e.event_id)) return true;
    const expiresAt = typeof e.content?.expires_at === 'number' ? e.content.expires_at : 0;
    const seconds = Math.ceil((expiresAt - Date.now()) / 1000);
    try {
      if (seconds <= 0) throw forbidden('invite_expired', 'the invite expired before it was fetched');
      await this.receiveInvite(host, { room_id: e.room_id, invitee: e.state_key, max_age_seconds: Math.min(seconds, 30 * 24 * 3600), event: raw });
    } catch (error) {
      if (!(error instanceof HttpError) || error.status >= 500) throw error;
      warnLimited(this.d.log, `pulled_invite_refused ${host}`, { event: 'pulled_invite_refused', server: host, room_id: e.room_id, status: error.status, error: error.code, message: error.message }, 'a pulled invite was refused');
    }
    return true;
  }

  /**
   * Unsolicited invites are capped per peer (inside the storing transaction): at most
   * maxPendingInvitesPerPeer pending, unexpired invites, re-invites of the same user to the
   * same room excepted. The peer's rooms we only know from invites that are no longer pending
   * (expired, declined) are forgotten first, so rooms a peer makes us hold stay bounded too.
   */
  private enforceInviteCap(peer: string, roomId: string, invitee: string): void {
    const now = Date.now();
    const stale = this.d.db
      .prepare<[string, string, string, number], { room_id: string }>(
        `SELECT r.room_id FROM rooms r WHERE r.host_server = ? AND r.room_id <> ?
           AND NOT EXISTS (SELECT 1 FROM room_members m WHERE m.room_id = r.room_id AND m.server_name = ? AND m.membership IN ('join', 'leave'))
           AND NOT EXISTS (SELECT 1 FROM room_invites i WHERE i.room_id = r.room_id AND i.state = 'pending'
             AND (i.expires_at > ? OR EXISTS (SELECT 1 FROM room_invite_joins j WHERE j.invite_id = i.invite_id)))
         LIMIT 1000`,
      )
      .all(peer, roomId, this.server, now);
    for (const { room_id } of stale) {
      this.d.db.prepare('DELETE FROM room_invite_joins WHERE invite_id IN (SELECT invite_id FROM room_invites WHERE room_id = ?)').run(room_id);
      for (const table of ['room_invites', 'room_members', 'federation_events', 'reference_message_ids', 'reference_poll_cursors', 'reference_poll_cursor_ids', 'rooms']) this.d.db.prepare(`DELETE FROM ${table} WHERE room_id = ?`).run(room_id);
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

  private hostedRoom(roomId: string) {
    if (!this.isHost(roomId)) throw forbidden('not_room_host', `this server does not host ${roomId}`);
    const room = this.d.rooms.room(roomId);
    if (!room) throw notFound('unknown_room', `no room ${roomId} here`);
    return room;
  }

  /** Invitee side: accept a pending invite — the signed join goes to the host, which answers with a snapshot. */
  async acceptInvite(inviteId: string, userId?: string): Promise<{ room_id: string; waiting_for_host?: boolean }> {
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
      await this.send(invite.room_id, 'm.member.join', invite.invitee, invite.invitee, { membership: 'join' });
      this.d.db.prepare("UPDATE room_invites SET state = 'accepted' WHERE invite_id = ?").run(inviteId);
      return { room_id: invite.room_id };
    }
    const now = Date.now();
    const unsigned: UnsignedEnvelope = {
      event_id: newEventId(this.server), room_id: invite.room_id, event_type: 'm.member.join', sender: invite.invitee,
      origin_server: this.server, origin_ts: now, depth: this.d.rooms.nextDepth(invite.room_id, now), state_key: invite.invitee,
      content: { membership: 'join' },
    };
    authorizeEvent(this.d.rooms, this.d.events, unsigned, now);
    const join = signEnvelope(unsigned, this.d.identity());
    const body = wireJson({ origin_server: this.server, room_id: invite.room_id, user_id: invite.invitee, event: join }, MEMBERSHIP_WIRE_ORDER);
    this.d.db.prepare('INSERT OR IGNORE INTO room_invite_joins (invite_id, sent_at) VALUES (?, ?)').run(inviteId, now);
    let answer: unknown;
    try {
      answer = await this.callPeer(invite.host_server, JOIN_PATH, body);
    } catch (error) {
      // Nobody reaches the host, but a mailbox holds mail for it (issue #32): the join goes there,
      // and the host's answer comes back the same way (receiveJoinAnswer). The invite stays
      // pending until then; accepting it again sends the join again.
      if (!(error instanceof HttpError && error.code === 'peer_unreachable') || !this.d.leaveAtMailbox || !(await this.d.leaveAtMailbox(invite.host_server, JOIN_PATH, body))) throw error;
      this.d.log.info({ event: 'join_left_at_mailbox', room_id: invite.room_id, host: invite.host_server, user_id: invite.invitee }, 'join left at a mailbox of the room\'s host; the room appears when its answer comes back');
      return { room_id: invite.room_id, waiting_for_host: true };
    }
    await this.applySnapshot(invite.host_server, answer, join);
    this.d.db.prepare("UPDATE room_invites SET state = 'accepted' WHERE invite_id = ?").run(inviteId);
    this.d.log.info({ event: 'room_joined', room_id: invite.room_id, user_id: invite.invitee }, 'joined a remote room');
    // The snapshot shows the room at once; the full history follows in the background.
    void this.catchUp(invite.room_id).catch((error: Error) => warnLimited(this.d.log, `catch_up_failed ${invite.host_server}`, { event: 'catch_up_failed', room_id: invite.room_id, host: invite.host_server, error: error.message }, 'catch-up failed'));
    return { room_id: invite.room_id };
  }

  /**
   * A host's answer to a join we left at its mailbox (issue #32), carried back the same way: the
   * room's snapshot, taken exactly as the answer to a direct join (applySnapshot), for an invite
   * whose join we sent to that host. Its join event must be our user's own, signed by us.
   */
  async receiveJoinAnswer(host: string, roomId: string, answer: unknown): Promise<{ ok: true }> {
    const invite = this.d.db
      .prepare<[string, string], RoomInviteRow>(`${INVITE_ROWS} WHERE i.room_id = ? AND i.host_server = ? AND i.state = 'pending' AND EXISTS (SELECT 1 FROM room_invite_joins j WHERE j.invite_id = i.invite_id)`)
      .get(roomId, host);
    if (!invite) throw notFound('no_join_sent', `no join to ${roomId} was sent to ${host} from here`);
    const raw = (answer as { join_event?: unknown } | null)?.join_event;
    if (raw === undefined) throw badRequest('bad_snapshot', 'the answer carries no join event');
    const own = (await this.d.ingest.verify(host, raw, { skipRoute: true })).envelope;
    if (own.event_type !== 'm.member.join' || own.origin_server !== this.server || own.room_id !== roomId || own.sender !== invite.invitee || own.state_key !== invite.invitee) {
      throw badRequest('bad_snapshot', `the answer's join event is not ${invite.invitee}'s own`);
    }
    await this.applySnapshot(host, answer, own);
    this.d.db.prepare("UPDATE room_invites SET state = 'accepted' WHERE invite_id = ?").run(invite.invite_id);
    this.d.log.info({ event: 'room_joined', room_id: roomId, user_id: invite.invitee, via: 'mailbox' }, 'joined a remote room (its answer came through a mailbox)');
    this.d.notifications.notify({ type: 'status' });
    return { ok: true };
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
      if (kind === 'join') return this.snapshot(body.room_id);
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
      if (joinEvent) return { ...this.snapshot(body.room_id), join_event: joinEvent };
    }
    await this.d.ingest.store(verified, requestOrigin);
    return kind === 'join' ? this.snapshot(body.room_id) : { ok: true };
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

  // ——— inbound events (hooks of EventIngest) ———

  /** Before the signature check: is this the right server to send us this room's event? */
  checkRoute(requestOrigin: string, event: Envelope): void {
    if (this.isHost(event.room_id)) {
      if (!this.d.rooms.room(event.room_id)) throw notFound('unknown_room', `no room ${event.room_id} here`);
      if (event.origin_server !== requestOrigin) throw forbidden('not_origin', 'a room host accepts only events from their origin server');
      return;
    }
    const host = serverOf(event.room_id);
    // A reference peer hosts rooms under the domain its owner bound to it (`!<guild>:<domain>`).
    if (host !== requestOrigin && !(this.d.dialects !== undefined && this.d.dialects.domainOf(requestOrigin) === host)) {
      throw forbidden('not_room_host', `events of ${event.room_id} come from its host ${serverOf(event.room_id)}, not ${requestOrigin}`);
    }
    if (!this.d.rooms.room(event.room_id)) throw notFound('unknown_room', `this server is not in ${event.room_id}`);
    // An invite does not let the host push the room's events to us: only a join does — except
    // the host's word that one of our users was removed, banned or unbanned.
    const aboutOurUser = USER_NOTICE_TYPES.has(event.event_type) && event.state_key !== null && serverOf(event.state_key) === this.server;
    if (!aboutOurUser && !this.d.rooms.isJoinedServer(event.room_id, this.server)) {
      throw forbidden('not_joined', `no user of ${this.server} has joined ${event.room_id}; events are accepted only for joined rooms`);
    }
  }

  /** Inside the storing transaction, before the insert: the host authorizes. */
  authorizeInbound(event: Envelope): void {
    const now = Date.now();
    if (this.isHost(event.room_id)) {
      try {
        authorizeEvent(this.d.rooms, this.d.events, event, now);
      } catch (error) {
        // Recorded after this transaction (which rolls back): a quarantine it causes must stay written.
        if (error instanceof HttpError && error.code === 'banned' && event.origin_server !== this.server &&
          this.bannedSendIsAbuse(event.origin_server, event.room_id, event.sender, event.origin_ts, now)) {
          const origin = event.origin_server;
          setImmediate(() => this.d.onBannedSender?.(origin));
        }
        throw error;
      }
      this.checkOrdering(event, now);
    } else {
      checkRelayedOrdering(event, now);
    }
  }

  /**
   * Whether `origin`'s event (or join) for `userId`, refused as banned, counts toward its
   * auto-quarantine (room-bans.ts bannedEventIsAbuse): only once the ban reached that server.
   * A Paracord reference never has it (0.8.5 ignores member events and bans are not in its
   * vocabulary): its refusals never count.
   */
  private bannedSendIsAbuse(origin: string, roomId: string, userId: string, signedAt: number, now: number): boolean {
    if (this.d.dialects?.isReference(origin)) return false;
    return bannedEventIsAbuse(this.d.rooms.bans.knownAt(roomId, userId), signedAt, now);
  }

  /**
   * An attempt's outcome changed the delivery of events (delivered, a retry, a refusal): the UI is
   * told of those this server made, per room, so the "waiting" and "delivered" it shows follow
   * the outbox (rooms reload only what changed, issue #17, so nothing else would refresh them).
   */
  noteDeliveryChanged(rows: ReadonlyArray<{ event_id: string; room_id: string }>): void {
    if (this.d.notifications.listenerCount('notification') === 0) return; // no UI or tray listening (a headless node under load)
    const byRoom = new Map<string, string[]>();
    for (const row of rows) {
      if (serverOf(row.event_id) !== this.server) continue; // relays of others' events: no delivery shown
      let ids = byRoom.get(row.room_id);
      if (!ids) byRoom.set(row.room_id, (ids = []));
      ids.push(row.event_id); // one settle is one destination: each event once
    }
    for (const [room_id, ids] of byRoom) {
      for (let start = 0; start < ids.length; start += 100) this.d.notifications.notify({ type: 'delivery', room_id, event_ids: ids.slice(start, start + 100) });
    }
  }

  /**
   * Events acknowledged by `destination` (pushed, or pulled and acked): a ban of a room we host
   * reaching the banned user's server is recorded (the time from which its sends count as abuse).
   * Called inside the transaction that deletes their outbox rows.
   */
  noteDelivered(destination: string, delivered: ReadonlyArray<{ event_id: string; room_id: string }>): void {
    const now = Date.now();
    for (const row of delivered) if (this.isHost(row.room_id)) this.d.rooms.bans.noteDelivered(row.room_id, row.event_id, destination, now);
  }

  /** The host's one ordering check (ordering.ts), for every event it first accepts into a room it hosts. */
  private checkOrdering(event: { room_id: string; depth: number; origin_ts: number }, now: number): void {
    checkHostOrdering(event, this.d.rooms.room(event.room_id)?.last_depth ?? 0, now, this.d.reorderWindowMs ?? DEFAULT_REORDER_WINDOW_MS);
  }

  /** Inside the storing transaction, after the insert: apply and relay. */
  onInboundStored(event: Envelope, receivedFrom: string): void {
    this.d.rooms.apply(event);
    this.enqueueDeliveries(event, receivedFrom, Date.now());
  }

  /** At the commit of an inbound event, before the flush: the UI hears of it. */
  onInboundCommitted(event: Envelope): void {
    this.notifyEvent(event);
  }

  /**
   * Once an inbound event is durable: relays start. Not earlier: a host that relayed an event a
   * power cut then took back would refuse its sender's copy sent again later as too old, and the
   * sender's re-issue under the same id would conflict with the copies the members already hold.
   */
  onInboundDurable(event: Envelope): void {
    this.kickDeliveries(event, null);
  }

  /**
   * Member side of a 409 `depth_too_old` from a room's host (e.g. messages typed while the host
   * was down longer than its reorder window): our event is re-issued with the same id, a fresh
   * origin_ts and depth = max(now, room_depth + 1, our room clock + 1), signed again, and
   * replaces our stored copy (nobody else has the refused one: members receive events only
   * through the host). True when it was re-issued and should be delivered again.
   */
  async reissueRefused(destination: string, eventId: string, roomDepth: unknown): Promise<boolean> {
    const old = this.d.events.get(eventId);
    if (!old || old.origin_server !== this.server || this.isHost(old.room_id) || serverOf(old.room_id) !== destination) return false;
    const hostDepth = believableRoomDepth(roomDepth, Date.now());
    if (hostDepth === null) return false; // a host's answer must not move our room clock anywhere it likes
    const event = await this.d.commit.run(() => {
      const now = Date.now();
      const depth = Math.max(now, hostDepth + 1, (this.d.rooms.room(old.room_id)?.last_depth ?? 0) + 1);
      const reissued = signEnvelope({ ...unsignedPart(old), origin_ts: now, depth }, this.d.identity());
      this.d.events.reissue(reissued, contentHash(envelopeSigningBytes(reissued)));
      this.d.rooms.apply(reissued, now);
      return reissued;
    });
    this.d.log.info({ event: 'event_reissued', room_id: event.room_id, event_id: eventId, old_depth: old.depth, depth: event.depth }, 'room host refused our event as too old; re-issued it after the room\'s latest events');
    this.d.notifications.notify({ type: 'room', room_id: event.room_id, event_id: event.event_id, event_type: event.event_type, sender: event.sender });
    return true;
  }

  // ——— catch-up ———

  /**
   * Host side of `GET /events`: a page for a server with joined members. `sinceEventId` makes
   * the cursor (depth, event_id) exact; without it, `since_depth` alone (older callers).
   */
  catchUpPage(requestOrigin: string, roomId: string, sinceDepth: number, limit: number, sinceEventId?: string) {
    this.hostedRoom(roomId);
    if (!this.d.rooms.isJoinedServer(roomId, requestOrigin)) throw forbidden('not_a_member_server', `${requestOrigin} has no members in ${roomId}`);
    const page = this.d.events.since(roomId, sinceDepth, limit, sinceEventId);
    const answer = {
      room_id: roomId, events: page.events, complete: page.complete,
      next_since_depth: page.last ? page.last.depth : sinceDepth,
      ...(page.last ? { next_since_event_id: page.last.event_id } : sinceEventId ? { next_since_event_id: sinceEventId } : {}),
    };
    if (this.d.dialects?.referenceVersion(requestOrigin) !== '3') return answer;
    // A reference 3.x reads its cursor as next_depth / next_event_id, and would refuse events
    // signed more than 7 days ago, or more than 60 s ahead of its clock, without ever moving past
    // them: they are left out, the cursor passing them (reference/carry.ts).
    const now = Date.now();
    return {
      ...answer, events: page.events.filter((e) => !tooOldForReference3(e.origin_ts, now) && !aheadOfReference3(e, now)),
      next_depth: answer.next_since_depth, next_event_id: answer.next_since_event_id ?? null,
    };
  }

  /** Hosts whose catch-up cursor stopped advancing: not asked again until then (ms). */
  private readonly catchUpBackoff = new Map<string, number>();
  /** Per host: times of its catch-up requests in the last minute. */
  private readonly catchUpRequests = new Map<string, number[]>();
  /** Aborted by stop(): running catch-ups end (their HTTP request too) and write nothing more. */
  private readonly stopping = new AbortController();
  private readonly resumeTimers = new Set<NodeJS.Timeout>();

  /** Cancels running catch-ups and scheduled resumptions (node stop, before the database closes). */
  stop(): void {
    this.stopping.abort();
    for (const timer of this.resumeTimers) clearTimeout(timer);
    this.resumeTimers.clear();
  }

  /** Takes one catch-up request from `host`'s budget for this minute; false when it is spent. */
  private catchUpBudget(host: string): boolean {
    const now = Date.now();
    const recent = (this.catchUpRequests.get(host) ?? []).filter((t) => t > now - 60_000);
    if (recent.length >= (this.d.catchUpRequestsPerHostPerMinute ?? DEFAULT_CATCH_UP_REQUESTS_PER_HOST_PER_MINUTE)) {
      this.catchUpRequests.set(host, recent);
      return false;
    }
    recent.push(now);
    this.catchUpRequests.set(host, recent);
    return true;
  }

  /** Runs catchUp(roomId) again in a minute (a run paused by the per-host request budget), or after `ms`. */
  private resumeCatchUpLater(roomId: string, ms = 60_000): void {
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      this.catchUp(roomId).catch((error: Error) => warnLimited(this.d.log, `catch_up_failed ${serverOf(roomId)}`, { event: 'catch_up_failed', room_id: roomId, error: error.message }, 'catch-up failed'));
    }, ms);
    timer.unref();
    this.resumeTimers.add(timer);
  }

  /** Pulls what we missed in a remote room from its host (on start, after a join). */
  async catchUp(roomId: string): Promise<number> {
    const host = serverOf(roomId);
    if (host === this.server) return 0;
    if ((this.catchUpBackoff.get(host) ?? 0) > Date.now()) return 0;
    const signal = this.stopping.signal;
    // The cursor: after (depth, event_id); a stored watermark is a depth whose events all arrived.
    let cursor: { depth: number; eventId: string | null } = { depth: this.syncedDepth(roomId), eventId: null };
    let stored = 0;
    let fruitless = 0;
    /** Event ids this run has seen: a page of events already seen in this run is no progress. */
    const seen = new Set<string>();
    for (let page = 0; ; page++) {
      if (signal.aborted) return stored;
      if (page >= (this.d.catchUpMaxPagesPerRun ?? DEFAULT_CATCH_UP_MAX_PAGES_PER_RUN)) {
        warnLimited(this.d.log, `catch_up_page_limit ${host}`, { event: 'catch_up_page_limit', room_id: roomId, host, pages: page }, 'catch-up run reached its page limit; the rest comes with the next run');
        break;
      }
      if (!this.catchUpBudget(host)) {
        warnLimited(this.d.log, `catch_up_rate_limited ${host}`, { event: 'catch_up_rate_limited', room_id: roomId, host, per_minute: this.d.catchUpRequestsPerHostPerMinute ?? DEFAULT_CATCH_UP_REQUESTS_PER_HOST_PER_MINUTE }, 'catch-up requests to this host reached the per-minute budget; resuming in a minute');
        this.resumeCatchUpLater(roomId);
        break;
      }
      const after = cursor.eventId ? `&since_event_id=${encodeURIComponent(cursor.eventId)}` : '';
      const path = `${EVENTS_PATH}?room_id=${encodeURIComponent(roomId)}&since_depth=${cursor.depth}${after}&limit=${CATCH_UP_PAGE}`;
      const endpoint = await this.d.discovery.endpointOf(host);
      let response: Awaited<ReturnType<HttpClient['signed']>>;
      try {
        response = await this.d.http.signed(this.d.identity(), 'GET', endpoint, path, undefined, { destination: host, signal });
      } catch (error) {
        if (signal.aborted) return stored;
        throw error;
      }
      if (signal.aborted) return stored;
      if (response.status !== 200) throw new Error(`catch-up from ${host}: HTTP ${response.status} ${cleanText(response.text, 200)}`);
      const body = response.json as { events?: unknown[]; complete?: boolean; next_since_depth?: unknown; next_since_event_id?: unknown };
      // At most what the host serves (limit, and the rest of a depth): the events past it come with
      // the next page, asked after the last event taken here, not after the host's cursor.
      const served = Array.isArray(body.events) ? body.events : [];
      const events = served.length > CATCH_UP_MAX_EVENTS ? served.slice(0, CATCH_UP_MAX_EVENTS) : served;
      let lastTaken: { depth: number; eventId: string } | null = null;
      let storedNow = 0;
      let newToRun = 0;
      for (const raw of events) {
        try {
          const verified = await this.d.ingest.verify(host, raw);
          if (signal.aborted) return stored;
          if (verified.envelope.room_id !== roomId) continue;
          lastTaken = { depth: verified.envelope.depth, eventId: verified.envelope.event_id };
          if (!seen.has(verified.envelope.event_id)) {
            if (seen.size >= 20_000) seen.clear(); // bounded memory; the page and rate bounds still hold
            seen.add(verified.envelope.event_id);
            newToRun++;
          }
          const result = await this.d.ingest.store(verified, host);
          this.d.onReceived?.(receivedOutcome(result));
          if (result.inserted) storedNow++;
        } catch (error) {
          if (signal.aborted) return stored;
          const wait = quotaWait(error);
          if (wait) {
            // Over a quota here: the cursor and the watermark stay before this event, and the
            // run resumes after Retry-After (the event is not lost, it waits).
            this.catchUpBackoff.set(host, Date.now() + wait.waitMs);
            this.resumeCatchUpLater(roomId, wait.waitMs + 1_000);
            warnLimited(this.d.log, `catch_up_quota_wait ${host}`, { event: 'catch_up_quota_wait', room_id: roomId, host, wait_ms: wait.waitMs }, 'catch-up waits for the quota; resuming after Retry-After');
            return stored + storedNow;
          }
          this.d.onReceived?.(receivedOutcome(error));
          warnLimited(this.d.log, `catch_up_event_rejected ${host}`, { event: 'catch_up_event_rejected', room_id: roomId, host, error: (error as Error).message }, 'catch-up event rejected');
        }
      }
      stored += storedNow;
      const cut = events.length < served.length;
      if ((body.complete !== false && !cut) || events.length === 0) break;
      // Progress: something stored, or a fullish page (in count or in bytes) of events this run had
      // not seen (a legit host paging through events we already got live). Otherwise the page was fruitless.
      const newBytes = events.length > 0 ? (response.text.length * newToRun) / events.length : 0;
      fruitless = storedNow > 0 || newToRun >= CATCH_UP_PAGE / 2 || newBytes >= PAGE_BYTES / 2 ? 0 : fruitless + 1;
      if (fruitless >= CATCH_UP_FRUITLESS_PAGES) {
        this.catchUpBackoff.set(host, Date.now() + CATCH_UP_BACKOFF_MS);
        this.d.log.warn({ event: 'catch_up_fruitless', room_id: roomId, host, pages: fruitless, since_depth: cursor.depth }, 'room host keeps answering incomplete catch-up pages that bring nothing new; not asking it again for a while');
        break;
      }
      const next = nextCursor(cut ? { next_since_depth: lastTaken?.depth, next_since_event_id: lastTaken?.eventId } : body, cursor);
      if (!next) {
        // A host that says "more" without moving its cursor would be asked the same page forever.
        this.catchUpBackoff.set(host, Date.now() + CATCH_UP_BACKOFF_MS);
        this.d.log.warn({ event: 'catch_up_stalled', room_id: roomId, host, since_depth: cursor.depth }, 'room host answered an incomplete catch-up page without advancing; not asking it again for a while');
        break;
      }
      cursor = next;
      if (signal.aborted) return stored;
      // Events at the cursor's depth may continue on the next page: the watermark stays below it.
      this.d.db.prepare('UPDATE rooms SET synced_depth = MAX(synced_depth, ?) WHERE room_id = ?').run(cursor.depth - 1, roomId);
    }
    if (stored > 0) this.d.log.info({ event: 'caught_up', room_id: roomId, host, stored }, 'caught up with the room host');
    return stored;
  }

  private syncedDepth(roomId: string): number {
    return this.d.db.prepare<[string], { synced_depth: number }>('SELECT synced_depth FROM rooms WHERE room_id = ?').get(roomId)?.synced_depth ?? 0;
  }

  /** Remote rooms where we have joined members: caught up at start. */
  remoteJoinedRooms(): string[] {
    return this.d.rooms
      .rooms()
      // Rooms of a reference host are polled (reference/reference-rooms.ts), never caught up here.
      .filter((r) => r.host_server !== this.server && !this.isReferenceHost(r.host_server) && this.d.rooms.isJoinedServer(r.room_id, this.server))
      .map((r) => r.room_id);
  }

  wireEvent(event: Envelope): string {
    return envelopeWireJson(event);
  }
}

/**
 * The cursor a catch-up page moves to, or null when it does not move forward: the host's
 * `next_since_depth` (and `next_since_event_id`, when it gives one), which must come strictly
 * after `current` in display order.
 */
function nextCursor(body: { next_since_depth?: unknown; next_since_event_id?: unknown }, current: { depth: number; eventId: string | null }) {
  const depth = body.next_since_depth;
  if (typeof depth !== 'number' || !Number.isSafeInteger(depth) || depth < 0) return null;
  const id = body.next_since_event_id;
  const eventId = typeof id === 'string' && id.length <= 255 && EVENT_ID.test(id) ? id : null;
  if (depth > current.depth) return { depth, eventId };
  if (depth < current.depth || eventId === null) return null;
  if (current.eventId === null) return { depth, eventId }; // same depth, now with an exact position
  const a = { depth, origin_server: serverOf(eventId), event_id: eventId };
  const b = { depth: current.depth, origin_server: serverOf(current.eventId), event_id: current.eventId };
  return compareDisplayOrder(a, b) > 0 ? { depth, eventId } : null;
}
