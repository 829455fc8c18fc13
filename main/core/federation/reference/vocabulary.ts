/**
 * The reference's room vocabulary and the deterministic guild/channel ↔ room mapping
 * (docs/PROTOCOL.md "Interop with the Paracord reference"):
 *
 * - A reference guild is one federation room, `!<guild_id>:<domain>` (crates/paracord-federation/src/lib.rs:269-271);
 *   here each of its channels is a room (channel-rooms.ts): `localView` puts a message into its
 *   channel's room and a relation into its target's (`TargetLookup.placeOf`).
 * - A room of ours with a canonical numeric local part N is guild N with one channel, N: every
 *   event we make in it carries `guild_id: "N"`, `channel_id: "N"` (strings, as the reference
 *   writes them; it parses numbers or numeric strings, federation.rs:1121-1127). New rooms get
 *   such ids (snowflake-like), so a reference can mirror them (federation.rs:260-270).
 * - Messages carry `message_id` (a numeric string unique per message) and `msgtype: "m.text"`;
 *   edits, deletes and reactions carry the target's `message_id` and `target_event_id`;
 *   reactions carry `emoji` beside our `key`. Receivers of our own dialect ignore the extras.
 *
 * Inbound, an event whose origin speaks the reference dialect is read through `localView`:
 * the SAME signed envelope is stored and relayed; the view (our field names, state_key from
 * sender for `state_key: null` member events) is what rooms authorize and apply.
 */
import { createHash } from 'node:crypto';
import { randomUint } from '../../crypto/random-pool.ts';
import { EVENT_ID, isSafeDisplayName, isUserId, isUserIdOfAnyDialect, serverOf, stripUnsafeDisplay } from '../../../../shared/identifiers.ts';
import { badRequest, forbidden, notFound } from '../../errors.ts';
import type { Envelope } from '../envelope.ts';
import { RELATION_TYPES } from '../../rooms/event-types.ts';

/** Canonical positive i64 in decimal (no sign, no leading zero): what the reference re-stringifies to the same text. */
const CANONICAL_I64 = /^[1-9][0-9]{0,18}$/;
const I64_MAX = 9223372036854775807n;

export function isCanonicalI64(text: string): boolean {
  return CANONICAL_I64.test(text) && BigInt(text) <= I64_MAX;
}

/** The guild id a room maps to (its numeric local part), or null for rooms a reference cannot mirror. */
export function guildIdOfRoom(roomId: string): string | null {
  const colon = roomId.indexOf(':');
  if (!roomId.startsWith('!') || colon < 0) return null;
  const local = roomId.slice(1, colon);
  return isCanonicalI64(local) ? local : null;
}

/** Milliseconds since 2020-01-01 in the high bits, 22 random bits below: fits an i64 for ~2^41 ms (70 years). */
const SNOWFLAKE_EPOCH_MS = 1_577_836_800_000n;
let lastSnowflake = 0n;
/**
 * Strictly increasing in this process (a batch makes many in one millisecond, where 22 random
 * bits alone would collide now and then, and the reference's message map keeps the first).
 */
export function newSnowflake(now = Date.now()): string {
  const random = BigInt(randomUint(3) & 0x3fffff);
  let value = ((BigInt(now) - SNOWFLAKE_EPOCH_MS) << 22n) | random;
  if (value <= 0n) value = random + 1n;
  if (value <= lastSnowflake) value = lastSnowflake + 1n;
  lastSnowflake = value;
  return value.toString();
}

export interface TargetLookup {
  /** The event id of the message `origin` put `message_id` on, in `roomId` (for a reference guild room: in it or its channel rooms). */
  messageEvent(roomId: string, origin: string, messageId: string): string | undefined;
  /**
   * Where an event goes here when not in its signed room (channel-rooms.ts): the channel room of a
   * reference guild's message, or the room of a relation's target. Undefined: its own room.
   */
  placeOf?(event: Envelope, target?: string): string | undefined;
  /** Whether a room id is one we derive locally (a channel room): never a room a peer may name. */
  isLocalRoomId?(roomId: string): boolean;
  /** The message_id an event carries (for our outgoing relations). */
  messageIdOf(eventId: string): string | undefined;
  /** Our user whose `/join` to `host`'s room was answered with `localUserId` (reference_joins). */
  joinedAs?(roomId: string, host: string, localUserId: string): string | undefined;
  /** Whether `origin` hosts `roomId` (the room's namespace is its name or its bound domain). */
  hosts?(origin: string, roomId: string): boolean;
  /** For a user of this server: whether they asked to join the reference room (reference_joins); undefined for others. */
  askedToJoin?(roomId: string, userId: string): boolean | undefined;
}

