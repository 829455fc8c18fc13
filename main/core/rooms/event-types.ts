/**
 * Event types of rooms and their content schemas (docs/PROTOCOL.md "Event types"). Content
 * may carry extra fields (forward compatibility); the known ones are checked strictly.
 */
import { z } from 'zod';
import { EVENT_ID } from '../../../shared/identifiers.ts';
import { isJsonObject } from '../util/json-object.ts';

export const MAX_BODY_CHARS = 4000;
export const MAX_REACTION_KEY_CHARS = 32;
export const MAX_ROOM_NAME_CHARS = 100;

/** At most `max` characters (code points), counted without building an array of them. */
function atMostCodePoints(s: string, max: number): boolean {
  if (s.length <= max) return true; // never more code points than UTF-16 units
  let count = 0;
  for (let i = 0; i < s.length; i++) {
    const unit = s.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < s.length) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++; // a surrogate pair is one character
    }
    if (++count > max) return false;
  }
  return true;
}

const target = z.string().max(255).regex(EVENT_ID, 'target must be an event id');
const body = z.string().min(1, 'body must not be empty').refine((s) => atMostCodePoints(s, MAX_BODY_CHARS), `body must be at most ${MAX_BODY_CHARS} characters`);
export const reactionKeySchema = z
  .string()
  .min(1, 'reaction key must not be empty')
  .refine((s) => atMostCodePoints(s, MAX_REACTION_KEY_CHARS), `reaction key must be at most ${MAX_REACTION_KEY_CHARS} characters`)
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'reaction key must not contain control characters');
export const roomNameSchema = z.string().trim().min(1, 'room name must not be empty').max(MAX_ROOM_NAME_CHARS);

export const CONTENT_SCHEMAS = {
  'm.message': z.object({ body, format: z.literal('plain').optional() }),
  'm.message.edit': z.object({ target, body }),
  'm.message.delete': z.object({ target, reason: z.string().max(500).optional() }),
  'm.reaction.add': z.object({ target, key: reactionKeySchema }),
  'm.reaction.remove': z.object({ target, key: reactionKeySchema }),
  'm.member.invite': z.object({ membership: z.literal('invite'), expires_at: z.number().int().positive(), room_name: roomNameSchema.optional() }),
  'm.member.join': z.object({ membership: z.literal('join'), role: z.enum(['owner', 'member']).optional(), room_name: roomNameSchema.optional() }),
  'm.member.leave': z.object({ membership: z.literal('leave'), reason: z.string().max(500).optional() }),
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
export const ROOM_EVENT_TYPES = Object.keys(CONTENT_SCHEMAS) as RoomEventType[];
export const MEMBERSHIP_TYPES: ReadonlySet<string> = new Set(['m.member.invite', 'm.member.join', 'm.member.leave']);
export const RELATION_TYPES: ReadonlySet<string> = new Set(['m.message.edit', 'm.message.delete', 'm.reaction.add', 'm.reaction.remove']);

export function isRoomEventType(type: string): type is RoomEventType {
  return Object.hasOwn(CONTENT_SCHEMAS, type);
}

/** Display order of events: (depth, origin_server, event_id). */
export function compareDisplayOrder(
  a: { depth: number; origin_server: string; event_id: string },
  b: { depth: number; origin_server: string; event_id: string },
): number {
  if (a.depth !== b.depth) return a.depth - b.depth;
  if (a.origin_server !== b.origin_server) return a.origin_server < b.origin_server ? -1 : 1;
  return a.event_id < b.event_id ? -1 : a.event_id > b.event_id ? 1 : 0;
}
