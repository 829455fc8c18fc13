/**
 * Quarantines with an end time lapse by themselves (the owner's "quarantine for 1 hour"). One
 * timer waits for the soonest end, re-armed whenever a quarantine is set or changed; none runs
 * while no quarantine has an end (issue #36: an idle node polls nothing). A long wait is cut
 * into steps of at most MAX_WAIT_MS, so a clock change cannot postpone an end for good.
 */
import type { TrustStore } from './trust-store.ts';

export const MAX_WAIT_MS = 6 * 3600_000;
/**
 * After a failure (the database could not be read or written: a full disk, an I/O error), the next
 * try waits at least this long: the lapsed quarantine is still there, and its end, in the past,
 * would arm the timer for 0 ms again and again.
 */
export const RETRY_AFTER_FAILURE_MS = 30_000;

export class QuarantineLapses {
  private readonly trust: TrustStore;
  private readonly onLapsed: (server: string) => void;
  private readonly onFailed: (server: string | null, error: unknown) => void;
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  /** After a failure: not tried again before this (0: no failure waiting). */
  private retryAt = 0;
  /** When the timer fires next (null: no timer). */
  next: number | null = null;

  /**
   * `onLapsed` ends a lapsed quarantine (writes it); `onFailed` is told when that, or reading the
   * quarantines, failed (the server, or null for a read): the timer runs from a timer callback, where
   * a throw ended the node, so a failure is told there and tried again after RETRY_AFTER_FAILURE_MS.
   */
  constructor(trust: TrustStore, onLapsed: (server: string) => void, onFailed: (server: string | null, error: unknown) => void = () => {}) {
    this.trust = trust;
    this.onLapsed = onLapsed;
    this.onFailed = onFailed;
  }

  start(): void {
    this.started = true;
    this.fire();
  }

  /** A quarantine was set, changed or ended: the soonest end may have moved. */
  changed(): void {
    if (this.started) this.schedule();
  }

  stop(): void {
    this.started = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.next = null;
  }

  private fire(): void {
    this.timer = null;
    if (!this.started) return;
    let failed = false;
    try {
      for (const server of this.trust.lapsedQuarantines()) {
        try {
          this.onLapsed(server);
        } catch (error) {
          failed = true;
          this.failed(server, error);
        }
      }
    } catch (error) {
      failed = true;
      this.failed(null, error);
    }
    this.retryAt = failed ? Date.now() + RETRY_AFTER_FAILURE_MS : 0;
    this.schedule();
  }

  /** Tells onFailed; a throw of its own is no reason to end the node either. */
  private failed(server: string | null, error: unknown): void {
    try {
      this.onFailed(server, error);
    } catch {
      // nothing more to tell it with
    }
  }

  /** Arms the one timer for the soonest end, and not before a failure's retry is due (a change meanwhile keeps that wait). */
  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.next = null;
    if (!this.started) return;
    let end: number | null;
    try {
      end = this.trust.nextQuarantineEnd();
    } catch (error) {
      this.failed(null, error);
      this.retryAt = Date.now() + RETRY_AFTER_FAILURE_MS;
      end = this.retryAt;
    }
    if (end === null) return;
    const wait = Math.min(Math.max(0, end - Date.now(), this.retryAt - Date.now()), MAX_WAIT_MS);
    this.next = Date.now() + wait;
    this.timer = setTimeout(() => this.fire(), wait);
    this.timer.unref();
  }
}
