/**
 * A reference guild's channels as rooms here (docs/PROTOCOL.md "Interop with the Paracord
 * reference", "guild/channel ↔ room").
 *
 * The reference hosts a guild as ONE federation room, `!<guild_id>:<domain>` (lib.rs:269-271), and
 * serves all its channels in that room's one `/events` stream; each message names its channel
 * (`content.channel_id`, `channel_name`: federation.rs:826-864). Here:
 *
 * - the guild room `!<gid>:<domain>` stays the room our user joins (`/invite` + `/join`), the one we
 *   poll, and where member events, and any message without a channel, land. It also shows the
 *   guild's default channel: the `default_channel_id` its `/invite` answered when we first joined
 *   (recorded then, never changed after);
 * - any other channel C of that guild is the local room `!<gid>~<C>:<domain>` (both canonical
 *   i64), made on the first message of C we see, named "<guild name> #<channel_name>". `~` never occurs in a
 *   reference's room ids (canonical i64 local parts) nor in ours (canonical i64 since issue #19), and
 *   a room under `:<domain>` takes events only from the server that domain is bound to: nobody else
 *   can make or feed such a room;
 * - an event the reference signs with a channel room id is refused: the id is ours, not its;
 * - member events of the guild apply to every channel room of it (membership is per guild there),
 *   as do our user's RPC join and leave; leaving a channel room leaves the guild;
 * - edits, deletes and reactions name their target by `(origin, message_id)`, looked up across the
 *   guild room and its channel rooms, and land in the room of their target.
 *
 * Rooms WE host keep their mapping (guild N with one channel N): nothing here applies to them.
 */
import { serverOf } from '../../../../shared/identifiers.ts';
import type { MemberRow, RoomStore } from '../../rooms/room-store.ts';
import type { Db } from '../../store/database.ts';
import { HttpError } from '../../errors.ts';
import { chargedBytes, type StorageQuota } from '../../trust/storage-quota.ts';
import { canonicalJson } from '../../crypto/canonical-json.ts';
import { compareDisplayOrder } from '../../rooms/event-types.ts';
import type { FederationEvents } from '../../store/federation-events.ts';
import type { Envelope } from '../envelope.ts';
import { guildIdOfRoom, isCanonicalI64, safeReferenceName, type TargetLookup } from './vocabulary.ts';

const SEPARATOR = '~';
/**
 * Channel rooms one guild may make here: a host that names a new channel in every message cannot
 * make us hold unbounded rooms (and members × channels membership rows); past it, messages of
 * further channels stay in the guild room.
 */
export const MAX_CHANNEL_ROOMS_PER_GUILD = 100;
/**
 * What one membership copied into a channel room is charged to the storage quota of the server
 * whose event made the copy (a row of room_members with its ids and index entries). Membership is
 * per guild there, and each channel room holds a copy: uncharged, a host could add members at
 * ~1.2 KB each and have each copied into up to 100 rooms, and one message of a new channel copied
 * every member in the storing transaction (a red-team review, 2026-11-30).
 */
export const MEMBERSHIP_COPY_BYTES = 300;

/** The derived room of channel `channelId` of the guild room `!<gid>:<domain>`; null when either id is not a canonical i64. */
export function channelRoomId(guildRoomId: string, channelId: string): string | null {
  const guild = guildIdOfRoom(guildRoomId);
  if (!guild || !isCanonicalI64(channelId)) return null;
  return `!${guild}${SEPARATOR}${channelId}${guildRoomId.slice(guildRoomId.indexOf(':'))}`;
}

/** The guild room and channel of a channel room id; null for any other id. */
export function parseChannelRoom(roomId: string): { guildRoomId: string; channelId: string } | null {
  const match = /^!([1-9][0-9]{0,18})~([1-9][0-9]{0,18})(:.+)$/.exec(roomId);
  if (!match || !isCanonicalI64(match[1]!) || !isCanonicalI64(match[2]!)) return null;
  return { guildRoomId: `!${match[1]}${match[3]}`, channelId: match[2]! };
}

/** The guild room a room belongs to: itself, or the guild of a channel room. */
export function guildRoomOf(roomId: string): string {
  return parseChannelRoom(roomId)?.guildRoomId ?? roomId;
}

/** The channel id a reference message names (a number or a numeric string, as it writes them: federation.rs:1121-1127). */
export function channelIdOf(content: Record<string, unknown>): string | null {
  const raw = content.channel_id;
  const text = typeof raw === 'number' && Number.isSafeInteger(raw) ? String(raw) : typeof raw === 'string' ? raw.trim() : '';
  return isCanonicalI64(text) ? text : null;
}

