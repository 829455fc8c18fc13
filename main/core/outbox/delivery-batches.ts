/**
 * Batches (docs/PROTOCOL.md §Batch delivery, delivery-worker.ts): how many events one request to a
 * destination carries, the run of entries it carries, read and serialized within the receivers'
 * limits, and what a refusal of a batch as a whole makes of the next ones.
 */
import { mailboxAnswer } from '../../../shared/mailbox-answer.ts';
import { jsonShape, WIRE_JSON_LIMITS } from '../crypto/json-limits.ts';
import { warnLimited } from '../log/rate-limit.ts';
import { envelopeWireJson, type Envelope } from '../federation/envelope.ts';
import type { FederationResponse } from '../federation/http-client.ts';
import { BATCH_CAPABILITY, LARGE_BATCH_CAPABILITY } from '../federation/paths.ts';
import { DEFAULT_MAX_AGE_MS, type DeliveryDeps } from './delivery-deps.ts';
import { mailboxOnly } from './delivery-route.ts';
import type { DestinationState } from './destination-state.ts';
import type { OutboxRow, Outcome } from './outbox.ts';
import type { WireCache } from './wire-cache.ts';

/** Events per `POST /events` to a peer that advertises `batch`. */
export const MAX_BATCH_EVENTS = 100;
/**
 * Events per request to a peer that also advertises LARGE_BATCH_CAPABILITY (our nodes since issue
 * #17: with 100, a burst paid a round trip per 100 events in which the two nodes took turns; 400
 * carried 21 % more messages a second end to end, docs/PERFORMANCE.md). Receivers accept this many.
 */
export const LARGE_BATCH_EVENTS = 500;
/** Batches stay well under the receivers' 1 MiB body limit. */
const MAX_BATCH_BYTES = 512 * 1024;
/** After a peer refuses a batch as a whole, send it single events for a while. */
const BATCH_COOLDOWN_MS = 10 * 60_000;

export interface Prepared {
  sendable: Array<{ row: OutboxRow; wire: string }>;
  useBatch: boolean;
}

/** Events per request the destination takes: 1 (no batches), MAX_BATCH_EVENTS or LARGE_BATCH_EVENTS. */
export async function batchLimit(deps: DeliveryDeps, destination: string, state: DestinationState): Promise<number> {
  if (state.noBatchUntil > Date.now()) return 1;
  // Through a mailbox: its discovery cannot be read; every node that fetches from a mailbox takes large batches.
  // (A peer never reached is not asked even for its discovery: its endpoint is its word.)
  if (deps.mailbox?.preferred(destination) || mailboxOnly(deps, destination)) return state.batchCapUntil > Date.now() ? Math.max(1, Math.min(LARGE_BATCH_EVENTS, state.batchCap)) : LARGE_BATCH_EVENTS;
  try {
    const { capabilities } = await deps.discovery.documentOf(destination);
    if (!capabilities.includes(BATCH_CAPABILITY)) return 1;
    const limit = capabilities.includes(LARGE_BATCH_CAPABILITY) ? LARGE_BATCH_EVENTS : MAX_BATCH_EVENTS;
    return state.batchCapUntil > Date.now() ? Math.max(1, Math.min(limit, state.batchCap)) : limit;
  } catch {
    return 1;
  }
}

/**
 * Loads the events of a run of entries and serializes them; entries whose event is gone are
 * failed on the spot, expired ones expired. Null when nothing is left to send.
 */