/**
 * The local username a reference server gives a remote user (federation.rs:482-558): the
 * localpart reduced to ASCII letters, digits, `_` and `-`, at most 24 ("remote" when empty),
 * then `_` and the first 6 hex digits of sha256 of the full user id.
 */
export function referencePseudoUsername(userId: string): string {
  const localpart = userId.slice(1, userId.indexOf(':'));
  const cleaned = localpart.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 24) || 'remote';
  return `${cleaned}_${createHash('sha256').update(userId).digest('hex').slice(0, 6)}`;
}

/** Extra fields of an event we make in a room a reference can mirror (none for other rooms). */
export function referenceExtras(roomId: string, roomName: string | undefined, type: string, content: Record<string, unknown>, lookup: TargetLookup, now = Date.now()): Record<string, unknown> {
  const guild = guildIdOfRoom(roomId);
  if (!guild) return {};
  const place = { guild_id: guild, channel_id: guild };
  switch (type) {
    case 'm.message':
      // Keys in code point order (after a message's `body`): its canonical JSON then needs no sort.
      return roomName
        ? { channel_id: guild, channel_name: roomName, guild_id: guild, guild_name: roomName, message_id: newSnowflake(now), msgtype: 'm.text' }
        : { channel_id: guild, guild_id: guild, message_id: newSnowflake(now), msgtype: 'm.text' };
    case 'm.message.edit':
    case 'm.message.delete':
    case 'm.reaction.add':
    case 'm.reaction.remove': {
      const target = content.target as string;
      const messageId = lookup.messageIdOf(target);
      return {
        ...place,
        target_event_id: target,
        ...(messageId ? { message_id: messageId } : {}),
        ...(type.startsWith('m.reaction.') ? { emoji: content.key } : {}),
      };
    }
    case 'm.member.join':
    case 'm.member.leave':
      return { guild_id: guild };
    default:
      return {};
  }
}

const MAX_MESSAGE_ID = 64;
const stringField = (content: Record<string, unknown>, field: string, max = MAX_MESSAGE_ID): string | undefined => {
  const value = content[field];
  return typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;
};

/**
 * The reference's target naming (federation.rs:1417-1608): `message_id` scoped to the event's
 * origin first, then `target_event_id`. The mirror's guild_id/channel_id in relation content are
 * ITS local ids (docs/REFERENCE-INTEROP-NOTES.md row 20) and are ignored.
 */
function resolveTarget(event: Envelope, lookup: TargetLookup): string {
  const c = event.content;
  if (typeof c.target === 'string' && EVENT_ID.test(c.target)) return c.target;
  const messageId = stringField(c, 'message_id');
  if (messageId) {
    const found = lookup.messageEvent(event.room_id, event.origin_server, messageId);
    if (found) return found;
  }
  const byEventId = stringField(c, 'target_event_id', 255);
  if (byEventId && EVENT_ID.test(byEventId)) return byEventId;
  throw notFound('unknown_target', `${event.event_type} names no message known here (message_id ${messageId ?? 'absent'}, target_event_id ${byEventId ?? 'absent'})`);
}

/** What rooms authorize and apply for an event of a reference-dialect origin (the stored envelope stays as signed). */
export function localView(event: Envelope, lookup: TargetLookup): Envelope {
  if (lookup.isLocalRoomId?.(event.room_id)) throw badRequest('invalid_room', `${event.room_id} is a room id this server derives for a channel; events name the guild room`);
  const view = readView(event, lookup);
  // Only an edit, a delete or a reaction is placed by what it targets (any other event's `target`
  // is its sender's word: a red team, 2026-12-01).
  const target = RELATION_TYPES.has(view.event_type) && typeof view.content.target === 'string' ? view.content.target : undefined;
  const room = lookup.placeOf?.(event, target);
  return room !== undefined && room !== view.room_id ? { ...view, room_id: room } : view;
}

