import type { Logger } from 'pino';
import type { EventIngest } from '../federation/event-ingest.ts';
import { envelopeSchema } from '../federation/envelope.ts';
import type { QuarantineStore } from './quarantine.ts';

/**
 * Releases a quarantined server's held events: each goes through the normal store path
 * (host authorization, apply, relay) in the order it arrived. Its signature was verified when
 * it arrived and the stored bytes are what was signed. Refused ones are reported and dropped.
 */
export async function releaseHeld(server: string, quarantine: QuarantineStore, ingest: EventIngest, log: Logger) {
  const released: string[] = [];
  const rejected: Array<{ event_id: string; error: string }> = [];
  for (const row of quarantine.list(server, 100_000)) {
    let stored = false;
    try {
      const envelope = envelopeSchema.parse(JSON.parse(row.envelope));
      stored = (await ingest.store({ envelope, hash: row.content_hash }, row.received_from, undefined, { release: true })).inserted;
      released.push(row.event_id);
    } catch (error) {
      rejected.push({ event_id: row.event_id, error: (error as Error).message });
    }
    // A refused (or already stored) event gives its bytes back to its origin's quota.
    quarantine.remove(row.id, stored);
  }
  quarantine.reviewed(server);
  log.info({ event: 'quarantine_released', server, released: released.length, rejected: rejected.length }, 'held events released');
  return { released: released.length, rejected };
}
