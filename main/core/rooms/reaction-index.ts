/**
 * Current reactions per (room, target message, sender, key), kept as events are applied
 * (issue #14 item 4). Like membership, each entry follows the reaction event with the greatest
 * display key (depth, origin_server, event_id), so it is exactly the fold of adds and removes in
 * display order, whatever order they arrived in — but authorizing a reaction and aggregating a
 * page of messages are index lookups instead of a fold over every reaction of the message.
 */
import type { Envelope } from '../federation/envelope.ts';
import type { Db } from '../store/database.ts';
import { compareDisplayOrder } from './event-types.ts';

/** Distinct reaction keys one user may have on one message at once. */
export const DEFAULT_MAX_REACTIONS_PER_USER_PER_MESSAGE = 20;

interface ReactionRow {
  present: number;
  event_id: string;
  event_depth: number;
  event_origin: string;
}

export class ReactionIndex {
  readonly maxPerUserPerMessage: number;
  private readonly db: Db;
  private readonly getStmt;
  private readonly countStmt;
  private readonly upsertStmt;

  constructor(db: Db, maxPerUserPerMessage = DEFAULT_MAX_REACTIONS_PER_USER_PER_MESSAGE) {
    this.maxPerUserPerMessage = maxPerUserPerMessage;
    this.getStmt = db.prepare<[string, string, string, string], ReactionRow>(
      'SELECT present, event_id, event_depth, event_origin FROM room_reactions WHERE room_id = ? AND target = ? AND sender = ? AND key = ?',
    );
    this.countStmt = db.prepare<[string, string, string], { n: number }>(
      'SELECT COUNT(*) AS n FROM room_reactions WHERE room_id = ? AND target = ? AND sender = ? AND present = 1',
    );
    this.upsertStmt = db.prepare(
      `INSERT INTO room_reactions (room_id, target, sender, key, present, event_id, event_depth, event_origin)
       VALUES (@room_id, @target, @sender, @key, @present, @event_id, @event_depth, @event_origin)
       ON CONFLICT (room_id, target, sender, key) DO UPDATE SET present = excluded.present, event_id = excluded.event_id,
         event_depth = excluded.event_depth, event_origin = excluded.event_origin`,
    );
    this.db = db;
  }

  /** Whether `sender` currently has reaction `key` on `target`. */
  has(roomId: string, target: string, sender: string, key: string): boolean {
    return this.getStmt.get(roomId, target, sender, key)?.present === 1;
  }

  /** How many distinct keys `sender` currently has on `target` (at most the cap, so cheap). */
  countBySender(roomId: string, target: string, sender: string): number {
    return this.countStmt.get(roomId, target, sender)!.n;
  }

  /** Current reactions of the given messages: target → key → senders (keys and senders sorted). */
  aggregate(roomId: string, targets: readonly string[]): Map<string, Record<string, string[]>> {
    const result = new Map<string, Record<string, string[]>>();
    for (let start = 0; start < targets.length; start += 100) {
      const chunk = targets.slice(start, start + 100);
      const rows = this.db
        .prepare<unknown[], { target: string; key: string; sender: string }>(
          `SELECT target, key, sender FROM room_reactions
           WHERE room_id = ? AND target IN (${chunk.map(() => '?').join(',')}) AND present = 1`,
        )
        .all(roomId, ...chunk);
      for (const row of rows) {
        let byKey = result.get(row.target);
        if (!byKey) result.set(row.target, (byKey = {}));
        (byKey[row.key] ??= []).push(row.sender);
      }
    }
    // The order the read model always had: keys and senders sorted as JavaScript sorts strings.
    for (const [target, byKey] of result) {
      const sorted: Record<string, string[]> = {};
      for (const key of Object.keys(byKey).sort()) sorted[key] = byKey[key]!.sort();
      result.set(target, sorted);
    }
    return result;
  }

  /** Applies a reaction event (inside the storing transaction); other events are ignored. */
  apply(event: Envelope): void {
    if (event.event_type !== 'm.reaction.add' && event.event_type !== 'm.reaction.remove') return;
    const { target, key } = event.content as { target?: unknown; key?: unknown };
    if (typeof target !== 'string' || typeof key !== 'string') return;
    const existing = this.getStmt.get(event.room_id, target, event.sender, key);
    if (existing && compareDisplayOrder({ depth: existing.event_depth, origin_server: existing.event_origin, event_id: existing.event_id }, event) >= 0) {
      return; // a later add or remove (in display order) already decided this reaction
    }
    this.upsertStmt.run({
      room_id: event.room_id, target, sender: event.sender, key, present: event.event_type === 'm.reaction.add' ? 1 : 0,
      event_id: event.event_id, event_depth: event.depth, event_origin: event.origin_server,
    });
  }
}