type ReportedMember = Pick<MemberRow, 'user_id' | 'membership' | 'role' | 'invite_expires_at' | 'event_id' | 'event_depth' | 'event_origin'>;

/** A membership of the guild room, as reported for another room (its room_id left out). */
const reported = (m: MemberRow): ReportedMember => ({
  user_id: m.user_id, membership: m.membership, role: m.role, invite_expires_at: m.invite_expires_at, event_id: m.event_id, event_depth: m.event_depth, event_origin: m.event_origin,
});

export class ReferenceChannels {
  private readonly db: Db;
  private readonly rooms: RoomStore;
  /** Where copies of memberships are charged (none: nothing is charged, as in unit tests). */
  private readonly quota: Pick<StorageQuota, 'exceeds'> | undefined;

  constructor(db: Db, rooms: RoomStore, quota?: Pick<StorageQuota, 'exceeds'>) {
    this.db = db;
    this.rooms = rooms;
    this.quota = quota;
  }

  /** The memberships a guild room holds (each copied into a new channel room). */
  private memberCount(guildRoomId: string): number {
    return this.db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM room_members WHERE room_id = ?').get(guildRoomId)!.n;
  }

  /** The channel rooms made for a guild room (not the guild room itself, which shows its default channel). */
  channelsOf(guildRoomId: string): string[] {
    return this.db
      .prepare<[string], { room_id: string }>('SELECT room_id FROM reference_channel_rooms WHERE guild_room_id = ? AND room_id <> guild_room_id ORDER BY room_id')
      .all(guildRoomId)
      .map((r) => r.room_id);
  }

  /** Records the guild's default channel (its `/invite` answer) as shown in the guild room; the first record stays. */
  setDefaultChannel(guildRoomId: string, channelId: unknown, now = Date.now()): void {
    const channel = typeof channelId === 'number' || typeof channelId === 'string' ? channelIdOf({ channel_id: channelId }) : null;
    if (!channel) return;
    this.db.prepare('INSERT OR IGNORE INTO reference_channel_rooms (room_id, guild_room_id, channel_id, created_at) VALUES (?, ?, ?, ?)').run(guildRoomId, guildRoomId, channel, now);
  }

  /** The room channel `channelId` of a guild room shows in: the guild room for its default channel, else its derived room. */
  roomOfChannel(guildRoomId: string, channelId: string): string | null {
    const recorded = this.db
      .prepare<[string, string], { room_id: string }>('SELECT room_id FROM reference_channel_rooms WHERE guild_room_id = ? AND channel_id = ? LIMIT 1')
      .get(guildRoomId, channelId);
    return recorded?.room_id ?? channelRoomId(guildRoomId, channelId);
  }

  /** The guild room and its channel rooms. */
  family(roomId: string): string[] {
    const guild = guildRoomOf(roomId);
    return [guild, ...this.channelsOf(guild)];
  }

  /**
   * Where an event of a reference-dialect origin goes here: the channel room of an `m.message`
   * naming a channel, in a guild room its origin hosts; null when it stays in its room.
   */
  routeMessage(event: Envelope, originHosts: (roomId: string) => boolean): string | null {
    if (event.event_type !== 'm.message' || !guildIdOfRoom(event.room_id) || !originHosts(event.room_id)) return null;
    const channel = channelIdOf(event.content);
    const room = channel ? this.roomOfChannel(event.room_id, channel) : null;
    if (room === null || room === event.room_id) return null;
    if (!this.rooms.room(room)) {
      if (this.channelsOf(event.room_id).length >= MAX_CHANNEL_ROOMS_PER_GUILD) return null;
      // A new channel room copies the guild's memberships, charged to the host with the message:
      // past its quota today, the message stays in the guild room (refused there only if it alone is over).
      const own = chargedBytes(event, Buffer.byteLength(canonicalJson(event.content)));
      if (this.quota?.exceeds(event.origin_server, own + this.memberCount(event.room_id) * MEMBERSHIP_COPY_BYTES)) return null;
    }
    return room;
  }

  /**
   * In the storing transaction, before an event of a channel room is applied: makes the room on
   * its first message, named from the message, with the guild room's memberships.
   */
  ensure(roomId: string, content: Record<string, unknown>, now = Date.now()): void {
    const parsed = parseChannelRoom(roomId);
    if (!parsed || this.rooms.room(roomId)) return;
    const guild = this.rooms.room(parsed.guildRoomId);
    if (!guild) return;
    const channelName = safeReferenceName(content.channel_name, `channel ${parsed.channelId}`);
    this.rooms.createRoom({ room_id: roomId, name: `${guild.name} #${channelName}`.slice(0, 200), host_server: serverOf(roomId), created_at: now });
    this.db.prepare('INSERT OR IGNORE INTO reference_channel_rooms (room_id, guild_room_id, channel_id, created_at) VALUES (?, ?, ?, ?)').run(roomId, parsed.guildRoomId, parsed.channelId, now);
    for (const member of this.rooms.members(parsed.guildRoomId)) this.rooms.applyReportedMember(roomId, reported(member), now);
  }

