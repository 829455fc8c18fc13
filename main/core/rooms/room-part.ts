/**
 * What every part of a room service shares (room-service.ts): its dependencies, who we are, which
 * rooms we host, who speaks the reference's dialect, who receives an event stored here, and the
 * host's checks. Each part (local sends, invites, joins, inbound events, catch-up) extends it.
 */
import type { Logger } from 'pino';
import { serverOf } from '../../../shared/identifiers.ts';
import { HttpError, forbidden, notFound } from '../errors.ts';
import type { Discovery } from '../federation/discovery.ts';
import type { Envelope } from '../federation/envelope.ts';
import type { EventIngest, ReceivedOutcome } from '../federation/event-ingest.ts';
import type { HttpClient } from '../federation/http-client.ts';
import { peerRefusal } from '../federation/peer-refusal.ts';
import { peerUnreachable, unreachableReason } from '../federation/unreachable.ts';
import type { Identity } from '../identity/identity.ts';
import type { NodeEvents } from '../node-events.ts';
import type { DeliveryWorkers } from '../outbox/delivery-worker.ts';
import type { Outbox, OutboxRow } from '../outbox/outbox.ts';
import type { Db } from '../store/database.ts';
import type { FederationEvents } from '../store/federation-events.ts';
import type { GroupCommit } from '../store/group-commit.ts';
import type { LocalUsers } from './local-users.ts';
import { DEFAULT_REORDER_WINDOW_MS, checkHostOrdering } from './ordering.ts';
import { bannedEventIsAbuse } from './room-bans.ts';
import type { RoomStore } from './room-store.ts';
import type { PeerDialects } from '../federation/reference/peer-dialects.ts';
import { PLAIN_TEXT_REFUSALS } from '../outbox/delivery-outcomes.ts';
import type { PoolSignature, PoolSigningKey } from '../crypto/verify-pool.ts';
import { parseChannelRoom } from '../federation/reference/channel-rooms.ts';

/** A peer's refusal codes of an invite or a join that are ours too, shown as they are (peer-refusal.ts). */
export const PEER_MEMBERSHIP_CODES = ['invite_expired', 'not_invited', 'unknown_user', 'too_many_invites', 'banned', 'origin_quarantined', 'origin_blocked'] as const;

export interface RoomServiceDeps {
  /** Where a request for a server nobody reaches can be left (a friend's mailbox, issue #32), or null. */
  mailboxFor?: (server: string) => Promise<string | null>;
  /** Nobody reaches `server` (a request to it failed): its mailbox is used straight away for a while. */
  noteUnreachable?: (server: string) => void;
  /** Leaves a request (signed by us, bound to `server`) at a mailbox of it; true once stored there. */
  /** Leaves a request at a mailbox of `server` (issue #32): the mailbox that took it, or null. */
  leaveAtMailbox?: (server: string, path: string, body: string) => Promise<string | null>;
  /** Nothing is sent to `server` (the owner blocked or quarantined it): what waits for it is held (the message page says so). */
  isHeldDestination?: ((server: string) => boolean) | undefined;
  /** Whether `server`'s requests would be taken (a peer the owner added, or any server under the open policy): only those are called. */
  isAllowedPeer?: ((server: string) => boolean) | undefined;
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
  /** How long a host is left alone after fruitless or stalled pages; default 10 min. */
  catchUpBackoffMs?: number | undefined;
  /** After a restore, the first retry of a failed recovery of our own events (own-recovery.ts); default 30 s. */
  ownEventsRetryMs?: number | undefined;
  /** Which peers speak the reference dialect (federation/reference/). */
  dialects?: PeerDialects | undefined;
  /** Told about each event a catch-up fetched (metrics: received events by result). */
  onReceived?: ((outcome: ReceivedOutcome) => void) | undefined;
  /** Signs a client's batch of messages off the main thread (the crypto pool); without it, here. */
  signer?: { sign(key: PoolSigningKey, messages: readonly Buffer[]): Promise<PoolSignature[]> } | undefined;
}

/** Membership events the host also sends to the server of the user concerned (who may have no joined member left). */
export const USER_NOTICE_TYPES: ReadonlySet<string> = new Set(['m.member.leave', 'm.member.ban', 'm.member.unban']);

