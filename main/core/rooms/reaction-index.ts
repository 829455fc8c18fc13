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
/** A message's most used reaction keys a page shows (the viewer's own besides). */
export const SHOWN_KEYS = 20;
/** Users named per reaction key on a page (the count says how many in all). */
export const SHOWN_USERS = 10;

/** A message's reactions on a page: the users named per key (at most SHOWN_USERS) and how many in all. */
export interface AggregatedReactions {
  users: Record<string, string[]>;
  counts: Record<string, number>;
}

interface ReactionRow {
  present: number;
  event_id: string;
  event_depth: number;
  event_origin: string;
}

/**
 * The latest add or remove of one (sender, key) on a message before a position (display order):
 * how that reaction stood there. Matches the partial expression index federation_events_reaction_pair
 * (migration 48) term for term, so it is one seek (migrations.test.ts checks the plan).
 */
export const REACTION_PAIR_BELOW_SQL = `SELECT event_type FROM federation_events INDEXED BY federation_events_reaction_pair
  WHERE relates_to = ? AND sender = ? AND json_extract(content, '$.key') = ? AND event_type IN ('m.reaction.add', 'm.reaction.remove')
    AND room_id = ? AND (depth, origin_server, event_id) < (?, ?, ?)
  ORDER BY depth DESC, origin_server DESC, event_id DESC LIMIT 1`;

/** A position in display order (shared/display-order.ts). */
type Position = { depth: number; origin_server: string; event_id: string };

export class ReactionIndex {
  readonly maxPerUserPerMessage: number;
  private readonly db: Db;
  private readonly getStmt;
  private readonly countStmt;
  private readonly upsertStmt;
  private readonly topKeysStmt;
  private readonly ownKeysStmt;
  private readonly countOfKeyStmt;
  private readonly usersOfKeyStmt;
  private readonly countUpStmt;
  private readonly countDownStmt;
  private readonly countDropStmt;

  constructor(db: Db, maxPerUserPerMessage = DEFAULT_MAX_REACTIONS_PER_USER_PER_MESSAGE) {
    this.maxPerUserPerMessage = maxPerUserPerMessage;
    this.db = db;
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
    this.topKeysStmt = db.prepare<[string, string], { key: string; n: number }>(
      `SELECT key, n FROM room_reaction_counts WHERE room_id = ? AND target = ? ORDER BY n DESC, key LIMIT ${SHOWN_KEYS}`,
    );
    this.ownKeysStmt = db.prepare<[string, string, string], string>(
      'SELECT key FROM room_reactions WHERE room_id = ? AND target = ? AND sender = ? AND present = 1',
    ).pluck();
    this.countOfKeyStmt = db.prepare<[string, string, string], number>('SELECT n FROM room_reaction_counts WHERE room_id = ? AND target = ? AND key = ?').pluck();
    this.usersOfKeyStmt = db.prepare<[string, string, string], string>(
      `SELECT sender FROM room_reactions WHERE room_id = ? AND target = ? AND present = 1 AND key = ? ORDER BY sender LIMIT ${SHOWN_USERS}`,
    ).pluck();
    this.countUpStmt = db.prepare<[string, string, string]>(
      'INSERT INTO room_reaction_counts (room_id, target, key, n) VALUES (?, ?, ?, 1) ON CONFLICT (room_id, target, key) DO UPDATE SET n = n + 1',
    );
    this.countDownStmt = db.prepare<[string, string, string]>('UPDATE room_reaction_counts SET n = n - 1 WHERE room_id = ? AND target = ? AND key = ? AND n > 1');
    this.countDropStmt = db.prepare<[string, string, string]>('DELETE FROM room_reaction_counts WHERE room_id = ? AND target = ? AND key = ? AND n <= 1');
  }

  /** Whether `sender` currently has reaction `key` on `target`. */
  has(roomId: string, target: string, sender: string, key: string): boolean {
    return this.getStmt.get(roomId, target, sender, key)?.present === 1;
  }

  /** How many distinct keys `sender` currently has on `target` (at most the cap, so cheap). */
  countBySender(roomId: string, target: string, sender: string): number {
    return this.countStmt.get(roomId, target, sender)!.n;
  }

  /**
   * Current reactions of the given messages, as a page shows them: target → key → count, and a
   * few of the users (sorted) per key. Bounded per message whatever the number of users: the
   * SHOWN_KEYS most used keys (ties by key) and those of `viewer`, SHOWN_USERS users per key and
   * `viewer` among them when it reacted. Each message costs index lookups in room_reaction_counts
   * and room_reactions, never a read of all its reactions.
   */
  aggregate(roomId: string, targets: readonly string[], viewer?: string): Map<string, AggregatedReactions> {
    const result = new Map<string, AggregatedReactions>();
    for (const target of targets) {
      const counts = new Map<string, number>();
      for (const row of this.topKeysStmt.all(roomId, target)) counts.set(row.key, row.n);
      if (counts.size === 0) continue;
      const own = viewer === undefined ? [] : this.ownKeysStmt.all(roomId, target, viewer);
      for (const key of own) if (!counts.has(key)) counts.set(key, this.countOfKeyStmt.get(roomId, target, key) ?? 1);
      const users: Array<[string, string[]]> = [];
      const shownCounts: Array<[string, number]> = [];
      // The order the read model always had: keys and users sorted as JavaScript sorts strings.
      for (const key of [...counts.keys()].sort()) {
        const n = counts.get(key)!;
        const names = this.usersOfKeyStmt.all(roomId, target, key);
        if (viewer !== undefined && n > names.length && own.includes(key) && !names.includes(viewer)) names[names.length - 1] = viewer;
        users.push([key, names.sort()]);
        shownCounts.push([key, n]);
      }
      // A key is a peer's text: made own properties whatever it is (`users[key] = …` with the key
      // `__proto__` would set the object's prototype instead, and the reaction would not show).
      result.set(target, { users: Object.fromEntries(users), counts: Object.fromEntries(shownCounts) });
    }
    return result;
  }

