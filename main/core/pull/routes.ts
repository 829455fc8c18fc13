import Router from '../http/router.ts';
import { z } from 'zod';
import { wholeNumber } from '../../../shared/contract/whole-number.ts';
import { badRequest, forbidden, notFound } from '../errors.ts';
import { formatZodError } from '../admin/format-zod-error.ts';
import { parseJsonBody } from '../http/read-body.ts';
import { envelopeWireJson, type Envelope } from '../federation/envelope.ts';
import { PAGE_BYTES, utf8Bytes } from '../federation/page-budget.ts';
import type { FederationDeps } from '../federation/federation-deps.ts';
import type { SignedRequestState } from '../federation/middleware/verify-signed-request.ts';
import { PULL_ACK_PATH, PULL_PATH } from '../federation/paths.ts';
import { MAX_ACK_REFUSALS } from '../federation/page-acks.ts';
import { serverOf } from '../../../shared/identifiers.ts';
import { RESIGN_AFTER_MS } from '../rooms/ordering.ts';
import { warnLimited } from '../log/rate-limit.ts';
import { MAX_REISSUES } from '../outbox/reissue-too-old.ts';

export const MAX_PULL_EVENTS = 100;
/** Pages stay well under the puller's response cap (page-budget.ts): small, for latency. */
const MAX_PULL_BYTES = Math.min(512 * 1024, PAGE_BYTES);
/** Rows whose events are read at once while a page is filled (at most ~640 KiB of events past its bytes). */
const PULL_READ_ROWS = 10;
/** How long an empty pull waits for new events by default (at most 30 s: docs/PROTOCOL.md §Reachability: reach-probe and pull mode). */
export const DEFAULT_PULL_WAIT_MS = 25_000;
/**
 * A room's host refuses an event signed more than 60 s before it takes it (409 depth_too_old,
 * rooms/ordering.ts MAX_EVENT_AGE_MS); our own events for a room the puller hosts are signed again
 * when older than half that (30 s), leaving it the other half to store the page.
 */
export const REISSUE_PULLED_AFTER_MS = RESIGN_AFTER_MS;
/** Events an ack's `depth_too_old` has signed again in its own job at most (the rest are signed as served). */
const MAX_RESIGNED_PER_ACK = 100;

/** A cursor a previous page gave out (a decimal string, or a number). */
export const cursorSchema = z.union([z.string().regex(/^[0-9]{1,15}$/, 'cursor must be a number from a previous pull'), z.number().int().min(0).max(Number.MAX_SAFE_INTEGER)]).transform(Number);
const querySchema = z.strictObject({
  cursor: z.union([z.literal(''), cursorSchema]).optional().transform((c) => (c === '' || c === undefined ? 0 : c)),
  limit: wholeNumber(1, MAX_PULL_EVENTS).default(MAX_PULL_EVENTS),
});
/**
 * An ack's refusals (`refused`, capability PULL_REFUSALS_CAPABILITY): events of the acknowledged
 * pages the puller refused for good. At most MAX_ACK_REFUSALS (the puller's bound:
 * federation/page-acks.ts); each a 4xx and an error code, no words of the puller's.
 */
const refusalSchema = z.strictObject({
  event_id: z.string().min(1).max(255),
  status: z.number().int().min(400).max(499),
  error: z.string().regex(/^[a-z_]{1,64}$/, 'error must be a code of 1 to 64 letters a-z and _'),
});
/**
 * What it holds for review (`held`, capability PULL_HELD_CAPABILITY): events of the acknowledged
 * pages it keeps aside because it keeps us in quarantine. Sent, even empty, by a puller that tells
 * them: an ack with `held` that names none of its events says it takes ours as any other.
 */
const ackSchema = z.strictObject({
  cursor: cursorSchema,
  refused: z.array(refusalSchema).max(MAX_ACK_REFUSALS).optional(),
  held: z.array(z.string().min(1).max(255)).max(MAX_ACK_REFUSALS).optional(),
});

