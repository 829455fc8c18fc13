import { canonicalJson } from '../crypto/canonical-json.ts';

/**
 * Serializes a body the way the reference server re-serializes it before hashing: compact,
 * top-level members in the given (struct) order, every nested value canonical. Members not
 * named in `order` follow in code point order; undefined members are left out.
 */
export function wireJson(value: Record<string, unknown>, order: readonly string[]): string {
  const parts: string[] = [];
  const seen = new Set(order);
  for (const key of order) {
    if (value[key] === undefined) continue;
    parts.push(`${JSON.stringify(key)}:${canonicalJson(value[key])}`);
  }
  const rest: Record<string, unknown> = {};
  let hasRest = false;
  for (const key of Object.keys(value)) {
    if (!seen.has(key) && value[key] !== undefined) {
      rest[key] = value[key];
      hasRest = true;
    }
  }
  if (hasRest) {
    const tail = canonicalJson(rest).slice(1, -1);
    parts.push(tail);
  }
  return `{${parts.join(',')}}`;
}

export const ENVELOPE_WIRE_ORDER = [
  'event_id', 'room_id', 'event_type', 'sender', 'origin_server', 'origin_ts', 'content', 'depth', 'state_key', 'signatures',
] as const;
export const INVITE_WIRE_ORDER = ['origin_server', 'room_id', 'sender', 'max_age_seconds'] as const;
export const MEMBERSHIP_WIRE_ORDER = ['origin_server', 'room_id', 'user_id'] as const;
