/**
 * Pacing of pushes to peers that accept at most N events per window (docs/PROTOCOL.md "Interop
 * with the Paracord reference"): the reference v0.8.5 counts every `POST /event` per transport
 * origin in fixed wall-clock minutes and answers 429 past 120 (federation.rs:788-806,
 * `federation_max_events_per_peer_per_minute`, config.rs:578-580), with no Retry-After.
 *
 * One window of the last N attempt times per paced destination. An attempt's time is taken when
 * its answer came back (the latest moment the peer can have counted it), and a new attempt
 * starts only when fewer than N of those lie within the last window: then any N+1 consecutive
 * arrivals there span at least one window, so no fixed window of that length on the peer's clock
 * holds more than N, whatever the two clocks' alignment. A 429 is the peer saying its window is
 * full after all (another sender under our name, a restart that forgot our history): the
 * destination waits for the Retry-After it gave, or else for the start of the next wall-clock
 * window (the reference's windows are unix minutes), and the entry is not counted as failed.
 */

export interface PacingLimit {
  /** Attempts allowed per window. */
  events: number;
  windowMs: number;
}

/** Defaults of NodeConfig `referencePushPerMinute` / `referencePushWindowMs`. */
export const DEFAULT_REFERENCE_PUSH_LIMIT: PacingLimit = { events: 120, windowMs: 60_000 };
/** A Retry-After longer than this is not believed (a peer cannot park our queue for a day). */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

export class PushPacer {
  /** The limit of a destination, or null when it is not paced. */
  private readonly limitOf: (destination: string) => PacingLimit | null;
  private readonly sent = new Map<string, number[]>();
  private readonly blockedUntil = new Map<string, number>();

  constructor(limitOf: (destination: string) => PacingLimit | null) {
    this.limitOf = limitOf;
  }

  /** Milliseconds to wait before the next attempt to `destination` (0: go now). */
  delay(destination: string, now = Date.now()): number {
    const limit = this.limitOf(destination);
    if (!limit) return 0;
    const blocked = (this.blockedUntil.get(destination) ?? 0) - now;
    if (blocked > 0) return blocked;
    const times = this.window(destination, limit, now);
    if (times.length < limit.events) return 0;
    // The oldest of the last N leaves the window at times[length - N] + window.
    return Math.max(1, times[times.length - limit.events]! + limit.windowMs - now);
  }

  /** Records `count` attempts whose answer came back at `now` (paced destinations only). */
  record(destination: string, count: number, now = Date.now()): void {
    const limit = this.limitOf(destination);
    if (!limit) return;
    const times = this.window(destination, limit, now);
    for (let i = 0; i < count; i++) times.push(now);
    if (times.length > limit.events) times.splice(0, times.length - limit.events);
  }

  /**
   * The destination answered 429: wait `retryAfterMs` when it said so (bounded), else until the
   * next wall-clock window starts. Answers when the next attempt may start; null when the
   * destination is not paced (its 429 is then an ordinary retry).
   */
  refused(destination: string, retryAfterMs: number | undefined, now = Date.now()): number | null {
    const limit = this.limitOf(destination);
    if (!limit) return null;
    const wait = retryAfterMs !== undefined ? Math.min(retryAfterMs, MAX_RETRY_AFTER_MS) : limit.windowMs - (now % limit.windowMs) + Math.ceil(limit.windowMs / 60);
    const until = now + Math.max(1, wait);
    this.blockedUntil.set(destination, until);
    return until;
  }

  private window(destination: string, limit: PacingLimit, now: number): number[] {
    let times = this.sent.get(destination);
    if (!times) {
      if (this.sent.size >= 10_000) this.sent.clear();
      times = [];
      this.sent.set(destination, times);
    }
    let expired = 0;
    while (expired < times.length && times[expired]! <= now - limit.windowMs) expired++;
    if (expired > 0) times.splice(0, expired);
    return times;
  }
}