function readView(event: Envelope, lookup: TargetLookup): Envelope {
  const c = event.content;
  switch (event.event_type) {
    case 'm.message': {
      if (typeof c.body !== 'string') throw badRequest('invalid_content', 'm.message body must be a string');
      const attachments = Array.isArray(c.attachments) ? c.attachments.length : 0;
      const body = c.body !== '' ? c.body : attachments > 0 ? `[${attachments} attachment${attachments > 1 ? 's' : ''}]` : '[empty message]';
      const view: Record<string, unknown> = { ...c, body };
      delete view.format;
      // A message names no target: one it carried placed it in the target's channel room, which
      // only the host may choose (routeMessage), and related it to that message (a red team, 2026-12-01).
      delete view.target;
      return { ...event, content: view };
    }
    case 'm.message.edit': {
      if (typeof c.body !== 'string' || c.body === '') throw badRequest('invalid_content', 'm.message.edit body must be a non-empty string');
      return { ...event, content: { target: resolveTarget(event, lookup), body: c.body } };
    }
    case 'm.message.delete':
      return { ...event, content: { target: resolveTarget(event, lookup) } };
    case 'm.reaction.add':
    case 'm.reaction.remove': {
      const emoji = typeof c.key === 'string' ? c.key : typeof c.emoji === 'string' ? c.emoji.trim() : '';
      if (emoji === '') throw badRequest('invalid_content', `${event.event_type} needs a non-empty emoji`);
      return { ...event, content: { target: resolveTarget(event, lookup), key: emoji } };
    }
    case 'm.member.leave': {
      const endorsed = endorsedMember(event, lookup, 'leave');
      if (endorsed) return endorsed;
      // The host removed one of OUR users (kick or ban: they look the same, notes §6): its leave
      // names our user's local id there (content.user_id, from our /join answer) and is sent as
      // that user's pseudo-user. Both must match; then it is our user's leave.
      const localId = typeof c.user_id === 'string' || typeof c.user_id === 'number' ? String(c.user_id) : undefined;
      const ours = localId !== undefined ? lookup.joinedAs?.(event.room_id, event.origin_server, localId) : undefined;
      if (ours !== undefined && event.sender.slice(1, event.sender.indexOf(':')) === referencePseudoUsername(ours)) {
        return { ...event, state_key: ours, content: { membership: 'leave', reason: 'removed by the room\'s host' } };
      }
      return memberView(event, 'leave');
    }
    case 'm.member.join':
      return endorsedMember(event, lookup, 'join') ?? memberView(event, 'join');
    default:
      return event;
  }
}

/**
 * A membership endorsement of a reference 3.x (F publish_membership_endorsement @e6f874b0): sender
 * `@server:<domain>`, content {guild_id, membership_user_id}, made by its /join and /leave and by
 * its kicks and bans of remote users. It names the member, and only the room's host may say it
 * (as 3.x itself checks, F membership_event_identity): 403 from anyone else. Null: not one.
 */
function endorsedMember(event: Envelope, lookup: TargetLookup, membership: 'join' | 'leave'): Envelope | null {
  const c = event.content;
  if (c.membership_user_id === undefined) return null;
  if (!(lookup.hosts?.(event.origin_server, event.room_id) ?? false)) {
    throw forbidden('not_room_host', `${event.origin_server} does not host ${event.room_id}: only the room's host may endorse a membership (membership_user_id)`);
  }
  const member = c.membership_user_id;
  // Our grammar for anyone; a reference's (Unicode names) only for the host's own users.
  const valid = isUserId(member) || (isUserIdOfAnyDialect(member) && (lookup.hosts?.(event.origin_server, `!0:${serverOf(member)}`) ?? false));
  if (!valid) throw badRequest('invalid_content', `${event.event_type} membership_user_id must be a user id`);
  const guild = guildIdOfRoom(event.room_id);
  if (c.guild_id !== undefined && String(c.guild_id) !== guild) throw badRequest('invalid_content', `${event.event_type} guild_id ${String(c.guild_id).slice(0, 40)} is not the room's guild ${guild ?? '(none)'}`);
  // A host may end any membership in its room, but join one of our users only after they asked (its /join from us).
  if (membership === 'join' && lookup.askedToJoin?.(event.room_id, member) === false) {
    throw forbidden('join_not_asked', `${event.origin_server} endorses ${member} joining ${event.room_id}, but that user of this server never asked to join it`);
  }
  // A leave, a kick and a ban look the same (no actor, no reason): the member's membership ends.
  return { ...event, state_key: member, content: { membership } };
}

/** state_key null: the member is the sender (federation.rs:1615,1683); content.user_id is its LOCAL numeric id. */
function memberView(event: Envelope, membership: 'join' | 'leave'): Envelope {
  return { ...event, state_key: event.state_key ?? event.sender, content: { membership } };
}

/** A name a reference put into content (guild_name/channel_name), made safe to show. */
export function safeReferenceName(value: unknown, fallback: string): string {
  if (typeof value !== 'string') return fallback;
  const cleaned = stripUnsafeDisplay(value).trim().slice(0, 100);
  return cleaned !== '' && isSafeDisplayName(cleaned) ? cleaned : fallback;
}
