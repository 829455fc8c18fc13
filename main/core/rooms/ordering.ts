/**
 * Who owns the order of a room (issue #14, items 1 and 2; docs/PROTOCOL.md "Ordering"). Depth
 * is signed by the event's origin, so the host cannot rewrite it: the host checks it when it
 * first accepts an event into a room it hosts, and refuses what would place the event far in
 * the future (bricking the room clock) or before history it has already accepted. Servers that
 * receive events relayed by the host do not second-guess its order, but never let a relayed
 * depth move their own room clock beyond their clock plus the skew (the next local depth,
 * max(now, last + 1), must stay a safe integer forever).
 */
import { HttpError, badRequest } from '../errors.ts';

/** How far another server's clock may be ahead of or behind ours. */
export const MAX_CLOCK_SKEW_MS = 60_000;
/** Default for NodeConfig.reorderWindowMs: how far behind the room's latest depth an event may be placed. */
export const DEFAULT_REORDER_WINDOW_MS = 60_000;
/**
 * How long after it was signed (its origin_ts) a room's host still takes an event: the protocol's
 * minute. PARACORD_TEST_EVENT_MAX_AGE_MS (tests only, set alike on every node of a test: 2,000 to
 * 59,999) makes it shorter, never longer, so a test of an event that waited too long for its host
 * waits seconds, not a minute.
 */
export const MAX_EVENT_AGE_MS = eventMaxAge(process.env.PARACORD_TEST_EVENT_MAX_AGE_MS);
/**
 * Where no refusal comes back to a member (its event pulled by the host, or taken from a
 * mailbox), the member signs its own event again once it is this old: half the host's limit, so
 * that clocks apart and the time between two looks do not hide one.
 */
export const RESIGN_AFTER_MS = MAX_EVENT_AGE_MS / 2;

/** The host's limit from its setting (a minute unless a shorter one in range is set). */
export function eventMaxAge(setting: string | undefined): number {
  const ms = /^[0-9]{4,5}$/.test(setting ?? '') ? Number(setting) : NaN;
  return ms >= 2_000 && ms < MAX_CLOCK_SKEW_MS ? ms : MAX_CLOCK_SKEW_MS;
}

/** Members refuse a relayed depth this far ahead of their own clock (no honest host makes one). */
export const RELAYED_MAX_FUTURE_MS = 24 * 3600_000;

interface Ordered {
  depth: number;
  origin_ts: number;
}

/**
 * The host's check of an event it accepts into a room it hosts (from its origin, or made here).
 * `roomDepth` is the room's last depth; throws 400 `depth_in_future` or 409 `depth_too_old`
 * (with `room_depth`, so the origin can re-issue the event after it).
 */
export function checkHostOrdering(event: Ordered, roomDepth: number, now: number, reorderWindowMs: number): void {
  // The room clock may run ahead of the wall clock by one step per event (hybrid logical clock).
  const latest = Math.max(now + MAX_CLOCK_SKEW_MS, roomDepth + 1);
  if (!Number.isSafeInteger(event.depth) || event.depth > latest) {
    throw badRequest('depth_in_future', `depth ${event.depth} is more than ${MAX_CLOCK_SKEW_MS / 1000} s ahead of the room host's clock`);
  }
  if (!Number.isSafeInteger(event.origin_ts) || event.origin_ts > now + MAX_CLOCK_SKEW_MS) {
    throw badRequest('depth_in_future', `origin_ts ${event.origin_ts} is more than ${MAX_CLOCK_SKEW_MS / 1000} s ahead of the room host's clock`);
  }
  if (event.depth < roomDepth - reorderWindowMs) {
    throw depthTooOld(`depth ${event.depth} would place the event more than ${reorderWindowMs} ms before the room's latest event`, roomDepth);
  }
  if (event.origin_ts < now - MAX_EVENT_AGE_MS) {
    throw depthTooOld(`origin_ts ${event.origin_ts} is more than ${MAX_EVENT_AGE_MS / 1000} s behind the room host's clock; sign the event again`, roomDepth);
  }
}

function depthTooOld(message: string, roomDepth: number): HttpError {
  return new HttpError(409, 'depth_too_old', `${message} (room depth ${roomDepth})`, {}, { room_depth: roomDepth });
}

/** A member's check of an event relayed by the room's host: only what no honest host sends. */
export function checkRelayedOrdering(event: Ordered, now: number): void {
  if (!Number.isSafeInteger(event.depth) || event.depth > now + RELAYED_MAX_FUTURE_MS) {
    throw badRequest('depth_in_future', `depth ${event.depth} is more than a day ahead of this server's clock`);
  }
}

/**
 * What an applied event may raise the room clock to: its depth, but never beyond the local
 * clock plus the skew (or one step past the clock's current value, as the host's own events do).
 */
export function clockAfter(lastDepth: number, eventDepth: number, now: number): number {
  return Math.max(lastDepth, Math.min(eventDepth, Math.max(now + MAX_CLOCK_SKEW_MS, lastDepth + 1)));
}

/** The host's room depth a member may adopt from a `depth_too_old` answer (null: not believable). */
export function believableRoomDepth(value: unknown, now: number): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value <= now + MAX_CLOCK_SKEW_MS ? value : null;
}
