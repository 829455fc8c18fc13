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
   * keys that cannot be read): that one and every later one, so that the order is kept. A later
   * release takes them.
   */
  kept: number;
}

/**
 * Releases a quarantined server's held events: each goes through the normal store path
 * (host authorization, apply, relay) in the order it arrived. Its signature was verified when
 * it arrived and the stored bytes are what was signed. Refused ones (a verdict on the event,
 * decided as for a fetched event: fetched-event-failure.ts) are reported and dropped. One that
 * could not be taken now is no verdict: it and the ones after it stay held (before, they were
 * dropped with the refused ones, and a failure of our disk lost a friend's messages for good).
 */
export async function releaseHeld(server: string, quarantine: QuarantineStore, ingest: EventIngest, log: Logger): Promise<ReleaseResult> {
  const released: string[] = [];
  const rejected: Array<{ event_id: string; error: string }> = [];
  const rows = quarantine.list(server, 100_000);
  let kept = 0;
  for (const [index, row] of rows.entries()) {
    let stored = false;
    try {
      const envelope = envelopeSchema.parse(JSON.parse(row.envelope));
      stored = (await ingest.store({ envelope, hash: row.content_hash }, row.received_from, undefined, { release: true })).inserted;
      released.push(row.event_id);
    } catch (error) {
      const failure = fetchedEventFailure(error);
      if (failure.kind !== 'refused') {
        kept = rows.length - index;
        log.warn({ event: 'quarantine_release_stopped', server, event_id: row.event_id, kept, reason: failure.kind, err: failure.message }, 'held events not all released: one could not be stored now');
        break;
      }
      rejected.push({ event_id: row.event_id, error: failure.message });
    }
    // A refused (or already stored) event gives its bytes back to its origin's quota.
    quarantine.remove(row.id, stored);
  }
  quarantine.reviewed(server);
  log.info({ event: 'quarantine_released', server, released: released.length, rejected: rejected.length, kept }, 'held events released');
  return { released: released.length, rejected, kept };
}
