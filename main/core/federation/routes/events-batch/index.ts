import Router from '@koa/router';
import { z } from 'zod';
import { HttpError, badRequest } from '../../../errors.ts';
import { parseJsonBody } from '../../../http/read-body.ts';
import { BATCH_PATH, MAX_BATCH_EVENTS } from '../../../outbox/delivery-worker.ts';
import type { IngestResult, VerifiedEvent } from '../../event-ingest.ts';
import type { FederationDeps } from '../../federation-deps.ts';
import type { SignedRequestState } from '../../middleware/verify-signed-request.ts';

const batchSchema = z.object({ events: z.array(z.unknown()).min(1).max(MAX_BATCH_EVENTS) });

type EventResult = IngestResult | { event_id: string | null; status: number; error: string; message: string };

/**
 * `POST /events` (extension, advertised as the `batch` capability): up to 100 envelopes,
 * answered `200 {results: [...]}` with one result per event, in order — `{event_id, inserted}`
 * or `{event_id, status, error, message}` with the status the single-event endpoint would have
 * given. All the accepted events of a batch are committed in one transaction before the answer.
 * Processing stops at the first event that failed for a reason worth retrying (5xx): the rest
 * answer 503 `not_processed`, so a sender retrying in order never skips ahead of a gap.
 */
export function eventsBatchRoutes(deps: FederationDeps): Router {
  const router = new Router();
  router.post(BATCH_PATH, deps.verifySignedRequest, async (ctx) => {
    const state = ctx.state as SignedRequestState;
    const parsed = batchSchema.safeParse(parseJsonBody(state.rawBody));
    if (!parsed.success) throw badRequest('invalid_batch', `body must be {"events": [1 to ${MAX_BATCH_EVENTS} envelopes]}`);
    const raws = parsed.data.events;

    const results: Array<EventResult | undefined> = new Array(raws.length);
    const toStore: Array<{ index: number; verified: VerifiedEvent }> = [];
    let stopAt = raws.length;
    // All signatures are checked at once (in the verification pool); results are used in order.
    const verified = await Promise.allSettled(raws.map((raw) => deps.ingest.verify(state.origin, raw)));
    for (let i = 0; i < raws.length; i++) {
      const outcome = verified[i]!;
      if (outcome.status === 'fulfilled') {
        toStore.push({ index: i, verified: outcome.value });
        continue;
      }
      results[i] = failure(raws[i], outcome.reason);
      if ((results[i] as { status: number }).status >= 500) {
        stopAt = i + 1;
        break;
      }
    }
    // Enqueued in the same turn: one group commit, one fsync for the whole batch.
    const stored = await Promise.allSettled(
      toStore.map(({ verified }, n) =>
        deps.ingest.store(verified, state.origin, n === 0 ? () => deps.replay.record(state.signature, state.origin, state.requestTs) : undefined),
      ),
    );
    if (stored[0]?.status === 'fulfilled') state.replayRecorded = true;
    stored.forEach((outcome, n) => {
      const { index, verified } = toStore[n]!;
      results[index] = outcome.status === 'fulfilled' ? outcome.value : failure(verified.envelope, outcome.reason);
    });
    for (let i = stopAt; i < raws.length; i++) {
      results[i] = { event_id: eventIdOf(raws[i]), status: 503, error: 'not_processed', message: 'an earlier event of this batch failed; send again from there' };
    }
    ctx.body = { results };
  });
  return router;
}

function eventIdOf(raw: unknown): string | null {
  const id = (raw as { event_id?: unknown } | null)?.event_id;
  return typeof id === 'string' ? id : null;
}

function failure(raw: unknown, error: unknown): EventResult {
  if (error instanceof HttpError) return { event_id: eventIdOf(raw), status: error.status, error: error.code, message: error.message };
  return { event_id: eventIdOf(raw), status: 500, error: 'internal_error', message: 'the server failed to store this event' };
}