/**
 * Pull mode (issue #15, docs/PROTOCOL.md §Reachability: reach-probe and pull mode): `GET /pull?cursor=&limit=` answers the
 * events queued for the signed caller — only the rows whose destination is the caller — in
 * outbox order, `{events, cursor}`; when there are none it waits up to `pullWaitMs` for new ones.
 * `POST /pull/ack {cursor, refused?, held?}` deletes the caller's rows up to the cursor (the only
 * way a pulled event counts as delivered), except those it names as refused: marked failed with
 * its refusal, as a push refused so would be; those it names as held are noted so, as a push's
 * receipt saying `held` is (pull-queue.ts).
 */
export function pullRoutes(deps: FederationDeps): Router {
  const router = new Router();
  /** Re-issues per event id after an ack's `depth_too_old` (since start; the oldest forgotten past 10,000): a host that keeps refusing cannot loop us (as a push's, reissue-too-old.ts). */
  const reissues = new Map<string, number>();
  router.get(PULL_PATH, deps.verifySignedRequest, async (ctx) => {
    const pull = deps.pull;
    if (!pull) throw notFound('not_supported', 'this server does not serve pull mode');
    const state = ctx.state as SignedRequestState;
    const parsed = querySchema.safeParse(ctx.query);
    if (!parsed.success) throw badRequest('invalid_request', formatZodError(parsed.error));
    const { cursor, limit } = parsed.data;
    // A read: its answer (on every pulled event's way) does not wait for the replay entry's fsync.
    state.replayAnswerEarly = true;
    pull.touch(state.origin);
    let rows = state.quarantined ? [] : pull.page(state.origin, cursor, limit);
    if (rows.length === 0) {
      const gone = new AbortController();
      const onClose = () => gone.abort();
      ctx.req.once('close', onClose);
      try {
        await pull.wait(state.origin, deps.pullWaitMs ?? DEFAULT_PULL_WAIT_MS, gone.signal);
      } finally {
        ctx.req.off('close', onClose);
      }
      // The owner may have blocked or quarantined the caller while it waited: asked again, so
      // nothing queued after that is served to it (a block answers 403 as any new request would).
      state.recheck();
      if (!state.quarantined) rows = pull.page(state.origin, cursor, limit);
    }
    // The events are read a few rows at a time, up to the page's bytes: a page of 100 rows of
    // events of up to 64 KiB each was read whole (6.4 MB) to send 512 KiB, as often as a puller
    // that never acknowledges asks (a red-team review, 2026-11-30).
    const now = Date.now();
    const wires: string[] = [];
    let bytes = 0;
    let taken = 0;
    let last = cursor;
    let full = false;
    for (let at = 0; at < rows.length && !full; at += PULL_READ_ROWS) {
      const chunk = rows.slice(at, at + PULL_READ_ROWS);
      let loaded = deps.events.getMany(chunk.map((r) => r.event_id));
      // Our own events for a room the puller hosts, waiting since half its window (60 s): signed
      // again now (as a push refused 409 depth_too_old has them re-issued), which spares the host
      // a refusal and us a round. One it refuses all the same is named in its ack: queued again there.
      const stale = chunk.filter((row) => {
        const event = loaded.get(row.event_id);
        return event !== undefined && event.origin_server === deps.identity.serverName && serverOf(event.room_id) === state.origin && event.origin_ts < now - REISSUE_PULLED_AFTER_MS;
      });
      // Once each: a puller holding many requests at once had each of them sign every stale row again.
      for (const row of stale) await deps.rooms().reissueRefused(state.origin, row.event_id, 0, { signedBefore: now - REISSUE_PULLED_AFTER_MS }).catch(() => false);
      // Read again: re-signed by this request or by another one meanwhile (never the old copy served).
      if (stale.length > 0) loaded = deps.events.getMany(chunk.map((r) => r.event_id));
      for (const row of chunk) {
        const event = loaded.get(row.event_id);
        // A row whose event is gone from the store is skipped (acknowledging the cursor drops it).
        const wire = event ? envelopeWireJson(event) : '';
        const size = utf8Bytes(wire);
        // What fits in the page's bytes, at least one (as page-budget.ts withinBytes).
        if (taken > 0 && bytes + size > MAX_PULL_BYTES) {
          full = true;
          break;
        }
        bytes += size;
        taken++;
        last = row.id;
        if (wire !== '') wires.push(wire);
      }
    }
    ctx.type = 'application/json';
    ctx.body = `{"events":[${wires.join(',')}],"cursor":"${last}"}`;
  });

  router.post(PULL_ACK_PATH, deps.verifySignedRequest, async (ctx) => {
    const pull = deps.pull;
    if (!pull) throw notFound('not_supported', 'this server does not serve pull mode');
    const state = ctx.state as SignedRequestState;
    const parsed = ackSchema.safeParse(parseJsonBody(state.rawBody));
    if (!parsed.success) throw badRequest('invalid_request', `body must be {"cursor": "<cursor from a pull>", "refused"?: [{"event_id", "status", "error"}], "held"?: ["<event id>"]}: ${formatZodError(parsed.error)}`);
    if (!pull.isKnownCursor(parsed.data.cursor)) throw badRequest('unknown_cursor', 'this cursor was never given out by this server');
    // One group-commit job with the replay entry (its fsync off the event loop, shared with the
    // node's other writes); answered only once durable, so an acknowledged row never comes back.
    const { cursor, refused, held } = parsed.data;
    // Not served while quarantined (GET answers none): nor settled by its word meanwhile.
    if (state.quarantined) throw forbidden('origin_quarantined', `${state.origin} is quarantined by this server: nothing is served to it, so there is nothing to acknowledge until the owner ends the quarantine`);
    // Our own events of a room the caller hosts that it took too late (409 depth_too_old: signed
    // over its minute before it stored them): signed again and queued again in the ack's
    // transaction (both durable together; a pull meanwhile never serves the refused copy), as a
    // push refused so is; at most MAX_REISSUES times each (counted before the commit: acks sent
    // together cannot pass the bound), then they fail.
    // At most MAX_RESIGNED_PER_ACK signed in the ack's job (each a signature and a write, while
    // every other write waits): past that, queued again as they are, and signed as they are
    // served (the GET signs again what waited over REISSUE_PULLED_AFTER_MS).
    const reissued: Envelope[] = [];
    const resend = (row: { event_id: string; room_id: string }): boolean => {
      const count = reissues.get(row.event_id) ?? 0;
      if (count >= MAX_REISSUES || serverOf(row.room_id) !== state.origin) return false;
      if (reissues.size >= 10_000 && !reissues.has(row.event_id)) reissues.delete(reissues.keys().next().value!);
      reissues.set(row.event_id, count + 1);
      if (reissued.length >= MAX_RESIGNED_PER_ACK) return deps.events.get(row.event_id)?.origin_server === deps.identity.serverName;
      // In a savepoint of its own: a re-sign that fails (a write) fails that row, not the whole ack.
      let event: Envelope | null = null;
      try {
        event = deps.commit.savepoint(() => deps.rooms().reissueNow(state.origin, row.event_id, 0));
      } catch (error) {
        // SQLite rolled the whole transaction back (a full disk): the ack fails whole, nothing written outside it.
        if (!deps.commit.transactionOpen) throw error;
        warnLimited(deps.log, `pull_reissue_failed ${state.origin}`, { event: 'pull_reissue_failed', server: state.origin, event_id: row.event_id, err: error }, 'could not sign again an event a pulling host took too late; marked failed');
      }
      if (event !== null) reissued.push(event);
      return event !== null;
    };
    const { acknowledged, failed, resent, requeued } = await deps.commit.run(() => {
      deps.replay.record(state.signature, state.origin, state.requestTs, state.replayForWeek === true);
      return pull.ack(state.origin, cursor, refused ?? [], Date.now(), held, resend);
      // Told once committed (before the WAL flush: a flush that fails does not undo the commit).
    }, () => reissued.forEach((event) => deps.rooms().reissued(event)));
    state.replayRecorded = true;
    deps.onPullAck?.(state.origin, acknowledged);
    const again = resent.length + requeued.length;
    if (again > 0) pull.notify(state.origin);
    ctx.body = refused === undefined ? { acknowledged } : { acknowledged, refused: failed, ...(again > 0 ? { sent_again: again } : {}) };
  });
  return router;
}
