/**
 * What a quarantine that ended by itself held is released (quarantine-lapses.ts ends it). A release
 * that kept events (one could not be stored now: the database busy or full, keys unreadable) or
 * failed is tried again by itself, after 10 s, then twice as long each time up to an hour, for as
 * long as the lapse's own "allow" stands and something is still held. Before, those events waited
 * for the owner's next release, although nobody had asked to review them again. The owner's own
 * trust decision about that server meanwhile (trust it, with or without a reason: the end's reason
 * is then gone; quarantine or block it again) ends the retries: what is held then is theirs to
 * decide, and a release under way stops at its next event (quarantine-release.ts `stillWanted`).
 * A release or purge of theirs takes or drops what is held, which ends the retries once nothing is
 * left; what their own release could not store now is still retried here while the end stands.
 */
import type { Logger } from 'pino';
import { releaseHeld } from './quarantine-release.ts';
import type { QuarantineStore } from './quarantine.ts';
import type { TrustStore } from './trust-store.ts';
import type { EventIngest } from '../federation/event-ingest.ts';
import { guarded } from '../util/guarded.ts';

/** The reason a lapse writes with its "allow" (the owner sees it on the peer's line). */
export const LAPSE_REASON = 'quarantine ended';
export const FIRST_RETRY_MS = 10_000;
export const MAX_RETRY_MS = 3_600_000;

export interface LapseReleaseDeps {
  trust: TrustStore;
  quarantine: QuarantineStore;
  ingest: EventIngest;
  log: Logger;
  /** After each try, whatever it did: deliveries to the server go on (they waited while it was quarantined). */
  afterTry: (server: string) => void;
}

export class LapseReleases {
  private readonly d: LapseReleaseDeps;
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private stopped = false;

  constructor(deps: LapseReleaseDeps) {
    this.d = deps;
  }

  /** `server`'s quarantine lapsed (its "allow" with LAPSE_REASON written): what it held is released. */
  lapsed(server: string): void {
    this.cancel(server);
    void this.tryRelease(server, FIRST_RETRY_MS);
  }

  /**
   * At start: every server whose end's "allow" stands with something still held (a release after
   * its end kept events, and the node stopped before a retry took them) is released again now.
   */
  resume(): void {
    try {
      for (const server of Object.keys(this.d.quarantine.counts())) if (this.stillLapsed(server)) this.lapsed(server);
    } catch (error) {
      this.d.log.warn({ event: 'quarantine_release_failed', err: error }, 'reading what ended quarantines still hold failed; released at the owner\'s next release');
    }
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.retries.values()) clearTimeout(timer);
    this.retries.clear();
  }

  private cancel(server: string): void {
    const timer = this.retries.get(server);
    if (timer) clearTimeout(timer);
    this.retries.delete(server);
  }

  private async tryRelease(server: string, nextWaitMs: number): Promise<void> {
    let again: boolean;
    let threw = false;
    try {
      // Only while the end stands: an owner who quarantines, blocks or trusts that server again
      // mid-release keeps the rest held for their own decision (what they purge meanwhile is skipped).
      again = (await releaseHeld(server, this.d.quarantine, this.d.ingest, this.d.log, { stillWanted: () => this.endStands(server) })).kept > 0;
    } catch (error) {
      // A failure to read or remove the held rows is logged, never left to end the process.
      this.d.log.warn({ event: 'quarantine_release_failed', server, err: error }, 'releasing the held events of an ended quarantine failed; they stay held');
      again = true;
      threw = true;
    }
    guarded(this.d.log, 'quarantine_release_failed', () => this.d.afterTry(server));
    if (!again || this.stopped) return;
    // Stopped because the owner decided meanwhile: no retry. (Not asked after a release that threw:
    // the same read would likely fail now and end the retries; the timer's check asks later.)
    if (!threw && this.overSince(server)) {
      this.d.log.info({ event: 'quarantine_release_retry_ended', server }, 'no more releases of an ended quarantine: the owner decided about that server since, or nothing is held');
      return;
    }
    this.d.log.info({ event: 'quarantine_release_retry', server, in_ms: nextWaitMs }, 'held events of an ended quarantine are released again later');
    this.cancel(server);
    const timer = setTimeout(() => {
      this.retries.delete(server);
      if (!this.stillLapsed(server)) {
        this.d.log.info({ event: 'quarantine_release_retry_ended', server }, 'no more releases of an ended quarantine: the owner decided about that server since, or nothing is held');
        return;
      }
      void this.tryRelease(server, Math.min(MAX_RETRY_MS, nextWaitMs * 2));
    }, nextWaitMs);
    timer.unref();
    this.retries.set(server, timer);
  }

  /** The lapse's "allow" stands: nothing the owner did to that server since. */
  private endStands(server: string): boolean {
    const row = this.d.trust.get(server);
    return row?.trust === 'allow' && row.reason === LAPSE_REASON;
  }

  /** Read without a doubt: the lapse's "allow" no longer stands, or nothing is held (a failed read: false). */
  private overSince(server: string): boolean {
    try {
      return !this.endStands(server) || this.d.quarantine.list(server, 1).length === 0;
    } catch {
      return false;
    }
  }

  /** The lapse's "allow" stands (nothing the owner did since) and something is still held. */
  private stillLapsed(server: string): boolean {
    try {
      return this.endStands(server) && this.d.quarantine.list(server, 1).length > 0;
    } catch (error) {
      this.d.log.warn({ event: 'quarantine_release_failed', server, err: error }, 'reading what an ended quarantine still holds failed; released at the owner\'s next release');
      return false;
    }
  }
}
