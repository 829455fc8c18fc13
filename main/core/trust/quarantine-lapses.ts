/**
 * Quarantines with an end time lapse by themselves (the owner's "quarantine for 1 hour"). One
 * timer waits for the soonest end, re-armed whenever a quarantine is set or changed; none runs
 * while no quarantine has an end (issue #36: an idle node polls nothing). A long wait is cut
 * into steps of at most MAX_WAIT_MS, so a clock change cannot postpone an end for good.
 */
import type { TrustStore } from './trust-store.ts';

export const MAX_WAIT_MS = 6 * 3600_000;

export class QuarantineLapses {
  private readonly trust: TrustStore;
  private readonly onLapsed: (server: string) => void;
  private timer: NodeJS.Timeout | null = null;
  private started = false;
  /** When the timer fires next (null: no timer). */
  next: number | null = null;

  constructor(trust: TrustStore, onLapsed: (server: string) => void) {
    this.trust = trust;
    this.onLapsed = onLapsed;
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
    for (const server of this.trust.lapsedQuarantines()) this.onLapsed(server);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.next = null;
    const end = this.trust.nextQuarantineEnd();
    if (end === null || !this.started) return;
    const wait = Math.min(Math.max(0, end - Date.now()), MAX_WAIT_MS);
    this.next = Date.now() + wait;
    this.timer = setTimeout(() => this.fire(), wait);
    this.timer.unref();
  }
}
