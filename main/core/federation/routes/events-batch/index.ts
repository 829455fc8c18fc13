import Router from '../../../http/router.ts';
import { z } from 'zod';
import { HttpError, badRequest } from '../../../errors.ts';
import { parseJsonBody } from '../../../http/read-body.ts';
import { LARGE_BATCH_EVENTS, MAX_BATCH_EVENTS } from '../../../outbox/delivery-batches.ts';
import type { IngestResult, VerifiedEvent } from '../../event-ingest.ts';
import type { FederationDeps } from '../../federation-deps.ts';
import { isNotYetStatus } from '../../fetched-event-failure.ts';
import { errorAnswer } from '../../../http/middleware/error-handler.ts';
import type { SignedRequestState } from '../../middleware/verify-signed-request.ts';
import { EVENTS_PATH } from '../../paths.ts';

/** Events stored per group-commit job (about what one verification chunk holds). */
const STORE_GROUP = 50;

/** We accept large batches (capability `batch_500`); senders send peers without it at most MAX_BATCH_EVENTS. */
const batchSchema = z.object({ events: z.array(z.unknown()).min(1).max(LARGE_BATCH_EVENTS) });

type EventResult = IngestResult | { event_id: string | null; status: number; error: string; message: string };

/**
 * `POST /events` (extension, advertised as the `batch` capability): 1 to 500 envelopes (`batch`
 * promises senders 100, `batch_500` 500), answered `200 {results: [...]}` with one result per
 * event, in order — `{event_id, inserted}` or `{event_id, status, error, message}` with the
 * status the single-event endpoint would have given. All the accepted events of a batch are
 * committed before the answer (stored in order, in as few group commits as the verification
 * allows). Processing stops at the first event that failed for a reason worth retrying (5xx): the
 * rest answer 503 `not_processed`, so a sender retrying in order never skips ahead of a gap.
 */
export function eventsBatchRoutes(deps: FederationDeps): Router {
  const router = new Router();
  router.post(EVENTS_PATH, deps.verifySignedRequest, async (ctx) => {
    const state = ctx.state as SignedRequestState;
    const parsed = batchSchema.safeParse(parseJsonBody(state.rawBody));
    if (!parsed.success) throw badRequest('invalid_batch', `body must be {"events": [1 to ${LARGE_BATCH_EVENTS} envelopes]}`);
    const raws = parsed.data.events;
    // A batch weighs one request per MAX_BATCH_EVENTS events (the first was charged already), so
    // the larger batches do not multiply what a server's rate limit lets it make us verify. One
    // that weighs more than the server's whole burst could never pass: too large (the sender halves it).
    const weight = Math.ceil(raws.length / MAX_BATCH_EVENTS);
    if (weight > 1 && !state.chargeMore(weight - 1)) {
      throw new HttpError(413, 'batch_too_large', `a batch of ${raws.length} events weighs ${weight} requests of your rate limit here, more than its burst allows; send fewer events per batch`);
    }

    const results: Array<EventResult | undefined> = new Array(raws.length);
    let stopAt = raws.length;
    // Invites of our users queued by their rooms' host (issue #32) are taken as their POST /invite
    // would be, first; the other events go through the chain below, in order.
    const order: number[] = [];
    for (const [index, raw] of raws.entries()) {
      try {
        // false at once for any other event: no wait per event of the batch.
        const invite = deps.rooms().receiveInviteEvent(state.origin, raw);
        if (invite === false) order.push(index);
        else results[index] = { event_id: eventIdOf(raw), inserted: (await invite) === 'taken' } as EventResult;
      } catch (error) {
        results[index] = failure(raw, error);
      }
    }
    // Every signature is queued for verification at once; the events are stored in groups, each
    // as soon as it and the groups before it are checked, so the main thread stores the first
    // events while the workers verify the next ones. Groups ready in one turn share a commit.
    const verifications = deps.ingest.verifyAll(state.origin, order.map((index) => raws[index]));
    verifications.forEach((p) => p.catch(() => undefined)); // awaited in order below
    const stores: Array<Promise<void>> = [];
    for (let start = 0; start < order.length && stopAt === raws.length; start += STORE_GROUP) {
      const settled = await Promise.allSettled(verifications.slice(start, start + STORE_GROUP));
      const group: Array<{ index: number; verified: VerifiedEvent }> = [];
      for (let k = 0; k < settled.length; k++) {
        const index = order[start + k]!;
        const outcome = settled[k]!;
        if (outcome.status === 'fulfilled') {
          group.push({ index, verified: outcome.value });
          continue;
        }
        results[index] = failure(raws[index], outcome.reason);
        if ((results[index] as { status: number }).status >= 500) {
          stopAt = index + 1;
          break;
        }
      }
      if (group.length > 0) stores.push(storeGroup(group, stores.length === 0));
    }

    async function storeGroup(group: Array<{ index: number; verified: VerifiedEvent }>, first: boolean): Promise<void> {
      // The replay entry is written with the first stored events: one transaction, one flush. Not
      // for a batch a mailbox carried: its entry waits until every event has its final answer.
      const recordReplay = first && state.viaMailbox !== true ? () => deps.replay.record(state.signature, state.origin, state.requestTs, false) : undefined;
      try {
        const { outcomes, beforeStoreDone } = await deps.ingest.storeMany(group.map((g) => g.verified), state.origin, recordReplay);
        if (recordReplay && beforeStoreDone) state.replayRecorded = true;
        outcomes.forEach((outcome, n) => {
          const { index, verified } = group[n]!;
          results[index] = outcome.status === 'fulfilled' ? outcome.value : failure(verified.envelope, outcome.reason);
        });
      } catch (error) {
        for (const { index, verified } of group) results[index] = failure(verified.envelope, error);
      }
    }
    await Promise.all(stores);
    for (let i = stopAt; i < raws.length; i++) {
      if (results[i] !== undefined && !order.includes(i)) continue; // an invite, taken already
      results[i] = { event_id: eventIdOf(raws[i]), status: 503, error: 'not_processed', message: 'an earlier event of this batch failed; send again from there' };
    }
    // A carried batch with an event answered "not yet" is not wholly taken: its copy may come again.
    if (state.viaMailbox === true && results.some((r) => notYet(r))) state.notTaken = true;
    ctx.body = { results };
  });
  return router;
}

function eventIdOf(raw: unknown): string | null {
  const id = (raw as { event_id?: unknown } | null)?.event_id;
  return typeof id === 'string' ? id : null;
}

function failure(raw: unknown, error: unknown): EventResult {
  if (error instanceof HttpError) return { ...error.details, event_id: eventIdOf(raw), status: error.status, error: error.code, message: error.message };
  // Answered as the request would be (a failure of the disk or database: 503; anything else: 500).
  const { status, body } = errorAnswer(error);
  return { event_id: eventIdOf(raw), status, error: body.error, message: body.message };
}

/** A result that is no final answer for its event: 429 (a limit) or 5xx (not checkable now, a failure here). */
function notYet(result: EventResult | undefined): boolean {
  const status = (result as { status?: number } | undefined)?.status;
  return status !== undefined && isNotYetStatus(status);
}
