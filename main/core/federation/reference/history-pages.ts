/**
 * A page of a room's history polled from a reference peer (reference-poller.ts), taken: each event
 * checked and stored (polled-events.ts), and the room's cursor moved past what the page served —
 * v0.8.5's `depth >` cursor (takeDepthPage) or a 3.x's own position (takeCursorPage).
 */
import type { Db } from '../../store/database.ts';
import type { PolledEvents } from './polled-events.ts';

/** A room's cursor on a reference peer (reference_poll_cursors, its event id in reference_poll_cursor_ids). */
export interface CursorRow {
  server_name: string;
  room_id: string;
  since_depth: number;
  since_event_id: string | null;
  failures: number;
  next_at: number;
  last_error: string | null;
}

/** What taking a page needs: the database (its cursors), our server's name, the events' checks, whether the poller is stopping. */
export interface PageContext {
  db: Db;
  serverName: () => string;
  events: PolledEvents;
  /**
   * True once the node stops: the page is left before its next event, its cursor after the last
   * one taken (a hostile peer's page of 500 events, each waiting for a key refetch it answers
   * slowly, held shutdown for hours: a red team, 2026-12-01).
   */
  stopping: () => boolean;
}

/**
 * A v0.8.5 page (`depth >` the cursor, lib.rs:712-719): a full page may end inside a group of
 * equal depths, so the next ask starts just below the last depth (the copies we already have are
 * acknowledged as such), unless that would not move. `events`: at most `limit`.
 */
export async function takeDepthPage(c: PageContext, peer: string, roomId: string, cursor: CursorRow, events: unknown[], limit: number): Promise<PolledPage> {
  let stored = 0;
  let lastDepth = cursor.since_depth;
  let halted: string | null = null;
  let offered = 0;
  let taken = 0;
  let stopped = false;
  // When the page was answered: its depths are origin_ts.
  const answeredAt = Date.now();
  for (const raw of events) {
    const depth = (raw as { depth?: unknown } | null)?.depth;
    // Not what was asked (`depth >` the cursor): not checked at all (served again, it would be
    // checked again every round).
    if (typeof depth !== 'number' || !Number.isSafeInteger(depth) || depth <= cursor.since_depth) continue;
    // The node stops: the cursor stays before this event (and any of its depth taken already).
    if ((stopped = c.stopping())) {
      lastDepth = Math.max(cursor.since_depth, Math.min(lastDepth, depth - 1));
      break;
    }
    const before = lastDepth;
    // The cursor moves to the depths served, but not to one dated after the page was answered: an
    // event dated ahead (any server's, once its host took it) would otherwise move the cursor past
    // the room's later events for good, although it is refused here (depth_in_future). One a
    // little ahead that was taken is served again until the host's clock passes it, and is known.
    if (depth <= answeredAt && depth > lastDepth) lastDepth = depth;
    const origin = (raw as { origin_server?: unknown } | null)?.origin_server;
    if (origin === c.serverName()) continue; // our own events, as it stored them
    const outcome = await c.events.take(peer, roomId, raw, origin);
    if (outcome !== 'honest') offered++;
    if (outcome === 'stored') stored++;
    if (outcome === 'stored' || outcome === 'known') taken++;
    // Signed with a new key the owner has not confirmed yet, or over a storage quota here: the
    // cursor stops before it, so the room resumes from here once the key is confirmed or the
    // quota allows (as its own poller stops at what did not verify, and our catch-up at the quota).
    if (typeof outcome === 'object') {
      lastDepth = Math.max(cursor.since_depth, Math.min(before, depth - 1));
      halted = outcome.halt;
      break;
    }
  }
  const full = events.length >= limit && halted === null && !stopped;
  const nextDepth = full && lastDepth - 1 > cursor.since_depth ? lastDepth - 1 : lastDepth;
  c.db
    .prepare('UPDATE reference_poll_cursors SET since_depth = MAX(since_depth, ?), failures = 0, next_at = 0, last_error = ? WHERE server_name = ? AND room_id = ?')
    .run(nextDepth, halted, peer, roomId);
  return { stored, more: false, offered, taken, halted: halted !== null };
}

/**
 * A 3.x page: it scans in (depth, event_id) order and answers the position of the last event it
 * scanned, also past events it filtered out for us. Its cursor is kept unless an event waits for
 * the owner to confirm a new key (then the position of the last one taken); it never moves back.
 * More may follow while it moves.
 */