  /** A membership decided for the guild (its member event, or our user's RPC join/leave): the same in every channel room. */
  applyToChannels(guildRoomId: string, member: ReportedMember, now = Date.now()): void {
    for (const roomId of this.channelsOf(guildRoomId)) this.rooms.applyReportedMember(roomId, member, now);
  }

  /**
   * What `localView` asks about stored messages for events of reference-dialect origins: targets
   * across the guild room and its channel rooms; messages to their channel's room, relations to
   * their target's (`domainOf`: the domain bound to a reference server).
   */
  targetLookup(events: FederationEvents, domainOf: (origin: string) => string | null, self: () => string | null = () => null): TargetLookup {
    const hostedBy = (origin: string) => (roomId: string) => serverOf(roomId) === origin || serverOf(roomId) === domainOf(origin);
    return {
      messageEvent: (roomId, origin, messageId) => {
        for (const room of this.family(roomId)) {
          const found = events.messageEvent(room, origin, messageId);
          if (found) return found;
        }
        return undefined;
      },
      placeOf: (event, target) => {
        if (target === undefined) return this.routeMessage(event, hostedBy(event.origin_server)) ?? undefined;
        const room = events.roomOf(target);
        return room !== undefined && guildRoomOf(room) === event.room_id ? room : undefined;
      },
      isLocalRoomId: (roomId) => parseChannelRoom(roomId) !== null,
      messageIdOf: (eventId) => events.messageIdOf(eventId),
      hosts: (origin, roomId) => hostedBy(origin)(roomId),
      askedToJoin: (roomId, userId) =>
        serverOf(userId) !== self() ? undefined : this.db.prepare('SELECT 1 FROM reference_joins WHERE room_id = ? AND user_id = ?').get(guildRoomOf(roomId), userId) !== undefined,
      joinedAs: (roomId, host, localUserId) =>
        this.db.prepare<[string, string, string], { user_id: string }>('SELECT user_id FROM reference_joins WHERE room_id = ? AND host_server = ? AND local_user_id = ?').get(roomId, host, localUserId)?.user_id,
    };
  }

  /** After a member event of a guild room was applied there: its channel rooms follow (the copies were charged with it: copyCharge). */
  afterMemberEvent(view: Envelope, now = Date.now()): void {
    if (!view.event_type.startsWith('m.member.') || view.state_key === null) return;
    const decided = this.rooms.member(view.room_id, view.state_key);
    if (decided?.event_id === view.event_id) this.applyToChannels(view.room_id, reported(decided), now);
  }

  /**
   * In the storing transaction, before a received event's quota check: what the memberships it
   * copies cost, charged with it to its payer (MEMBERSHIP_COPY_BYTES each): the first message of a
   * channel room copies every member of the guild; a member event of a guild, one copy per
   * channel room. A channel room past MAX_CHANNEL_ROOMS_PER_GUILD (a batch of first messages,
   * each routed while the rooms before it were not made yet) is refused 429: asked again, its
   * message is routed to the guild room.
   */
  copyCharge(view: Envelope): number {
    const parsed = parseChannelRoom(view.room_id);
    if (parsed) {
      if (this.rooms.room(view.room_id)) return 0;
      if (this.channelsOf(parsed.guildRoomId).length >= MAX_CHANNEL_ROOMS_PER_GUILD) {
        throw new HttpError(429, 'quota_exceeded', `${parsed.guildRoomId} has ${MAX_CHANNEL_ROOMS_PER_GUILD} channel rooms here already; try again (it then stays in the guild's room)`, { 'retry-after': '1' });
      }
      return this.memberCount(parsed.guildRoomId) * MEMBERSHIP_COPY_BYTES;
    }
    if (!view.event_type.startsWith('m.member.') || view.state_key === null || !guildIdOfRoom(view.room_id)) return 0;
    // Copied only when it decides the membership (afterMemberEvent): not one older than what decided it.
    const existing = this.rooms.member(view.room_id, view.state_key);
    if (existing && compareDisplayOrder({ depth: existing.event_depth, origin_server: existing.event_origin, event_id: existing.event_id }, view) >= 0) return 0;
    return this.channelsOf(view.room_id).length * MEMBERSHIP_COPY_BYTES;
  }
}