export class RoomPart {
  protected readonly d: RoomServiceDeps;

  constructor(deps: RoomServiceDeps) {
    this.d = deps;
  }

  protected get server(): string {
    return this.d.identity().serverName;
  }

  /** Whether a server speaks the Paracord reference's dialect (from its discovery). */
  speaksReference(server: string): boolean {
    return this.d.dialects?.isReference(server) ?? false;
  }

  isHost(roomId: string): boolean {
    return serverOf(roomId) === this.server;
  }


  protected isReferenceHost(host: string): boolean {
    const dialects = this.d.dialects;
    return dialects !== undefined && (dialects.isReference(host) || dialects.serverOfDomain(host) !== null);
  }

  /**
   * The reference 3.x hosting `roomId`, when it is one of its guild rooms (its channels' rooms,
   * derived here, stay read-only): it takes our members' events there (docs/PROTOCOL.md). Null otherwise.
   */
  protected referenceHost3(roomId: string): string | null {
    const dialects = this.d.dialects;
    const named = serverOf(roomId);
    if (dialects === undefined || named === this.server || parseChannelRoom(roomId) !== null) return null;
    const host = dialects.isReference(named) ? named : dialects.serverOfDomain(named);
    return host !== null && dialects.referenceVersion(host) === '3' ? host : null;
  }

  /** A room hosted on a Paracord reference server: our users read it, and send nothing into it (except a 3.x one's guild room). */
  protected readOnlyHere(roomId: string): boolean {
    const host = serverOf(roomId);
    return host !== this.server && this.isReferenceHost(host) && this.referenceHost3(roomId) === null;
  }


  protected hostedRoom(roomId: string) {
    if (!this.isHost(roomId)) throw forbidden('not_room_host', `this server does not host ${roomId}`);
    const room = this.d.rooms.room(roomId);
    if (!room) throw notFound('unknown_room', `no room ${roomId} here`);
    return room;
  }

  /**
   * Why what `host` reports (its invites, its member lists) is not taken now, or null: the ingest
   * chain's admission (EventIngest.admit) says it is blocked or quarantined.
   */
  protected hostRefusal(host: string): HttpError | null {
    if (host === this.server) return null;
    try {
      return this.d.ingest.admit(host, host) === null ? null : forbidden('host_quarantined', `${host} is quarantined by this server: its invites and member lists are not taken until the owner ends the quarantine`);
    } catch (error) {
      // Our own decision, in our words (origin_blocked would read as "the other server blocks yours").
      if (error instanceof HttpError) return forbidden('host_blocked', `${host} is blocked by this server: its invites and member lists are not taken`);
      throw error;
    }
  }

  /**
   * Nothing is sent to a server the owner blocked or put in quarantine (PROTOCOL.md §Rate limits
   * and trust): an invite a member made for one of its users called it (a helper's review). Nor to
   * one the owner never added (under the allowlist): its answer could not be taken, and a member
   * inviting a user there made this node call any host and tell it a room's name (a red-team
   * review of members, 2026-11-30). Asked before any way of reaching it (a call, a pull, a
   * reference's queue).
   */
  protected refuseUncallable(server: string): void {
    if (this.d.isHeldDestination?.(server)) throw forbidden('peer_held', `nothing is sent to ${server}: it is blocked or in quarantine on this server`);
    if (this.d.isAllowedPeer?.(server) === false) throw forbidden('peer_not_allowed', `${server} is not a peer of this server: add it first`);
  }

