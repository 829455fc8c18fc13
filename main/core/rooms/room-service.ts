/**
 * Host-authoritative rooms (DESIGN.md §4). The server named in a room id hosts it: it
 * authorizes every event, orders and stores the full history, and relays each accepted event
 * (origin signature intact) to every other server with joined members. Other servers send
 * their users' events to the host only, and apply what the host relays.
 *
 * Every local action is one group-commit job: authorize → sign → store → apply → enqueue
 * deliveries, so the outbox rows are durable exactly when the event is.
 */
import type { Logger } from 'pino';
import { USER_ID, serverOf } from '../../../shared/identifiers.ts';
import { HttpError, badRequest, forbidden, notFound } from '../errors.ts';
import type { Discovery } from '../federation/discovery.ts';
import {
  contentHash,
  envelopeSigningBytes,
  envelopeWireJson,
  signEnvelope,
  type Envelope,
  type UnsignedEnvelope,
} from '../federation/envelope.ts';
import type { EventIngest, VerifiedEvent } from '../federation/event-ingest.ts';
import type { HttpClient } from '../federation/http-client.ts';
import { INVITE_WIRE_ORDER, MEMBERSHIP_WIRE_ORDER, wireJson } from '../federation/wire-json.ts';
import type { Identity } from '../identity/identity.ts';
import type { NodeEvents } from '../node-events.ts';
import type { DeliveryWorkers } from '../outbox/delivery-worker.ts';
import type { Outbox } from '../outbox/outbox.ts';
import type { Db } from '../store/database.ts';
import type { FederationEvents } from '../store/federation-events.ts';
import type { GroupCommit } from '../store/group-commit.ts';
import { authorizeEvent } from './authorize.ts';
import { compareDisplayOrder, type RoomEventType } from './event-types.ts';
import { newEventId, newInviteId, newRoomId } from './ids.ts';
import type { LocalUsers } from './local-users.ts';
import { roomMessages, type MessageView } from './messages-view.ts';
import type { MemberRow, RoomStore } from './room-store.ts';

export const INVITE_PATH = '/_paracord/federation/v1/invite';
export const JOIN_PATH = '/_paracord/federation/v1/join';
export const LEAVE_PATH = '/_paracord/federation/v1/leave';
export const EVENTS_PATH = '/_paracord/federation/v1/events';

/** How long an invite stays valid unless the inviter says otherwise. */
export const DEFAULT_INVITE_MAX_AGE_S = 7 * 24 * 3600;
const SNAPSHOT_EVENTS = 100;
const CATCH_UP_PAGE = 200;

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
}

export interface RoomSnapshot {
  room: { room_id: string; name: string; host_server: string; depth: number };
  members: Array<Pick<MemberRow, 'user_id' | 'membership' | 'role' | 'invite_expires_at' | 'event_id' | 'event_depth' | 'event_origin'>>;
  events: Envelope[];
}

export interface RoomServiceDeps {
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
}

const MEMBERSHIPS = new Set(['invite', 'join', 'leave']);
const ROLES = new Set(['owner', 'moderator', 'member']);

/** A snapshot member entry with the right shape (the snapshot comes from another server). */
function isReportedMember(m: unknown): m is RoomSnapshot['members'][number] {
  const member = m as Record<string, unknown> | null;
  return (
    !!member && typeof member.user_id === 'string' && USER_ID.test(member.user_id) && MEMBERSHIPS.has(member.membership as string) &&
    ROLES.has(member.role as string) && typeof member.event_id === 'string' && Number.isSafeInteger(member.event_depth) &&
    typeof member.event_origin === 'string' && (member.invite_expires_at === null || Number.isSafeInteger(member.invite_expires_at))
  );
}

export class RoomService {
  private readonly d: RoomServiceDeps;

  constructor(deps: RoomServiceDeps) {
    this.d = deps;
  }

