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
  // The other members, as own properties whatever their names (`rest[key] = …` with `__proto__` would set a prototype).
  const rest = Object.entries(value).filter(([key, member]) => !seen.has(key) && member !== undefined);
  if (rest.length > 0) {
    const tail = canonicalJson(Object.fromEntries(rest)).slice(1, -1);
    parts.push(tail);
  }
  return `{${parts.join(',')}}`;
}

export const ENVELOPE_WIRE_ORDER = [
  'event_id', 'room_id', 'event_type', 'sender', 'origin_server', 'origin_ts', 'content', 'depth', 'state_key', 'signatures',
] as const;
export const INVITE_WIRE_ORDER = ['origin_server', 'room_id', 'sender', 'max_age_seconds'] as const;
export const MEMBERSHIP_WIRE_ORDER = ['origin_server', 'room_id', 'user_id'] as const;
