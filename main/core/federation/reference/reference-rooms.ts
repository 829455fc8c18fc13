/**
 * Our users in rooms a Paracord reference server hosts (docs/PROTOCOL.md "Interop with the
 * Paracord reference"): joining with its preflight `/invite` then `/join` (federation.rs:2040-2169;
 * bodies in wire.ts), leaving with its `/leave`. Membership there is per guild. What its users say
 * is heard by polling (reference-poller.ts), which starts at the join.
 */
import type { Logger } from 'pino';
import { serverOf } from '../../../../shared/identifiers.ts';
import { HttpError, badRequest, forbidden } from '../../errors.ts';
import { peerRefusal } from '../peer-refusal.ts';
import { peerUnreachable, unreachableReason } from '../unreachable.ts';
import { PLAIN_TEXT_REFUSALS } from '../../outbox/delivery-outcomes.ts';
import type { Identity } from '../../identity/identity.ts';
import type { RoomStore } from '../../rooms/room-store.ts';
import type { Db } from '../../store/database.ts';
import type { GroupCommit } from '../../store/group-commit.ts';
import type { NodeEvents } from '../../node-events.ts';
import type { TrustStore } from '../../trust/trust-store.ts';
import type { Discovery } from '../discovery.ts';
import type { HttpClient, FederationResponse } from '../http-client.ts';
import type { PeerDialects } from './peer-dialects.ts';
import { guildRoomOf, type ReferenceChannels } from './channel-rooms.ts';
import type { ReferencePoller } from './reference-poller.ts';
import { guildIdOfRoom, isCanonicalI64, safeReferenceName } from './vocabulary.ts';
import { referenceInviteBody, referenceMembershipBody } from './wire.ts';
import { INVITE_PATH, JOIN_PATH, LEAVE_PATH } from '../paths.ts';

const REQUEST_DEADLINE_MS = 15_000;

export interface ReferenceRoomsDeps {
  db: Db;
  commit: GroupCommit;
  rooms: RoomStore;
  http: HttpClient;
  discovery: Discovery;
  trust: TrustStore;
  dialects: PeerDialects;
  channels: ReferenceChannels;
  identity: () => Identity;
  notifications: NodeEvents;
  log: Logger;
  /** Polls the rooms joined here (reference-poller.ts). */
  poller: Pick<ReferencePoller, 'ensureCursor' | 'pollJoined'>;
}

export class ReferenceRooms {
  private readonly d: ReferenceRoomsDeps;

  constructor(deps: ReferenceRoomsDeps) {
    this.d = deps;
  }

  private get server(): string {
    return this.d.identity().serverName;
  }

  /** The reference peer hosting a room (by its server name or its bound domain), or null. */
  referenceHostOf(roomId: string): string | null {
    const named = serverOf(roomId);
    if (this.d.dialects.isReference(named)) return named;
    return this.d.dialects.serverOfDomain(named);
  }

  // ——— our user joins a room a reference hosts ———

  async join(roomId: string, userId: string): Promise<{ room_id: string }> {
    const host = this.referenceHostOf(roomId);
    if (!host) {
      throw badRequest('not_reference_host', `${serverOf(roomId)} is not a Paracord reference server peered with this one: rooms of other servers are joined by accepting their invite`);
    }
    if (!guildIdOfRoom(roomId)) throw badRequest('invalid_room_id', 'a reference room id is !<numeric guild id>:<its domain>');
    // Preflight (FederationInviteRequest, client.rs:423-429): max_age_seconds always present.
    const preflight = await this.call(host, INVITE_PATH, referenceInviteBody({ origin_server: this.server, room_id: roomId, sender: userId, max_age_seconds: null }));
    const answer = (preflight ?? {}) as { accepted?: unknown; guild_name?: unknown; room_id?: unknown };
    if (answer.accepted === false) throw new HttpError(403, 'join_refused', `${host} did not accept the join`);
    const joined = (await this.call(host, JOIN_PATH, referenceMembershipBody({ origin_server: this.server, room_id: roomId, user_id: userId }))) as
      | { joined?: unknown; guild_id?: unknown; local_user_id?: unknown }
      | undefined;
    if (joined?.joined === false) throw new HttpError(403, 'join_refused', `${host} answered joined: false`);
    const name = safeReferenceName(answer.guild_name, roomId);
    const now = Date.now();
    await this.d.commit.run(() => {
      this.d.rooms.createRoom({ room_id: roomId, name, host_server: serverOf(roomId), created_at: now });
      // No signed event exists for an RPC join: the row records that the host accepted it (in the
      // guild room and every channel room of it: membership is per guild there).
      const member = {
        user_id: userId, membership: 'join' as const, role: 'member' as const, invite_expires_at: null,
        event_id: `$rpc_join:${now}:${this.server}`, event_depth: now, event_origin: host,
      };
      this.d.rooms.applyReportedMember(roomId, member);
      this.d.channels.applyToChannels(roomId, member, now);
      // The channel the guild room shows (FederationInviteResponse.default_channel_id, federation.rs:2040-2089).
      this.d.channels.setDefaultChannel(roomId, (answer as { default_channel_id?: unknown }).default_channel_id, now);
      this.d.db
        .prepare(
          `INSERT INTO reference_joins (room_id, user_id, host_server, guild_id, local_user_id, joined_at) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (room_id, user_id) DO UPDATE SET local_user_id = excluded.local_user_id, joined_at = excluded.joined_at`,
        )
        .run(roomId, userId, host, answeredGuild(joined?.guild_id) ?? guildIdOfRoom(roomId), typeof joined?.local_user_id === 'string' ? joined.local_user_id.slice(0, 64) : '', now);
      this.d.poller.ensureCursor(host, roomId);
    });
    this.d.log.info({ event: 'room_joined', room_id: roomId, user_id: userId, host, dialect: 'reference' }, 'joined a room on a reference server');
    this.d.notifications.notify({ type: 'room', room_id: roomId, event_id: '', event_type: 'm.member.join', sender: userId });
    this.d.poller.pollJoined(host, roomId);
    return { room_id: roomId };
  }