export function prepareRun(deps: DeliveryDeps, wireCache: WireCache, destination: string, candidates: OutboxRow[], batch: boolean): Prepared | null {
  const { outbox, events, log } = deps;
  const maxAgeMs = deps.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  const now = Date.now();
  const settled: Array<{ row: OutboxRow; outcome: Outcome }> = [];
  const sendable: Array<{ row: OutboxRow; wire: string }> = [];
  let bytes = 0;
  if (candidates.some((row) => row.created_at + maxAgeMs < now)) {
    // This destination's only: another's expired head would leave its wait standing (housekeeping
    // expires the rest and ends their waits).
    const expired = outbox.expireOlderThan(maxAgeMs, now, destination);
    if (expired.count > 0) log.warn({ event: 'delivery_expired', destination, count: expired.count }, 'undelivered entries expired');
    candidates = candidates.filter((row) => !expired.ids.has(row.id));
  }
  // `{"events":[…]}` within the receivers' JSON limits (docs/PROTOCOL.md §Batch delivery): each envelope counts its
  // own elements and one as an element of the array (500 typical messages would pass the
  // 10,000), and sits two levels deeper than alone (one nested within 2 of the depth limit goes
  // alone, as a single event).
  let elements = 1;
  // Only a run of several can become a batch; a lone event is not measured.
  const measure = batch && candidates.length > 1;
  // Events made here moments ago come with their wire form (wire-cache.ts); the rest are read.
  const cached = candidates.map((row) => wireCache.get(row.event_id));
  const missing = candidates.filter((_, i) => !cached[i]).map((row) => row.event_id);
  const loaded = missing.length > 0 ? events.getMany(missing) : undefined;
  const cannotCarry = deps.cannotCarry?.(destination) ?? null;
  for (const [i, row] of candidates.entries()) {
    const entry = cached[i];
    let wire = entry?.wire;
    if (wire === undefined) {
      const event = loaded?.get(row.event_id);
      if (!event) {
        settled.push({ row, outcome: { kind: 'failed', status: null, error: 'event no longer stored' } });
        continue;
      }
      wire = envelopeWireJson(event);
    }
    const refusal = cannotCarry?.(loaded?.get(row.event_id) ?? (JSON.parse(wire) as Envelope)) ?? null;
    if (refusal !== null) {
      warnLimited(log, `not_carried ${destination}`, { event: 'not_carried', destination, event_id: row.event_id, reason: refusal }, refusal);
      settled.push({ row, outcome: { kind: 'failed', status: null, error: refusal } });
      continue;
    }
    const shape = measure ? (entry ? (entry.shape ??= jsonShape(wire)) : jsonShape(wire)) : { elements: 0, depth: 0 };
    const alone = shape.depth + 2 > WIRE_JSON_LIMITS.maxDepth;
    if (sendable.length > 0 && (alone || bytes + wire.length > MAX_BATCH_BYTES || elements + 1 + shape.elements > WIRE_JSON_LIMITS.maxElements)) break;
    bytes += wire.length;
    elements += 1 + shape.elements;
    sendable.push({ row, wire });
    if (alone) break;
  }
  if (settled.length > 0) outbox.settle(destination, settled, 0);
  if (sendable.length === 0) return null;
  return { sendable, useBatch: batch && sendable.length > 1 };
}

/**
 * The peer refused a batch as a whole (400, 404, 413): the next ones are smaller or single events
 * for a while, and the entries stay pending, their attempts not counted. True when it did.
 */
export function wholeBatchRefused(deps: DeliveryDeps, destination: string, state: DestinationState, prepared: Prepared, response: FederationResponse | undefined, latency: number, now: number, mailbox: string | null = null): boolean {
  const { outbox, log } = deps;
  const { sendable, useBatch } = prepared;
  if (useBatch && response && (response.status === 400 || response.status === 404 || response.status === 413)) {
    // The peer refused the batch as a whole. Without the endpoint (404): the same events one by
    // one for a while. As too large or malformed (400, 413): batches half this size for a while,
    // halving again on each refusal, down to single events — one refusal of a large batch no
    // longer costs ten minutes of one event per round trip. The events were not tried, so no
    // attempt is counted against them (they are not probed one by one afterwards).
    const half = response.status === 404 ? 1 : Math.floor(sendable.length / 2);
    if (half <= 1) state.noBatchUntil = now + BATCH_COOLDOWN_MS;
    else {
      state.batchCap = half;
      state.batchCapUntil = now + BATCH_COOLDOWN_MS;
    }
    const fallback = half <= 1 ? 'single events' : `batches of at most ${half} events`;
    warnLimited(log, `batch_refused ${destination}`, { event: 'batch_refused', destination, status: response.status, events: sendable.length, next: fallback }, `peer refused a batch; sending ${fallback} for a while`);
    // Left at a mailbox: the mailbox refused the batch, not the destination (shared/mailbox-answer.ts).
    const refused = `batch refused (${sendable.length} events): HTTP ${response.status}; sending ${fallback} for a while`;
    const error = mailbox !== null ? mailboxAnswer(mailbox, refused) : refused;
    outbox.settle(destination, sendable.map(({ row }) => ({ row, outcome: { kind: 'paced', status: response.status, error } })), latency, now);
    deps.onAttempt?.(destination, 'refused', latency, 0);
    return true;
  }
  return false;
}