  /** A signed request to a peer; maps its refusal or absence to an admin error. */
  protected async callPeer(server: string, path: string, body: string): Promise<unknown> {
    this.refuseUncallable(server);
    // An endpoint a peer named and we never reached is not called (issue #32): through its mailbox, or by pull.
    if (this.d.workers.status(server).never_reached) throw peerUnreachable(server, 'never_reached', `${server} could not be reached: it was never reached at the endpoint it named`);
    let response;
    try {
      const endpoint = await this.d.discovery.endpointOf(server);
      response = await this.d.http.signed(this.d.identity(), 'POST', endpoint, path, body, { destination: server });
    } catch (error) {
      throw peerUnreachable(server, unreachableReason(error), `${server} could not be reached: ${(error as Error).message}`);
    }
    // Only its node's JSON is its answer: a page (a proxy's, a captive portal's) is something else
    // at its address, which says nothing of the invite or the join. A 2xx page read as accepted
    // (the invite "sent", nothing queued for it), and an error page as its refusal, with no way
    // through a mailbox (a red team, 2026-12-01). A reference's body extractors refuse in plain text.
    const json = response.json;
    const nodeAnswer = typeof json === 'object' && json !== null && !Array.isArray(json);
    const accepted = response.status >= 200 && response.status < 300;
    if (accepted && nodeAnswer) return json;
    const refusal = (nodeAnswer && typeof (json as { error?: unknown }).error === 'string') || (this.speaksReference(server) && PLAIN_TEXT_REFUSALS.has(response.status));
    if (accepted || !refusal) {
      throw peerUnreachable(server, 'bad_answer', `${server} could not be reached: something at its address answered HTTP ${response.status}, not as a Paracord server does`);
    }
    throw peerRefusal(server, response, 'peer_refused', { keep: PEER_MEMBERSHIP_CODES });
  }

  /** Who must receive an event that is now stored here (inside the storing transaction); the rows queued. */
  protected enqueueDeliveries(event: Envelope, receivedFrom: string | null, now: number): OutboxRow[] {
    const queued: OutboxRow[] = [];
    const destinations = this.destinationsFor(event, receivedFrom);
    this.queuedTo.set(event, destinations);
    for (const destination of destinations) {
      const row = this.d.outbox.enqueue(destination, event.event_id, event.room_id, now);
      if (row) queued.push(row);
    }
    // An own message nobody else is to receive (a room of our own users): it says "Sent", not "delivered to all".
    // (Made here: one of ours that comes back from a host's history had the host as its destination.)
    if (destinations.size === 0 && receivedFrom === null && event.origin_server === this.server && event.event_type === 'm.message') this.d.outbox.noteSentToNobody(event.event_id);
    return queued;
  }

  protected destinationsFor(event: Envelope, receivedFrom: string | null): Set<string> {
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

  /** The destinations enqueueDeliveries last wrote rows for, per event (read once by kickDeliveries). */
  private readonly queuedTo = new WeakMap<Envelope, Set<string>>();

  /**
   * The destinations enqueueDeliveries wrote rows for (kicking one with nothing to do is free):
   * as it found them, for the same event object, else found again.
   */
  protected kickDeliveries(event: Envelope, receivedFrom: string | null): void {
    const queued = this.queuedTo.get(event);
    if (queued) this.queuedTo.delete(event);
    for (const destination of queued ?? this.destinationsFor(event, receivedFrom)) this.d.workers.deliver(destination, { queued: true });
  }

  protected afterCommit(event: Envelope): void {
    this.kickDeliveries(event, null);
    this.notifyEvent(event);
  }

  /** The UI and the tray hear of a stored event. */
  protected notifyEvent(event: Envelope): void {
    this.d.notifications.notify({ type: 'room', room_id: event.room_id, event_id: event.event_id, event_type: event.event_type, sender: event.sender, ...(event.state_key !== null ? { subject: event.state_key } : {}) });
  }

  /** The host's one ordering check (ordering.ts), for every event it first accepts into a room it hosts. */
  protected checkOrdering(event: { room_id: string; depth: number; origin_ts: number }, now: number): void {
    checkHostOrdering(event, this.d.rooms.room(event.room_id)?.last_depth ?? 0, now, this.d.reorderWindowMs ?? DEFAULT_REORDER_WINDOW_MS);
  }

  /**
   * Whether `origin`'s event (or join) for `userId`, refused as banned, counts toward its
   * auto-quarantine (room-bans.ts bannedEventIsAbuse): only once the ban reached that server.
   * A Paracord reference never has it (0.8.5 ignores member events and bans are not in its
   * vocabulary): its refusals never count.
   */
  protected bannedSendIsAbuse(origin: string, roomId: string, userId: string, signedAt: number, now: number): boolean {
    if (this.d.dialects?.isReference(origin)) return false;
    return bannedEventIsAbuse(this.d.rooms.bans.knownAt(roomId, userId), signedAt, now);
  }
}