  private allRowsStmt: import('better-sqlite3').Statement<[string, string], ReactionRow & { sender: string; key: string }> | undefined;
  private latestBelowStmt: import('better-sqlite3').Statement<[string, string, string, string, number, string, string], { event_type: string }> | undefined;

  /**
   * The reactions of the given messages as they stood at position `upTo` (display order), shaped
   * as `aggregate` shapes them: what a user who left a room sees of it (reactions added or taken
   * back after its leave would tell what happened after). Each (sender, key) whose deciding event
   * is before `upTo` is taken as it is; one decided after is looked up in the reaction events
   * before `upTo` (its latest there, one index seek). Costs a read of each message's (sender, key)
   * entries and a seek per entry decided after `upTo`, never a read of its reaction events.
   */
  aggregateUpTo(roomId: string, targets: readonly string[], upTo: Position, viewer?: string): Map<string, AggregatedReactions> {
    this.allRowsStmt ??= this.db.prepare('SELECT sender, key, present, event_id, event_depth, event_origin FROM room_reactions WHERE room_id = ? AND target = ?');
    // One seek in federation_events_reaction_pair (migration 48), however many reaction events
    // the message has: the relations index narrowed only by message and type, so each lookup read
    // every reaction event of the message before the cut (5,000 pairs taken back after a cut made
    // one message's page 5 s, the node stopped meanwhile).
    this.latestBelowStmt ??= this.db.prepare(REACTION_PAIR_BELOW_SQL);
    const result = new Map<string, AggregatedReactions>();
    for (const target of targets) {
      const byKey = new Map<string, string[]>();
      for (const row of this.allRowsStmt.all(roomId, target)) {
        const decidedBefore = compareDisplayOrder({ depth: row.event_depth, origin_server: row.event_origin, event_id: row.event_id }, upTo) < 0;
        const present = decidedBefore
          ? row.present === 1
          : this.latestBelowStmt.get(target, row.sender, row.key, roomId, upTo.depth, upTo.origin_server, upTo.event_id)?.event_type === 'm.reaction.add';
        if (present) byKey.set(row.key, [...(byKey.get(row.key) ?? []), row.sender]);
      }
      const shaped = shapeReactions(byKey, viewer);
      if (shaped) result.set(target, shaped);
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
    const present = event.event_type === 'm.reaction.add' ? 1 : 0;
    this.upsertStmt.run({
      room_id: event.room_id, target, sender: event.sender, key, present,
      event_id: event.event_id, event_depth: event.depth, event_origin: event.origin_server,
    });
    // The count follows the reaction's presence (room_reaction_counts, migration 32).
    const was = existing?.present === 1 ? 1 : 0;
    if (present > was) this.countUpStmt.run(event.room_id, target, key);
    else if (present < was && this.countDownStmt.run(event.room_id, target, key).changes === 0) this.countDropStmt.run(event.room_id, target, key);
  }
}

const byCodeUnits = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * key → users who have it, shaped as `aggregate` shapes a page's reactions: the SHOWN_KEYS most
 * used keys (ties by key) and the viewer's, SHOWN_USERS users named per key (sorted), the viewer
 * among them when it has the key.
 */
function shapeReactions(byKey: ReadonlyMap<string, string[]>, viewer: string | undefined): AggregatedReactions | undefined {
  if (byKey.size === 0) return undefined;
  const top = [...byKey.entries()].sort(([ka, a], [kb, b]) => b.length - a.length || byCodeUnits(ka, kb)).slice(0, SHOWN_KEYS).map(([key]) => key);
  const keys = new Set(top);
  if (viewer !== undefined) for (const [key, users] of byKey) if (users.includes(viewer)) keys.add(key);
  const users: Array<[string, string[]]> = [];
  const counts: Array<[string, number]> = [];
  for (const key of [...keys].sort()) {
    const all = byKey.get(key)!.sort(byCodeUnits);
    const names = all.slice(0, SHOWN_USERS);
    if (viewer !== undefined && all.includes(viewer) && !names.includes(viewer)) names[names.length - 1] = viewer;
    users.push([key, names.sort()]);
    counts.push([key, all.length]);
  }
  // Own properties whatever the key is (a peer's text: `__proto__` included).
  return { users: Object.fromEntries(users), counts: Object.fromEntries(counts) };
}