export async function takeCursorPage(c: PageContext, peer: string, roomId: string, cursor: CursorRow, events: unknown[], next: HistoryPosition): Promise<PolledPage> {
  let stored = 0;
  let offered = 0;
  let taken = 0;
  const asked: HistoryPosition = { depth: cursor.since_depth, event_id: cursor.since_event_id };
  let last: HistoryPosition = asked;
  let halted: string | null = null;
  let stopped = false;
  for (const raw of events) {
    if ((stopped = c.stopping())) break;
    const position = positionOf(raw);
    // Not after the cursor asked from: not what was asked, not checked (served again and again,
    // it would be checked every page).
    if (!position || !isAfter(position, asked)) continue;
    const origin = (raw as { origin_server?: unknown } | null)?.origin_server;
    if (origin !== c.serverName()) {
      const outcome = await c.events.take(peer, roomId, raw, origin);
      if (outcome !== 'honest') offered++; // as on a v0.8.5 page
      if (outcome === 'stored') stored++;
      if (outcome === 'stored' || outcome === 'known') taken++;
      if (typeof outcome === 'object') {
        halted = outcome.halt;
        break;
      }
    }
    if (isAfter(position, last)) last = position;
  }
  // Past every event it served (its own cursor stays behind none of them, honestly): the same
  // events cannot be served again.
  const target = halted === null && !stopped ? (isAfter(last, next) ? last : next) : last;
  const moved = isAfter(target, { depth: cursor.since_depth, event_id: cursor.since_event_id });
  c.db.transaction(() => {
    c.db
      .prepare('UPDATE reference_poll_cursors SET since_depth = ?, failures = 0, next_at = 0, last_error = ? WHERE server_name = ? AND room_id = ?')
      .run(moved ? target.depth : cursor.since_depth, halted, peer, roomId);
    if (!moved) return;
    if (target.event_id === null) c.db.prepare('DELETE FROM reference_poll_cursor_ids WHERE server_name = ? AND room_id = ?').run(peer, roomId);
    else {
      c.db
        .prepare('INSERT INTO reference_poll_cursor_ids (server_name, room_id, since_event_id) VALUES (?, ?, ?) ON CONFLICT (server_name, room_id) DO UPDATE SET since_event_id = excluded.since_event_id')
        .run(peer, roomId, target.event_id);
    }
  })();
  return { stored, more: moved && halted === null, offered, taken, halted: halted !== null };
}

/** A position in a 3.x room's history: (depth, event_id), event ids in byte order (lib.rs list_room_events_after @e6f874b0). */
export interface HistoryPosition {
  depth: number;
  event_id: string | null;
}

/** next_depth / next_event_id of a 3.x answer; null when absent (v0.8.5), 'invalid' when not a cursor. */
export function readHistoryCursor(json: unknown): HistoryPosition | null | 'invalid' {
  const answer = json as { next_depth?: unknown; next_event_id?: unknown };
  if (answer.next_depth === undefined && answer.next_event_id === undefined) return null;
  const depth = answer.next_depth;
  const id = answer.next_event_id ?? null;
  if (typeof depth !== 'number' || !Number.isSafeInteger(depth) || depth < 0) return 'invalid';
  if (id !== null && (typeof id !== 'string' || id.length === 0 || id.length > 255)) return 'invalid';
  return { depth, event_id: id };
}

/** One page polled: events stored, offered (checked), taken (stored or held already); whether it halted the room; whether more follows. */
export interface PolledPage {
  stored: number;
  offered: number;
  taken: number;
  halted: boolean;
  more: boolean;
}

export const NOTHING_POLLED: PolledPage = Object.freeze({ stored: 0, offered: 0, taken: 0, halted: false, more: false });

/** Where an event sits in a 3.x room's history (depth 0 sorts by its origin_ts). */
function positionOf(raw: unknown): HistoryPosition | null {
  const e = raw as { depth?: unknown; origin_ts?: unknown; event_id?: unknown } | null;
  const depth = e?.depth === 0 ? e.origin_ts : e?.depth;
  if (typeof depth !== 'number' || !Number.isSafeInteger(depth) || depth < 0 || typeof e?.event_id !== 'string' || e.event_id.length > 255) return null;
  return { depth, event_id: e.event_id };
}

/** Whether `a` is after `b` in (depth, event_id byte order); an id sorts after none. */
function isAfter(a: HistoryPosition, b: HistoryPosition): boolean {
  if (a.depth !== b.depth) return a.depth > b.depth;
  if (a.event_id === null) return false;
  return b.event_id === null || Buffer.compare(Buffer.from(a.event_id, 'utf8'), Buffer.from(b.event_id, 'utf8')) > 0;
}

