import { randomBytes } from 'node:crypto';
import { newSnowflake } from '../federation/reference/vocabulary.ts';
import { randomBase64url } from '../crypto/random-pool.ts';

/** The base64url characters in ASCII order: text made with them sorts like the numbers it encodes. */
const SORTABLE = '-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';

/** Milliseconds as 8 sortable characters (48 bits). */
function sortableTime(ms: number): string {
  let out = '';
  for (let i = 7; i >= 0; i--) out += SORTABLE[Math.floor(ms / 2 ** (6 * i)) % 64];
  return out;
}

/**
 * `$<opaque>:<server>` — 24 characters of the id grammar: the creation time in sortable form
 * (8) then 12 random bytes (16, base64url). Opaque to everyone else; here, ids made close in
 * time sit next to each other in every index keyed by event id, so storing a burst of events
 * touches a few index pages instead of one random page per event and index (issue #17: the
 * commit of a batch of random ids wrote several KiB of index pages per event).
 */
export function newEventId(serverName: string, now = Date.now()): string {
  return `$${sortableTime(now)}${randomBase64url(12)}:${serverName}`;
}

/**
 * `!<snowflake>:<server>`: a canonical positive i64 in decimal, so a Paracord reference can mirror
 * the room (it keys mirrors by an i64 guild id parsed from the local part: federation.rs:260-270).
 */
export function newRoomId(serverName: string): string {
  return `!${newSnowflake()}:${serverName}`;
}

export function newInviteId(): string {
  return `inv_${randomBytes(12).toString('base64url')}`;
}
