/**
 * What a search asks FTS5 (search-index.ts): the query's words, each quoted, in the body's column
 * only, and the rooms it may find them in by their keys (`room_key`: one token a message, so FTS5
 * reads only those rooms' matches). Whatever the user typed is never FTS syntax.
 */
import { createHash } from 'node:crypto';

/** The MATCH expression: every word quoted (a `"` inside doubled), all required. */
export function matchExpression(words: string[]): string {
  return words.map((w) => `"${w.replace(/"/g, '""')}"`).join(' ');
}

/** The most room keys one match names: a user in more rooms is searched a match per this many, merged. */
export const MAX_ROOM_KEYS = 200;

/** A room's token in the index: `r` and 64 bits of its id's SHA-256, in hex (one unicode61 token). */
export function roomKey(roomId: string): string {
  return `r${createHash('sha256').update(roomId).digest('hex').slice(0, 16)}`;
}

/** The words, in the body only, and when given the rooms' keys (any of them): the MATCH expression of a search. */
export function searchExpression(words: string[], roomKeys: readonly string[] | null): string {
  const inBody = `body : (${matchExpression(words)})`;
  return roomKeys === null ? inBody : `${inBody} AND room_key : (${roomKeys.map((k) => `"${k}"`).join(' OR ')})`;
}

/** Room keys computed (the same few rooms for every message folded); forgotten past 1,000. */
export class RoomKeys {
  private readonly keys = new Map<string, string>();

  of(roomId: string): string {
    let key = this.keys.get(roomId);
    if (key === undefined) {
      if (this.keys.size >= 1_000) this.keys.clear();
      key = roomKey(roomId);
      this.keys.set(roomId, key);
    }
    return key;
  }
}
