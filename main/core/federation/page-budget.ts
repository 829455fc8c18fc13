/**
 * Pages bounded in bytes as well as in count (docs/PROTOCOL.md "Pages"): the largest answer our
 * federation client reads, defined once, and the budget every page this node serves stays within
 * (join snapshot, catch-up, pull, the admin API's message pages and search), so that a page of
 * events within the content limits is never too large for the node that asked for it.
 */

/** The largest answer body our federation client reads (http-client.ts); larger ones fail. */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/**
 * The largest history page we read from a Paracord reference 3.x: its GET /events answers up to
 * 7 MiB of events (crates/paracord-api/src/routes/federation.rs @e6f874b0, MAX_HISTORY_RESPONSE_BYTES)
 * and its own client reads 8 MiB (client.rs, MAX_EVENTS_RESPONSE_BYTES). Only that call reads so much.
 */
export const REFERENCE_HISTORY_MAX_BYTES = 8 * 1024 * 1024;

/** What the items of one page may take: the answer's other fields and framing fit in the rest. */
export const PAGE_BYTES = MAX_RESPONSE_BYTES - 256 * 1024;

/**
 * The longest prefix of `items` whose sizes add up to at most `budget`, and whether it had to stop
 * before the end. The first item is always taken (one event is far below any page budget): a
 * page always moves forward.
 */
export function withinBytes<T>(items: readonly T[], sizeOf: (item: T) => number, budget: number = PAGE_BYTES): { items: T[]; bytes: number; cut: boolean } {
  let bytes = 0;
  for (let i = 0; i < items.length; i++) {
    const size = sizeOf(items[i]!);
    if (i > 0 && bytes + size > budget) return { items: items.slice(0, i), bytes, cut: true };
    bytes += size;
  }
  return { items: items.slice(), bytes, cut: false };
}

/** Bytes of a string in UTF-8 (what it takes on the wire), without encoding it. */
export function utf8Bytes(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

// eslint-disable-next-line no-control-regex -- the characters JSON escapes
const ESCAPED = /["\\\u0000-\u001f]/g;

/** Bytes of a string as a JSON string in an answer: UTF-8, quotes, and its escapes (`\u0001` is six). */
export function jsonStringBytes(text: string): number {
  let bytes = utf8Bytes(text) + 2;
  for (const [char] of text.matchAll(ESCAPED)) bytes += char === '"' || char === '\\' ? 1 : 5;
  return bytes;
}
