import type { Logger } from 'pino';
import type { EventIngest } from '../federation/event-ingest.ts';
import { envelopeSchema } from '../federation/envelope.ts';
import { fetchedEventFailure } from '../federation/fetched-event-failure.ts';
import type { QuarantineStore } from './quarantine.ts';

/** What a release did: events stored, events refused for good (dropped), and events still held. */
export interface ReleaseResult {
  released: number;
  rejected: Array<{ event_id: string; error: string }>;
  /**
   * Events left held because one could not be taken now (a failure here: the database, a quota,
   * keys that cannot be read), or because the caller no longer wanted the release to go on
   * (`stillWanted`): that one and every later one the release had read, so that the order is kept.
   * A later release takes them.
   */
  kept: number;
}

/** Thrown inside the storing transaction: the row was purged, or taken by another release, since it was read. */
class NoLongerHeld extends Error {}
/** Thrown inside the storing transaction: the caller no longer wants this release to go on. */
class NoLongerWanted extends Error {}

/**
 * Releases a quarantined server's held events: each goes through the normal store path
 * (host authorization, apply, relay) in the order it arrived. Its signature was verified when
 * it arrived and the stored bytes are what was signed. Refused ones (a verdict on the event,
 * decided as for a fetched event: fetched-event-failure.ts) are reported and dropped. One that
 * could not be taken now is no verdict: it and the ones after it stay held (before, they were
 * dropped with the refused ones, and a failure of our disk lost a friend's messages for good).
 *
 * A release reads the held rows once and then stores them one by one, each awaiting its commit,
 * so anything can happen between two of them. Each row is taken out of the quarantine in the
 * transaction that stores its event: a row purged meanwhile (the owner's "drop these" while a
 * long release runs), or taken by another release of the same server, is skipped, never stored
 * (before, the release stored what the owner had just purged, and two releases both gave the
 * quota back a stored event's bytes). `stillWanted`, asked in that same transaction before each
 * event, stops the release there: the event and the later ones stay held (a quarantine's end
 * releases only while its end stands: lapse-releases.ts).
 */
export async function releaseHeld(
  server: string,
  quarantine: QuarantineStore,
  ingest: EventIngest,
  log: Logger,
  options: { stillWanted?: () => boolean } = {},
): Promise<ReleaseResult> {
  const released: string[] = [];
  const rejected: Array<{ event_id: string; error: string }> = [];
  const rows = quarantine.list(server, 100_000);
  let kept = 0;
  let skipped = 0;
  for (const [index, row] of rows.entries()) {
    // A cheap look first: after a purge, the rest of a long list is skipped without a commit each.
    if (!quarantine.stillHeld(row.id)) {
      skipped++;
      continue;
    }
    try {
      const envelope = envelopeSchema.parse(JSON.parse(row.envelope));
      const takeRow = () => {
        let wanted: boolean;
        try {
          wanted = options.stillWanted?.() ?? true;
        } catch (error) {
          // Our own check failed (the database): no verdict on the event; it and the rest stay held.
          throw new NoLongerWanted('the check whether the release is still wanted failed', { cause: error });
        }
        if (!wanted) throw new NoLongerWanted('no longer wanted');
        if (!quarantine.take(row.id, row.origin)) throw new NoLongerHeld();
      };
      const result = await ingest.store({ envelope, hash: row.content_hash }, row.received_from, takeRow, { release: true });
      released.push(row.event_id);
      // A copy stored already was charged when it was: this one's bytes go back. After the commit:
      // should this fail (or the node stop first), the quota counts one event more than it holds.
      if (!result.inserted) {
        try {
          quarantine.freeTaken(row);
        } catch (error) {
          log.warn({ event: 'quarantine_release_free_failed', server, event_id: row.event_id, err: error }, 'a released copy\'s held bytes could not be given back to the quota');
        }
      }
    } catch (error) {
      if (error instanceof NoLongerHeld) {
        skipped++;
        continue;
      }
      if (error instanceof NoLongerWanted) {
        kept = rows.length - index;
        log.info({ event: 'quarantine_release_interrupted', server, event_id: row.event_id, kept, reason: error.message, ...(error.cause ? { err: error.cause } : {}) }, 'release stopped: it is no longer wanted; the rest stays held');
        break;
      }
      const failure = fetchedEventFailure(error);
      if (failure.kind !== 'refused') {
        kept = rows.length - index;
        log.warn({ event: 'quarantine_release_stopped', server, event_id: row.event_id, kept, reason: failure.kind, err: failure.message }, 'held events not all released: one could not be stored now');
        break;
      }
      rejected.push({ event_id: row.event_id, error: failure.message });
      // Refused: dropped, and its bytes go back to its origin's quota (the rolled-back take left it held).
      quarantine.remove(row.id, false);
    }
  }
  quarantine.reviewed(server);
  log.info({ event: 'quarantine_released', server, released: released.length, rejected: rejected.length, kept, skipped }, 'held events released');
  return { released: released.length, rejected, kept };
}
