import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';

/**
 * Rate-limited warnings for lines a peer can cause (catch-up, delivery and verification
 * failures, refused connections): per `key` (peer and cause), the first `perWindow` lines of
 * each window are logged; the rest are counted and summarized as one
 * `suppressed N similar lines` line when the window ends.
 */
export const LOG_WINDOW_MS = 60_000;
export const LOG_LINES_PER_WINDOW = 5;

interface Tally {
  started: number;
  logged: number;
  suppressed: number;
  event: unknown;
}

class LineLimiter {
  private readonly tallies: LRUCache<string, Tally>;
  private timer: NodeJS.Timeout | null = null;
  private readonly log: Logger;
  private readonly windowMs: number;
  private readonly perWindow: number;

  constructor(log: Logger, windowMs: number, perWindow: number) {
    this.log = log;
    this.windowMs = windowMs;
    this.perWindow = perWindow;
    this.tallies = new LRUCache<string, Tally>({
      max: 2_000,
      // A key pushed out with lines still untold is summarized, not forgotten.
      dispose: (tally, key, reason) => {
        if (reason === 'evict') this.summarize(key, tally);
      },
    });
  }

  warn(key: string, fields: Record<string, unknown>, message: string, now = Date.now(), level: 'warn' | 'info' = 'warn'): void {
    let tally = this.tallies.get(key);
    if (tally && now - tally.started >= this.windowMs) {
      this.summarize(key, tally);
      tally = undefined;
    }
    if (!tally) {
      tally = { started: now, logged: 0, suppressed: 0, event: fields.event };
      this.tallies.set(key, tally);
    }
    if (tally.logged < this.perWindow) {
      tally.logged++;
      this.log[level](fields, message);
      return;
    }
    tally.suppressed++;
    this.schedule();
  }

  private summarize(key: string, tally: Tally): void {
    if (tally.suppressed === 0) return;
    this.log.warn(
      { event: 'log_suppressed', key, suppressed_event: tally.event, suppressed: tally.suppressed, window_s: Math.round(this.windowMs / 1000) },
      `suppressed ${tally.suppressed} similar lines`,
    );
    tally.suppressed = 0;
  }

  /** Tells every count still untold (the node is stopping: nothing is lost from the log). */
  flush(): void {
    for (const [key, tally] of [...this.tallies.entries()]) this.summarize(key, tally);
  }

  /** Ends windows that saw suppressed lines even if their key goes quiet. */
  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = Date.now();
      let pending = false;
      for (const [key, tally] of [...this.tallies.entries()]) {
        if (now - tally.started >= this.windowMs) {
          this.summarize(key, tally);
          this.tallies.delete(key);
        } else if (tally.suppressed > 0) pending = true;
      }
      if (pending) this.schedule();
    }, this.windowMs);
    this.timer.unref();
  }
}

const limiters = new WeakMap<Logger, LineLimiter>();

function limiterOf(log: Logger): LineLimiter {
  let limiter = limiters.get(log);
  if (!limiter) {
    limiter = new LineLimiter(log, LOG_WINDOW_MS, LOG_LINES_PER_WINDOW);
    limiters.set(log, limiter);
  }
  return limiter;
}

/**
 * `log.warn`, at most LOG_LINES_PER_WINDOW lines per `key` per window (see LineLimiter). Every
 * line a peer can cause once per event, request or answer goes through this (or infoLimited),
 * keyed by the peer and the cause (docs/SECURITY.md, item 9).
 */
export function warnLimited(log: Logger, key: string, fields: Record<string, unknown>, message: string): void {
  limiterOf(log).warn(key, fields, message);
}

/** `log.info` with the same limit as warnLimited (the suppressed-lines summary is a warning). */
export function infoLimited(log: Logger, key: string, fields: Record<string, unknown>, message: string): void {
  limiterOf(log).warn(key, fields, message, Date.now(), 'info');
}

/** Logs the suppressed-lines summaries still pending (when the node stops). */
export function flushLimited(log: Logger): void {
  limiters.get(log)?.flush();
}

/** A limiter with its own window, for tests and for callers that need another pace. */
export function lineLimiter(log: Logger, windowMs: number, perWindow: number): { warn(key: string, fields: Record<string, unknown>, message: string): void } {
  return new LineLimiter(log, windowMs, perWindow);
}
