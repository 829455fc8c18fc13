/**
 * Event types of rooms and their content schemas (docs/PROTOCOL.md "Event types"). Content
 * may carry a few extra fields (forward compatibility, the reference server's vocabulary); the
 * known ones are checked strictly, and the whole content is bounded in size (issue #14 item 5).
 */
import { MAX_INVITE_AGE_SECONDS } from '../../../shared/contract/admin/rooms.ts';
import { z } from 'zod';
import { EVENT_ID, atMostCodePoints, isSafeDisplayName, isSafeReactionKey } from '../../../shared/identifiers.ts';
import { HttpError, badRequest } from '../errors.ts';
import { MAX_EVENT_CONTENT_BYTES } from '../federation/envelope.ts';
import { isJsonObject } from '../util/json-object.ts';
import { ownValue } from '../../../shared/own-value.ts';
import { MAX_REACTION_KEY_CHARS } from '../../../shared/contract/admin/messages.ts';

export { MAX_REACTION_KEY_CHARS };

export const MAX_BODY_CHARS = 4000;
export const MAX_ROOM_NAME_CHARS = 100;
/** Reasons of removals, bans and moderator deletes. */
export const MAX_REASON_CHARS = 500;


const target = z.string().max(255).regex(EVENT_ID, 'target must be an event id');
const body = z.string().min(1, 'body must not be empty').refine((s) => atMostCodePoints(s, MAX_BODY_CHARS), `body must be at most ${MAX_BODY_CHARS} characters`);
const reactionKey = (max: number) =>
  z
    .string()
    .min(1, 'reaction key must not be empty')
    .refine((s) => atMostCodePoints(s, max), `reaction key must be at most ${max} characters`)
    // eslint-disable-next-line no-control-regex
    .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'reaction key must not contain control characters')
    .refine(isSafeReactionKey, 'reaction key must not contain bidi control or invisible characters');
export const reactionKeySchema = reactionKey(MAX_REACTION_KEY_CHARS);
/**
 * A Paracord reference server's reaction key, read in our vocabulary (reference/vocabulary.ts): its
 * custom emoji is `name:snowflake`, up to 64 characters (its reactions route), so 64 here; the
 * other rules are ours. Only for what a reference origin sends (authorize.ts checkReceivedView).
 */
export const REFERENCE_MAX_REACTION_KEY_CHARS = 64;
export const REFERENCE_REACTION_CONTENT = z.object({ target, key: reactionKey(REFERENCE_MAX_REACTION_KEY_CHARS) });
export const roomNameSchema = z
  .string()
  .trim()
  .min(1, 'room name must not be empty')
  .max(MAX_ROOM_NAME_CHARS)
  .refine(isSafeDisplayName, 'room name must not contain control, bidi or invisible characters');

/** A user's display name in a room, carried by their join (docs/PROTOCOL.md "Display names"). */
export const MAX_DISPLAY_NAME_CHARS = 100;
export const displayNameSchema = z
  .string()
  .trim()
  .min(1, 'display name must not be empty')
  .refine((s) => atMostCodePoints(s, MAX_DISPLAY_NAME_CHARS), `display name must be at most ${MAX_DISPLAY_NAME_CHARS} characters`)
  .refine(isSafeDisplayName, 'display name must not contain control, bidi or invisible characters');

/** The display name a join's content carries, trimmed; null when it carries none (or one the schema refuses). */
export function joinDisplayName(content: Record<string, unknown>): string | null {
  const parsed = displayNameSchema.safeParse(content.display_name);
  return parsed.success ? parsed.data : null;
}

/** The longest an invite is offered (the admin API's `max_age_seconds` at most; authorize.ts refuses longer ones). */
export const MAX_INVITE_LIFETIME_MS = MAX_INVITE_AGE_SECONDS * 1000;

export const CONTENT_SCHEMAS = {
  'm.message': z.object({ body, format: z.literal('plain').optional() }),
  'm.message.edit': z.object({ target, body }),
  'm.message.delete': z.object({ target, reason: z.string().max(500).optional() }),
  'm.reaction.add': z.object({ target, key: reactionKeySchema }),
  'm.reaction.remove': z.object({ target, key: reactionKeySchema }),
  'm.member.invite': z.object({ membership: z.literal('invite'), expires_at: z.number().int().positive(), room_name: roomNameSchema.optional() }),
  // display_name: the joiner's display name (older nodes' z.object strips it: they accept and ignore it).
  'm.member.join': z.object({
    membership: z.literal('join'), role: z.enum(['owner', 'member']).optional(), room_name: roomNameSchema.optional(), display_name: displayNameSchema.optional(),
  }),
  'm.member.leave': z.object({ membership: z.literal('leave'), reason: z.string().max(MAX_REASON_CHARS).optional() }),
  // Issue #20: moderation. A ban is a removal that also keeps the user out until an unban;
  // a role event makes a member a moderator (or a member again). state_key: the user concerned.
  'm.member.ban': z.object({ membership: z.literal('ban'), reason: z.string().max(MAX_REASON_CHARS).optional() }),
  'm.member.unban': z.object({ membership: z.literal('leave'), reason: z.string().max(MAX_REASON_CHARS).optional() }),
  'm.room.role': z.object({ role: z.enum(['moderator', 'member']) }),
} as const;