  /**
   * Our user leaves a room a reference hosts: here first, then its `/leave` RPC (the reference
   * ignores m.member.leave: federation.rs:1678-1728). Membership is per guild there: leaving one
   * of its channel rooms leaves the guild, and every channel room of it. Leaving here does not wait
   * for the host's word: a host the owner blocked is sent nothing, and one that refuses or cannot
   * be reached does not keep our user in (a red team, 2026-12-01: both did). What the host was
   * told comes back, in words when it was not.
   */
  async leave(roomId: string, userId: string): Promise<{ host_told: boolean; host_message?: string }> {
    const host = this.referenceHostOf(roomId);
    if (!host) return { host_told: true };
    const guildRoom = guildRoomOf(roomId);
    const now = Date.now();
    await this.d.commit.run(() => {
      const member = {
        user_id: userId, membership: 'leave' as const, role: 'member' as const, invite_expires_at: null,
        event_id: `$rpc_leave:${now}:${this.server}`, event_depth: now, event_origin: host,
      };
      this.d.rooms.applyReportedMember(guildRoom, member);
      this.d.channels.applyToChannels(guildRoom, member, now);
      this.d.db.prepare('DELETE FROM reference_joins WHERE room_id = ? AND user_id = ?').run(guildRoom, userId);
    });
    this.d.notifications.notify({ type: 'room', room_id: guildRoom, event_id: '', event_type: 'm.member.leave', sender: userId });
    try {
      await this.call(host, LEAVE_PATH, referenceMembershipBody({ origin_server: this.server, room_id: guildRoom, user_id: userId }));
      return { host_told: true };
    } catch (error) {
      const message = (error as Error).message;
      this.d.log.warn({ event: 'reference_leave_not_told', room_id: guildRoom, user_id: userId, host, reason: message }, 'left a room of a reference server here; the server was not told');
      return { host_told: false, host_message: `You left the room here; ${host} was not told, so it may still list you there (${message})` };
    }
  }

  private async call(host: string, path: string, body: string): Promise<unknown> {
    // Nothing is sent to a server the owner blocked or quarantined (as RoomPart.callPeer): a member
    // joining its guild called it, and a block was worded as the other server's ("origin_blocked").
    if (this.d.trust.holdsDeliveryTo(host)) throw forbidden('peer_held', `nothing is sent to ${host}: it is blocked or in quarantine on this server`);
    let response: FederationResponse;
    try {
      const endpoint = await this.d.discovery.endpointOf(host);
      // Four lines for v0.8.5 (transport.rs:30-53), bound for 3.x: the client chooses by the peer's version.
      response = await this.d.http.signed(this.d.identity(), 'POST', endpoint, path, body, { destination: host, signal: AbortSignal.timeout(REQUEST_DEADLINE_MS) });
    } catch (error) {
      throw peerUnreachable(host, unreachableReason(error), `${host} could not be reached: ${(error as Error).message}`);
    }
    // Only its JSON is its answer (its refusals: JSON, or plain text from its body extractors); a
    // page (a portal's 200, a proxy's 502) is something else at its address (a review, 2026-12-01:
    // a 200 page read as the join taken).
    const json = response.json;
    const isObject = typeof json === 'object' && json !== null && !Array.isArray(json);
    if (response.status >= 200 && response.status < 300 && isObject) return json;
    if (response.status < 300 || (!isObject && !PLAIN_TEXT_REFUSALS.has(response.status))) {
      throw peerUnreachable(host, 'bad_answer', `${host} could not be reached: something at its address answered HTTP ${response.status}, not as a Paracord server does`);
    }
    throw referenceRefusal(host, response);
  }
}

/** The guild id a /join answer names (a number or numeric string, as it writes ids), or null when it is not one. */
function answeredGuild(value: unknown): string | null {
  const text = typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : typeof value === 'string' ? value : '';
  return isCanonicalI64(text) ? text : null;
}
/**
 * A reference error: `{code, message, error, details}` (crates/paracord-api/src/error.rs:29-80),
 * or plain text for extractor errors (415/422/400). A 403 on a join is most often its guild
 * allowlist (PARACORD_FEDERATION_ALLOWED_GUILD_IDS, empty by default: federation.rs:333-352).
 */
export function referenceRefusal(host: string, response: FederationResponse): HttpError {
  const hint =
    response.status === 403
      ? ` (a Paracord reference server admits other servers only to guilds its operator lists in PARACORD_FEDERATION_ALLOWED_GUILD_IDS, and only from servers its admin added with trusted: true)`
      : '';
  return peerRefusal(host, response, 'peer_refused', { hint });
}
