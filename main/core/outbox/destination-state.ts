/** What a delivery worker (delivery-worker.ts) knows of one destination between and during its runs. */
import { WakeGap } from '../util/wake-gap.ts';

/**
 * The least time between two waits a destination's own requests end (wake). Its request says it is
 * reachable, not that it takes our events: one that answers 5xx while it sends us requests would
 * otherwise get an attempt per request it sends, whatever our backoff or its Retry-After.
 */
export const MIN_WAKE_GAP_MS = 10_000;

export interface DestinationState {
  running: boolean;
  timer: NodeJS.Timeout | null;
  /**
   * Its rows wait for its GET /pull: fires when that would end (it stops pulling: it went away, or
   * receives by push again), so that they are pushed then. Before, nothing kicked the worker when
   * the window ended: rows queued after its last pull waited for the next message to it.
   */
  pullTimer: NodeJS.Timeout | null;
  /** When `timer` fires (Date.now() scale; meaningless without a timer). */
  timerAt: number;
  backingOff: boolean;
  /** Waiting for room in its push window (push-pacer.ts), not failing. */
  paced: boolean;
  inFlight: Promise<void> | null;
  abort: AbortController | null;
  noBatchUntil: number;
  /** After it refused a batch as too large (400/413): at most this many events per batch, until `batchCapUntil`. */
  batchCap: number;
  batchCapUntil: number;
  /** The destination contacted us while an attempt was in flight: retry at once when it settles. */
  wokenDuringAttempt: boolean;
  /**
   * Its requests end a wait of ours (a backoff, or a failing attempt's) at most once per
   * MIN_WAKE_GAP_MS; one asked for sooner is due when the gap is over (the timer fires then at the
   * latest). Dropping it instead left the worker waiting out the whole backoff — up to a minute
   * after a paused friend resumed (CI).
   */
  wake: WakeGap;
  /**
   * New work was announced (kick) since the worker last read the queue. Every row enqueued is
   * followed by a kick at its commit, so a worker that sent everything it read, and was not
   * kicked meanwhile, knows the queue is empty without reading it again (issue #17: the read
   * after each lone message was a third of the delivery's queue work).
   */
  kicked: boolean;
  /**
   * The worker last stopped because its queue was empty, and no kick came since. A kick that
   * hands over the one row its commit queued (a lone message, the usual case at a chat's pace)
   * then starts the worker on that row without reading the queue (issue #17: that read, and the
   * read of the event, were ~8 % of a sending node's CPU per message at 200 messages/s).
   */
  queueEmpty: boolean;
  /**
   * Rows queued for it since the worker last read its queue (Outbox.onQueued, counted inside the
   * queuing transaction). Some rows are kicked only after their WAL flush (a host's relays), so a
   * kick alone does not say what was queued: the worker concludes "empty" only when nothing was
   * queued since its read, and a kick hands a row over only when that row is the one queued since.
   */
  queuedSinceRead: number;
}

export function newDestinationState(): DestinationState {
  return { running: false, timer: null, pullTimer: null, timerAt: 0, backingOff: false, paced: false, inFlight: null, abort: null, noBatchUntil: 0, batchCap: 0, batchCapUntil: 0, wokenDuringAttempt: false, wake: new WakeGap(MIN_WAKE_GAP_MS), kicked: false, queueEmpty: false, queuedSinceRead: 0 };
}
