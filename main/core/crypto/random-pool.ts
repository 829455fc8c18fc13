/**
 * Random bytes for identifiers made per event (event ids, message snowflakes): one
 * `randomFillSync` of 4 KiB serves a few hundred ids, instead of one system call each (issue
 * #17: ~25 µs per sent message went to two small `randomBytes` calls). The bytes are the same
 * CSPRNG output; each is handed out once and turned into text at once (never a view kept).
 * Secrets (tokens, keys) keep using `randomBytes` directly.
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.alloc(POOL_BYTES);
let offset = POOL_BYTES;

function take(bytes: number): number {
  if (bytes > POOL_BYTES) throw new RangeError(`at most ${POOL_BYTES} pooled random bytes at a time`);
  if (offset + bytes > POOL_BYTES) {
    randomFillSync(pool);
    offset = 0;
  }
  const at = offset;
  offset += bytes;
  return at;
}

/** `bytes` fresh random bytes as base64url text. */
export function randomBase64url(bytes: number): string {
  const at = take(bytes);
  const text = pool.toString('base64url', at, at + bytes);
  pool.fill(0, at, at + bytes);
  return text;
}

/** A fresh random unsigned integer of `bytes` bytes (at most 6). */
export function randomUint(bytes: number): number {
  const at = take(bytes);
  const value = pool.readUIntBE(at, bytes);
  pool.fill(0, at, at + bytes);
  return value;
}