  private get server(): string {
    return this.d.identity().serverName;
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

  /** Makes, authorizes, signs, stores and queues one event of a local user. */
  async send(roomId: string, type: RoomEventType, sender: string, stateKey: string | null, content: Record<string, unknown>): Promise<Envelope> {
    const event = await this.d.commit.run(() => this.commitLocalInTransaction(roomId, type, sender, stateKey, content));
    this.afterCommit(event);
    return event;
  }

  private commitLocalInTransaction(roomId: string, type: RoomEventType, sender: string, stateKey: string | null, content: Record<string, unknown>): Envelope {
    const now = Date.now();
    const unsigned: UnsignedEnvelope = {
      event_id: newEventId(this.server),
      room_id: roomId,
      event_type: type,
      sender,
      origin_server: this.server,
      origin_ts: now,
      depth: this.d.rooms.nextDepth(roomId, now),
      state_key: stateKey,
      content,
    };
    authorizeEvent(this.d.rooms, this.d.events, unsigned, now);
    const event = signEnvelope(unsigned, this.d.identity());
    this.d.events.insert(event, contentHash(envelopeSigningBytes(event)), null, now);
    this.d.rooms.apply(event, now);
    this.enqueueDeliveries(event, null, now);
    return event;
  }

  /** Who must receive an event that is now stored here (inside the storing transaction). */
  private enqueueDeliveries(event: Envelope, receivedFrom: string | null, now: number): void {
    for (const destination of this.destinationsFor(event, receivedFrom)) this.d.outbox.enqueue(destination, event.event_id, event.room_id, now);
  }

  private destinationsFor(event: Envelope, receivedFrom: string | null): Set<string> {
    const destinations = new Set<string>();
    if (this.isHost(event.room_id)) {
      for (const server of this.d.rooms.joinedServers(event.room_id)) destinations.add(server);
      // A user removed by a moderator must learn it even though their server just left.
      if (event.event_type === 'm.member.leave' && event.state_key) destinations.add(serverOf(event.state_key));
    } else if (event.origin_server === this.server) {
      destinations.add(serverOf(event.room_id));
    }
    destinations.delete(this.server);
    destinations.delete(event.origin_server);
    if (receivedFrom) destinations.delete(receivedFrom);
    return destinations;
  }

  private afterCommit(event: Envelope): void {
    // The same destinations enqueueDeliveries wrote rows for (kicking one with nothing to do is free).
    for (const destination of this.destinationsFor(event, null)) this.d.workers.kick(destination);
    this.d.notifications.notify({ type: 'room', room_id: event.room_id, event_id: event.event_id, event_type: event.event_type, sender: event.sender });
  }

  messages(roomId: string, limit: number): MessageView[] {
    if (!this.d.rooms.room(roomId)) throw notFound('unknown_room', `no room ${roomId} here`);
    return roomMessages(this.d.events, this.d.rooms, roomId, limit);
  }

  // ——— invites, joins, leaves ———

  /** Host side: invite a user (local or remote). A remote user's server is told first; if it refuses, nothing changes. */
  async invite(roomId: string, inviter: string, invitee: string, maxAgeSeconds = DEFAULT_INVITE_MAX_AGE_S): Promise<{ event_id: string }> {
    const room = this.d.rooms.room(roomId);
    if (!room) throw notFound('unknown_room', `no room ${roomId} here`);
    if (!this.isHost(roomId)) throw badRequest('not_room_host', `invites to ${roomId} are made on its host, ${room.host_server}`);
    const inviteeServer = serverOf(invitee);
    if (inviteeServer === this.server && !this.d.users.get(invitee)) throw notFound('unknown_user', `${invitee} is not a user of this server`);
    const expiresAt = Date.now() + maxAgeSeconds * 1000;
    const content = { membership: 'invite', expires_at: expiresAt, room_name: room.name };
    if (inviteeServer === this.server) {
      const event = await this.send(roomId, 'm.member.invite', inviter, invitee, content);
      await this.d.commit.run(() => this.recordInvite(event, room.name, maxAgeSeconds));
      return { event_id: event.event_id };
    }
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
    await this.callPeer(inviteeServer, INVITE_PATH, body);
    const stored = await this.d.commit.run(() => {
      authorizeEvent(this.d.rooms, this.d.events, event);
      this.d.events.insert(event, contentHash(envelopeSigningBytes(event)), null);
      this.d.rooms.apply(event);
      this.enqueueDeliveries(event, inviteeServer, Date.now());
      return event;
    });
    this.afterCommit(stored);
    this.d.log.info({ event: 'invite_sent', room_id: roomId, invitee }, 'invite sent');
    return { event_id: stored.event_id };
  }

  /** A signed request to a peer; maps its refusal or absence to an admin error. */
  private async callPeer(server: string, path: string, body: string): Promise<unknown> {
    let response;
    try {
      const endpoint = await this.d.discovery.endpointOf(server);
      response = await this.d.http.signed(this.d.identity(), 'POST', endpoint, path, body);
    } catch (error) {
      throw new HttpError(502, 'peer_unreachable', `${server} could not be reached: ${(error as Error).message}`);
    }
    if (response.status >= 200 && response.status < 300) return response.json;
    const answer = response.json as { error?: string; message?: string } | undefined;
    const status = response.status >= 400 && response.status < 500 ? response.status : 502;
    throw new HttpError(status, answer?.error ?? 'peer_refused', `${server} refused: ${answer?.message ?? `HTTP ${response.status}`}`);
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
    this.d.notifications.notify({ type: 'invite', invite_id: inviteId, room_id: event.room_id, invitee: event.state_key! });
    return inviteId;
  }

  invites(userId?: string): RoomInviteRow[] {
    const rows = this.d.db
      .prepare<[], RoomInviteRow>("SELECT * FROM room_invites WHERE state = 'pending' ORDER BY created_at")
      .all()
      .filter((r) => userId === undefined || r.invitee === userId);
    return rows;
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
    const roomName = (event.content.room_name as string | undefined) ?? body.room_name ?? body.room_id;
    const inviteId = await this.d.commit.run(() => {
      this.d.rooms.createRoom({ room_id: event.room_id, name: roomName, host_server: requestOrigin, created_at: Date.now() });
      const existing = this.d.events.get(event.event_id);
      if (!existing) this.d.events.insert(event, verified.hash, requestOrigin);
      this.d.rooms.apply(event);
      return this.recordInvite(event, roomName, body.max_age_seconds);
    });
    this.d.log.info({ event: 'invite_received', room_id: event.room_id, invitee: body.invitee, from: requestOrigin }, 'room invite received');
    return { invite_id: inviteId };
  }

  /** Federation `POST /invite` without an invitee (join preflight): may `origin` join this room? */
  preflight(requestOrigin: string, roomId: string): RoomSnapshot['room'] & { member_count: number } {
    const room = this.hostedRoom(roomId);
    const members = this.d.rooms.members(roomId);
    const now = Date.now();
    const mayJoin = members.some(
      (m) => m.server_name === requestOrigin && (m.membership === 'join' || (m.membership === 'invite' && (m.invite_expires_at === null || m.invite_expires_at > now))),
    );
    if (!mayJoin) throw forbidden('not_invited', `no user of ${requestOrigin} is invited to ${roomId}`);
    return { room_id: room.room_id, name: room.name, host_server: room.host_server, depth: room.last_depth, member_count: members.filter((m) => m.membership === 'join').length };
  }

  private hostedRoom(roomId: string) {
    if (!this.isHost(roomId)) throw forbidden('not_room_host', `this server does not host ${roomId}`);
    const room = this.d.rooms.room(roomId);
    if (!room) throw notFound('unknown_room', `no room ${roomId} here`);
    return room;
  }

  /** Invitee side: accept a pending invite — the signed join goes to the host, which answers with a snapshot. */
  async acceptInvite(inviteId: string, userId?: string): Promise<{ room_id: string }> {
    const invite = this.d.db.prepare<[string], RoomInviteRow>('SELECT * FROM room_invites WHERE invite_id = ?').get(inviteId);
    if (!invite || invite.state !== 'pending' || (userId !== undefined && invite.invitee !== userId)) {
      throw notFound('unknown_invite', `no pending invite ${inviteId}${userId ? ` for ${userId}` : ''}`);
    }
    if (invite.expires_at <= Date.now()) throw forbidden('invite_expired', 'this invite has expired; ask for a new one');
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
    const answer = await this.callPeer(invite.host_server, JOIN_PATH, body);
    await this.applySnapshot(invite.host_server, answer, join);
    this.d.db.prepare("UPDATE room_invites SET state = 'accepted' WHERE invite_id = ?").run(inviteId);
    this.d.log.info({ event: 'room_joined', room_id: invite.room_id, user_id: invite.invitee }, 'joined a remote room');
    // The snapshot shows the room at once; the full history follows in the background.
    void this.catchUp(invite.room_id).catch((error: Error) => this.d.log.warn({ event: 'catch_up_failed', room_id: invite.room_id, error: error.message }, 'catch-up failed'));
    return { room_id: invite.room_id };
  }

  private async applySnapshot(host: string, answer: unknown, ownJoin: Envelope): Promise<void> {
    const snapshot = answer as Partial<RoomSnapshot> | undefined;
    if (!snapshot?.room || !Array.isArray(snapshot.members) || !Array.isArray(snapshot.events)) {
      throw new HttpError(502, 'bad_snapshot', `${host} answered the join without a room snapshot`);
    }
    const verified: VerifiedEvent[] = [];
    for (const raw of snapshot.events.slice(0, 1000)) {
      try {
        verified.push(await this.d.ingest.verify(host, raw, { skipRoute: true }));
      } catch (error) {
        this.d.log.warn({ event: 'snapshot_event_rejected', host, error: (error as Error).message }, 'snapshot event rejected');
      }
    }
    verified.sort((a, b) => compareDisplayOrder(a.envelope, b.envelope));
    const room = snapshot.room;
    await this.d.commit.run(() => {
      this.d.rooms.createRoom({ room_id: ownJoin.room_id, name: String(room.name ?? ownJoin.room_id).slice(0, 100), host_server: host, created_at: Date.now() });
      if (!this.d.events.get(ownJoin.event_id)) this.d.events.insert(ownJoin, contentHash(envelopeSigningBytes(ownJoin)), null);
      this.d.rooms.apply(ownJoin);
      for (const { envelope, hash } of verified) {
        if (envelope.room_id !== ownJoin.room_id) continue;
        if (!this.d.events.get(envelope.event_id)) this.d.events.insert(envelope, hash, host);
        this.d.rooms.apply(envelope);
      }
      // Members whose membership events are older than the snapshot's recent events: as the host
      // reports them (it hosts the room; the events themselves follow with the catch-up).
      for (const member of snapshot.members!.slice(0, 10_000)) {
        if (!isReportedMember(member)) continue;
        this.d.rooms.applyReportedMember(ownJoin.room_id, member);
      }
    });
    this.d.notifications.notify({ type: 'room', room_id: ownJoin.room_id, event_id: ownJoin.event_id, event_type: ownJoin.event_type, sender: ownJoin.sender });
  }

  /** Host side of `POST /join` and `POST /leave`: the membership event arrives in the body. */
  async receiveMembership(requestOrigin: string, kind: 'join' | 'leave', body: { room_id: string; user_id: string; event?: unknown }): Promise<RoomSnapshot | { ok: true }> {
    this.hostedRoom(body.room_id);
    if (serverOf(body.user_id) !== requestOrigin) throw forbidden('not_origin', `${body.user_id} is not a user of ${requestOrigin}`);
    if (body.event === undefined) {
      if (kind === 'join') {
        this.preflight(requestOrigin, body.room_id);
        return this.snapshot(body.room_id);
      }
      throw badRequest('event_required', 'POST /leave needs the signed m.member.leave event in "event"');
    }
    const verified = await this.d.ingest.verify(requestOrigin, body.event);
    const event = verified.envelope;
    if (event.event_type !== `m.member.${kind}` || event.room_id !== body.room_id || event.sender !== body.user_id) {
      throw badRequest('invalid_membership', `the event must be an m.member.${kind} of ${body.user_id} in ${body.room_id}`);
    }
    await this.d.ingest.store(verified, requestOrigin);
    return kind === 'join' ? this.snapshot(body.room_id) : { ok: true };
  }

  snapshot(roomId: string): RoomSnapshot {
    const room = this.d.rooms.room(roomId)!;
    return {
      room: { room_id: room.room_id, name: room.name, host_server: room.host_server, depth: room.last_depth },
      members: this.d.rooms.members(roomId).map((m) => ({
        user_id: m.user_id, membership: m.membership, role: m.role, invite_expires_at: m.invite_expires_at,
        event_id: m.event_id, event_depth: m.event_depth, event_origin: m.event_origin,
      })),
      events: this.d.events.latest(roomId, SNAPSHOT_EVENTS),
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
    if (serverOf(event.room_id) !== requestOrigin) {
      throw forbidden('not_room_host', `events of ${event.room_id} come from its host ${serverOf(event.room_id)}, not ${requestOrigin}`);
    }
    if (!this.d.rooms.room(event.room_id)) throw notFound('unknown_room', `this server is not in ${event.room_id}`);
  }

  /** Inside the storing transaction, before the insert: the host authorizes. */
  authorizeInbound(event: Envelope): void {
    if (this.isHost(event.room_id)) authorizeEvent(this.d.rooms, this.d.events, event);
  }

  /** Inside the storing transaction, after the insert: apply and relay. */
  onInboundStored(event: Envelope, receivedFrom: string): void {
    this.d.rooms.apply(event);
    this.enqueueDeliveries(event, receivedFrom, Date.now());
  }

  /** After the commit of an inbound event. */
  onInboundCommitted(event: Envelope): void {
    this.afterCommit(event);
  }

  // ——— catch-up ———

  /** Host side of `GET /events`: a page for a server with joined members. */
  catchUpPage(requestOrigin: string, roomId: string, sinceDepth: number, limit: number) {
    this.hostedRoom(roomId);
    if (!this.d.rooms.isJoinedServer(roomId, requestOrigin)) throw forbidden('not_a_member_server', `${requestOrigin} has no members in ${roomId}`);
    const page = this.d.events.since(roomId, sinceDepth, limit);
    const last = page.events[page.events.length - 1];
    return { room_id: roomId, events: page.events, complete: page.complete, next_since_depth: last ? last.depth : sinceDepth };
  }

  /** Pulls what we missed in a remote room from its host (on start, after a join). */
  async catchUp(roomId: string): Promise<number> {
    const host = serverOf(roomId);
    if (host === this.server) return 0;
    let since = this.syncedDepth(roomId);
    let stored = 0;
    for (let page = 0; page < 10_000; page++) {
      const path = `${EVENTS_PATH}?room_id=${encodeURIComponent(roomId)}&since_depth=${since}&limit=${CATCH_UP_PAGE}`;
      const endpoint = await this.d.discovery.endpointOf(host);
      const response = await this.d.http.signed(this.d.identity(), 'GET', endpoint, path);
      if (response.status !== 200) throw new Error(`catch-up from ${host}: HTTP ${response.status} ${response.text.slice(0, 200)}`);
      const body = response.json as { events?: unknown[]; complete?: boolean; next_since_depth?: number };
      const events = Array.isArray(body.events) ? body.events : [];
      for (const raw of events) {
        try {
          const verified = await this.d.ingest.verify(host, raw);
          if (verified.envelope.room_id !== roomId) continue;
          const result = await this.d.ingest.store(verified, host);
          if (result.inserted) stored++;
        } catch (error) {
          this.d.log.warn({ event: 'catch_up_event_rejected', room_id: roomId, error: (error as Error).message }, 'catch-up event rejected');
        }
      }
      const next = typeof body.next_since_depth === 'number' ? body.next_since_depth : since;
      if (next > since) {
        since = next;
        this.d.db.prepare('UPDATE rooms SET synced_depth = MAX(synced_depth, ?) WHERE room_id = ?').run(since, roomId);
      }
      if (body.complete !== false || events.length === 0) break;
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
      .filter((r) => r.host_server !== this.server && this.d.rooms.isJoinedServer(r.room_id, this.server))
      .map((r) => r.room_id);
  }

  wireEvent(event: Envelope): string {
    return envelopeWireJson(event);
  }
}