/**
 * The content of the commonest event, checked without zod's copy: {body, format?: 'plain'} and
 * any extra fields. Whatever this does not accept, CONTENT_SCHEMAS decides (and explains).
 */
export function isWellFormedMessageContent(content: Record<string, unknown>): boolean {
  const { body, format } = content;
  return (
    isJsonObject(content) && typeof body === 'string' && body.length > 0 && atMostCodePoints(body, MAX_BODY_CHARS) && (format === undefined || format === 'plain')
  );
}

export type RoomEventType = keyof typeof CONTENT_SCHEMAS;

/**
 * Size of an event's content (canonical JSON, UTF-8 bytes) per type. Messages and edits leave
 * room for a 4000-character body (≤ 24 KB even when every character is escaped) plus the
 * reference server's extra fields (guild/channel ids and names, attachments); everything else
 * is small. Unknown types (refused by a host, but possibly relayed) get the message bound.
 */
export const MAX_CONTENT_BYTES = MAX_EVENT_CONTENT_BYTES;
export const MAX_SMALL_CONTENT_BYTES = 8 * 1024;
const CONTENT_BYTES: Record<string, number> = {
  'm.message': MAX_CONTENT_BYTES,
  'm.message.edit': MAX_CONTENT_BYTES,
  'm.message.delete': MAX_SMALL_CONTENT_BYTES,
  'm.reaction.add': MAX_SMALL_CONTENT_BYTES,
  'm.reaction.remove': MAX_SMALL_CONTENT_BYTES,
  'm.member.invite': MAX_SMALL_CONTENT_BYTES,
  'm.member.join': MAX_SMALL_CONTENT_BYTES,
  'm.member.leave': MAX_SMALL_CONTENT_BYTES,
  'm.member.ban': MAX_SMALL_CONTENT_BYTES,
  'm.member.unban': MAX_SMALL_CONTENT_BYTES,
  'm.room.role': MAX_SMALL_CONTENT_BYTES,
};

/** Top-level content fields beyond a type's known ones (the reference's guild_id, channel_id, …). */
export const MAX_EXTRA_CONTENT_FIELDS = 12;

/** Throws contentBulkError's error (the ingest hook every inbound event passes). */
export function checkContentBulk(event: { event_type: string; content: Record<string, unknown> }, contentBytes: number): void {
  const error = contentBulkError(event.event_type, event.content, contentBytes);
  if (error) throw error;
}

/** Largest content of an event type, in canonical JSON bytes. */
export function maxContentBytes(eventType: string): number {
  // Own keys only: a peer's event_type such as "constructor" must not find Object.prototype's.
  return ownValue(CONTENT_BYTES, eventType) ?? MAX_CONTENT_BYTES;
}

/**
 * Bulk checks every server makes on every event it receives, before the signature check
 * (refusing costs nothing): the content's canonical size and the number of unknown top-level
 * fields. 413 `content_too_large` / 400 `invalid_content`; null when the content is fine.
 */
export function contentBulkError(eventType: string, content: Record<string, unknown>, contentBytes: number): HttpError | null {
  const max = maxContentBytes(eventType);
  if (contentBytes > max) {
    return new HttpError(413, 'content_too_large', `${eventType} content is ${contentBytes} bytes; at most ${max} are accepted`);
  }
  const known = ownValue(KNOWN_FIELDS, eventType);
  if (known) {
    let extra = 0;
    for (const field in content) if (!known.has(field)) extra++;
    if (extra > MAX_EXTRA_CONTENT_FIELDS) {
      return badRequest('invalid_content', `${eventType} content has ${extra} unknown fields; at most ${MAX_EXTRA_CONTENT_FIELDS} are accepted`);
    }
  }
  return null;
}
export const ROOM_EVENT_TYPES = Object.keys(CONTENT_SCHEMAS) as RoomEventType[];
const KNOWN_FIELDS: Record<string, ReadonlySet<string>> = Object.fromEntries(
  ROOM_EVENT_TYPES.map((type) => [type, new Set(Object.keys(CONTENT_SCHEMAS[type].shape))]),
);
export const MEMBERSHIP_TYPES: ReadonlySet<string> = new Set(['m.member.invite', 'm.member.join', 'm.member.leave', 'm.member.ban', 'm.member.unban']);
export const RELATION_TYPES: ReadonlySet<string> = new Set(['m.message.edit', 'm.message.delete', 'm.reaction.add', 'm.reaction.remove']);

export function isRoomEventType(type: string): type is RoomEventType {
  return Object.hasOwn(CONTENT_SCHEMAS, type);
}

/** Display order of events: (depth, origin_server, event_id), shared with the UI. */
export { compareDisplayOrder } from '../../../shared/display-order.ts';
