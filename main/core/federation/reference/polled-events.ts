/**
 * One event polled from a reference peer (reference-poller.ts), checked and stored, and what became
 * of it; with the waits it leaves: a storage quota here (per peer and room, in memory as catch-up's
 * wait: a restart, with a quota the owner raised, asks again at once), an event that could not be
 * checked yet (asked again while its window lasts), a new key of the peer's that the owner has not
 * confirmed.
 */
import type { Logger } from 'pino';
import { HttpError } from '../../errors.ts';
import { cleanText } from '../../util/untrusted-text.ts';
import { warnLimited } from '../../log/rate-limit.ts';
import { fetchedEventFailure, fetchedEventId, fetchedEventOrigin, UncheckedRetries } from '../fetched-event-failure.ts';
import type { EventIngest, VerifiedEvent } from '../event-ingest.ts';

/** Refusals of what an honest reference's history holds: not counted toward backing a room off (take). */
const HONEST_REFUSALS: ReadonlySet<string> = new Set(['not_origin', 'origin_blocked']);

/** What became of a polled event; `halt`: the room's cursor stops before it, for this reason. */
export type PolledOutcome = 'stored' | 'known' | 'skipped' | 'honest' | { halt: string };

export interface PolledEventsDeps {
  ingest: EventIngest;
  log: Logger;
  /** Whether a changed key of the peer waits for the owner's confirmation (reference/key-replacement.ts). */
  keyChangePending?: ((peer: string) => boolean) | undefined;
}

export class PolledEvents {
  private readonly d: PolledEventsDeps;
  /** Rooms whose next event was refused for a storage quota here (`peer room`): not polled before this time (ms). */
  private readonly quotaWaits = new Map<string, number>();
  /** Polled events that could not be checked yet: asked again while their window lasts. */
  private readonly unchecked = new UncheckedRetries();

  constructor(deps: PolledEventsDeps) {
    this.d = deps;
  }

  /** Until when `peer`'s events of `roomId` wait for the storage quota here (0: they do not). */
  quotaWaitUntil(peer: string, roomId: string): number {
    return this.quotaWaits.get(`${peer} ${roomId}`) ?? 0;
  }

  /**
   * Checks and stores one polled event. `honest`: refused for what an honest history holds (an
   * event we relayed to it, in a room we host; one of a server our owner blocked; another
   * server's event whose signature verified and which we refuse for what it does: an edit of a
   * message from before we joined, a moderator's act we do not take from the host's relay); every
   * other event not taken counts toward backing the room off, whoever it names as its origin:
   * counting only the peer's own let it serve pages of events under another server's name, each
   * with a signature that fails, checked every round (a red-team review, 2026-11-30). A verified
   * event is not served again (the cursor moves past its depth, which its signature covers).
   */
  async take(peer: string, roomId: string, raw: unknown, origin: unknown): Promise<PolledOutcome> {
    let verified: VerifiedEvent | null = null;
    try {
      verified = await this.d.ingest.verify(peer, raw);
      if (verified.envelope.room_id !== roomId) {
        this.unchecked.settled(peer, verified.envelope.event_id);
        return 'skipped';
      }
      const result = await this.d.ingest.store(verified, peer);
      this.unchecked.settled(peer, verified.envelope.event_id);
      return result.inserted ? 'stored' : 'known';
    } catch (error) {
      if (error instanceof HttpError && error.code === 'bad_event_signature' && origin === peer && this.d.keyChangePending?.(peer)) {
        return { halt: `waiting for the owner to confirm the new key of ${peer}` };
      }
      const failure = fetchedEventFailure(error);
      if (failure.kind === 'quota') {
        this.quotaWaits.set(`${peer} ${roomId}`, Date.now() + failure.waitMs);
        if (this.quotaWaits.size > 10_000) this.quotaWaits.clear();
        warnLimited(this.d.log, `reference_poll_quota_wait ${peer}`, { event: 'reference_poll_quota_wait', server: peer, room_id: roomId, wait_ms: failure.waitMs }, 'polling a reference server waits for the storage quota; resuming after Retry-After');
        return { halt: `waiting for the storage quota: ${failure.message}`.slice(0, 300) };
      }
      // Not checked yet (its signer's keys could not be read, a failure of ours): the cursor stops
      // before it and the next round asks again, for as long as its window lasts (then skipped).
      const id = fetchedEventId(raw);
      if (failure.kind !== 'refused' && id !== null) {
        // A failure of ours is waited out however long it lasts; what cannot be checked, for its window.
        if (failure.kind === 'failure' || this.unchecked.retry(peer, id, fetchedEventOrigin(raw))) {
          warnLimited(this.d.log, `reference_event_unchecked ${peer}`, { event: 'reference_event_unchecked', server: peer, room_id: roomId, event_id: cleanText(id, 255), error: failure.message }, 'an event polled from a reference server could not be checked yet; asked again');
          return { halt: `waiting to check an event: ${failure.message}`.slice(0, 300) };
        }
        this.d.log.warn({ event: 'reference_event_given_up', server: peer, room_id: roomId, event_id: cleanText(id, 255), error: failure.message }, 'an event polled from a reference server could not be checked for hours; given up');
      }
      if (id !== null) this.unchecked.settled(peer, id);
      if (error instanceof HttpError && (HONEST_REFUSALS.has(error.code) || (verified !== null && origin !== peer))) return 'honest';
      warnLimited(this.d.log, `reference_event_rejected ${peer}`, { event: 'reference_event_rejected', server: peer, room_id: roomId, error: (error as Error).message }, 'event polled from a reference server rejected');
      return 'skipped';
    }
  }
}
