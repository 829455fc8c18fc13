/**
 * Events a room's host refused as placed too far back (409 `depth_too_old` with its `room_depth`,
 * docs/PROTOCOL.md §Ordering) are re-issued after the room's latest events (DeliveryDeps.reissue)
 * and retried instead of failed, a few times at most per event (delivery-worker.ts).
 */
import { warnLimited } from '../log/rate-limit.ts';
import type { FederationResponse } from '../federation/http-client.ts';
import { DEFAULT_BACKOFF, backoffDelay } from './backoff.ts';
import type { DeliveryDeps } from './delivery-deps.ts';
import { refusalMeaning } from './delivery-outcomes.ts';
import type { OutboxRow, Outcome } from './outbox.ts';
import type { WireCache } from './wire-cache.ts';

/** How many times one event refused as too old (409 depth_too_old) is re-issued before it fails. */
export const MAX_REISSUES = 5;

export class TooOldReissues {
  /** Re-issues per event id (since start), so a host that keeps refusing cannot loop us. */
  private readonly reissues = new Map<string, number>();

  private readonly deps: DeliveryDeps;
  /** The workers' wire cache: a re-issued event's wire form is stale. */
  private readonly wire: WireCache;

  constructor(deps: DeliveryDeps, wire: WireCache) {
    this.deps = deps;
    this.wire = wire;
  }

  /** Events refused with 409 `depth_too_old` (refusalMeaning: `resend_late`) are re-issued (deps.reissue) and retried instead of failed. */
  async apply(destination: string, outcomes: Array<{ row: OutboxRow; outcome: Outcome }>, response: FederationResponse, now: number) {
    type Refusal = { event_id?: unknown; status?: unknown; error?: unknown; room_depth?: unknown };
    const body = response.json as (Refusal & { results?: unknown }) | undefined;
    const tooOld = new Map<unknown, unknown>();
    if (refusalMeaning(response.status, body?.error) === 'resend_late' && outcomes.length === 1) tooOld.set(outcomes[0]!.row.event_id, body?.room_depth);
    if (Array.isArray(body?.results)) {
      for (const r of body.results as Refusal[]) if (refusalMeaning(r?.status, r?.error) === 'resend_late') tooOld.set(r.event_id, r.room_depth);
    }
    if (tooOld.size === 0) return outcomes;
    const result: Array<{ row: OutboxRow; outcome: Outcome }> = [];
    // Once an event of the batch is re-issued, a later one the host refused may have been refused
    // for its absence (an edit or deletion of it: 404, its target unknown; a message after a join:
    // 403): tried again after it, not failed (a helper's audit, 2026-11-28: a deletion behind its
    // message failed for good). Refused again with nothing re-issued before it, it fails.
    let reissuedBefore = false;
    for (const entry of outcomes) {
      const { row, outcome } = entry;
      const count = this.reissues.get(row.event_id) ?? 0;
      if (outcome.kind !== 'failed' || !tooOld.has(row.event_id) || count >= MAX_REISSUES) {
        if (reissuedBefore && outcome.kind === 'failed') {
          result.push({ row, outcome: { kind: 'retry', status: outcome.status, error: `${outcome.error} (sent again after an earlier event of its batch was re-issued)`, nextAttemptAt: now } });
          continue;
        }
        result.push(entry);
        continue;
      }
      let reissued = false;
      try {
        reissued = await this.deps.reissue!(destination, row.event_id, tooOld.get(row.event_id));
      } catch (error) {
        warnLimited(this.deps.log, `reissue_failed ${destination}`, { event: 'reissue_failed', destination, event_id: row.event_id, err: error }, 'could not re-issue an event refused as too old');
      }
      if (!reissued) {
        result.push(entry);
        continue;
      }
      reissuedBefore = true;
      // Its stored form changed: the wire form made at its first commit is stale.
      this.wire.forget(row.event_id);
      if (this.reissues.size >= 10_000) this.reissues.clear();
      this.reissues.set(row.event_id, count + 1);
      const nextAttemptAt = count === 0 ? now : now + backoffDelay(count, this.deps.backoff ?? DEFAULT_BACKOFF);
      result.push({ row, outcome: { kind: 'retry', status: 409, error: 'depth_too_old: re-issued after the room\'s latest events', nextAttemptAt } });
    }
    return result;
  }
}
