/**
 * Delivery (docs/ARCHITECTURE.md §Outbound delivery: the outbox): one worker per destination, one request in flight per destination,
 * FIFO from the outbox so per-room order holds. Batches of up to 100 events go through
 * `POST /events` when the peer advertises `batch`, otherwise one event per `POST /event`.
 *
 * Network errors, 5xx, 401 and 429 retry with exponential backoff and jitter (Retry-After
 * honoured); 400/403/404/409/413 are permanent and move the entry to `failed` with the peer's
 * reason, visible to the owner. Entries older than the maximum age expire (kept, visible).
 * Every attempt is recorded. One dead peer never holds up another: each destination has its
 * own loop, its own timer and its own request.
 *
 * A destination with a push limit (push-pacer.ts: a Paracord reference, 120 events a minute) is
 * paced: the next attempt waits for room in its window, and its 429 is "slow down", not a
 * failure — the entry keeps its attempt count and stays pending, and the peer shows as paced.
 *
 * Here: the entry point (`deliver`), scheduling (a worker's run, its backoff and pacing timers)
 * and one attempt. In their own files: what a worker is given (delivery-deps.ts) and knows of a
 * destination (destination-state.ts), batches (delivery-batches.ts), where a request goes —
 * pull, mailbox or direct (delivery-route.ts) —, what its answer means (delivery-outcomes.ts),
 * and re-issuing events refused as too old (reissue-too-old.ts).
 */
import { infoLimited, warnLimited } from '../log/rate-limit.ts';
import { DEFAULT_BACKOFF, MAX_RETRY_AFTER_MS, parseRetryAfter } from './backoff.ts';
import type { OutboxRow } from './outbox.ts';
import { WireCache } from './wire-cache.ts';
import { batchOutcomes, logOutcomes, requestOutcomes } from './delivery-outcomes.ts';
import { depositIdOf } from '../mailbox/wire.ts';
import { EVENTS_PATH, EVENT_PATH } from '../federation/paths.ts';
import { DEFAULT_MAX_AGE_MS, type DeliveryDeps } from './delivery-deps.ts';
import { newDestinationState, type DestinationState } from './destination-state.ts';
import { batchLimit, prepareRun, wholeBatchRefused, type Prepared } from './delivery-batches.ts';
import { sendRequest, viaMailbox, waitsForPull } from './delivery-route.ts';
import { TooOldReissues } from './reissue-too-old.ts';
import { guarded } from '../util/guarded.ts';

/** After a timer's kick failed on the database: the next try (kickFromTimer). */
const TIMER_RETRY_MS = 30_000;

export { DEFAULT_MAX_AGE_MS, type DeliveryDeps } from './delivery-deps.ts';

/** Whether the destination's requests may end a wait now (at most once per MIN_WAKE_GAP_MS); if not, the wake is due at the end of the gap (util/wake-gap.ts). */
const wakeAllowed = (state: DestinationState): boolean => state.wake.take() === 0;

/** A row just committed to the outbox (what a kick may hand over; its event's wire form is in the wire cache). */
export interface FreshDelivery {
  row: OutboxRow;
}

export class DeliveryWorkers {
  private readonly deps: DeliveryDeps;
  private readonly destinations = new Map<string, DestinationState>();
  private stopped = false;
  /** Runs started on a row a kick handed over, and reads of each destination's queue (tests, probes). */
  readonly stats = { handed: 0, queueReadsOf: new Map<string, number>() };
  /** The wire form of events just made here, for their delivery (wire-cache.ts). */
  readonly wire = new WireCache();
  /** Events refused as too old, re-issued (reissue-too-old.ts). */
  private readonly reissues: TooOldReissues;

  constructor(deps: DeliveryDeps) {
    this.deps = deps;
    this.reissues = new TooOldReissues(deps, this.wire);
    deps.subscribeQueued?.((destination) => this.noteQueued(destination));
  }

  /** Resumes every destination with pending entries (at start, after a resume). */
  start(): void {
    this.stopped = false;
    this.deps.outbox.expireOlderThan(this.maxAgeMs);
    for (const destination of this.deps.outbox.destinationsWithPending()) this.kick(destination);
  }

  private get maxAgeMs(): number {
    return this.deps.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  }

  /**
   * The one way to ask for delivery to `destination`: what is queued for it is sent, now or once
   * its backoff or pacing allows (a destination that pulls is told instead). Call it after the
   * commit that queued its rows, or when whatever held them back changed (a quarantine released,
   * an endpoint reached, the owner's retry).
   * - `fresh`: the row the caller's commit just queued; if the worker knows the queue was empty
   *   before, that row is the whole queue and is sent without reading the queue again.
   * - `queued`: the caller's commit only queued rows for it (implied by `fresh`). A destination
   *   waiting out a backoff or its pacing keeps waiting: the new rows are behind its head (FIFO),
   *   so nothing it decided on changed, and its queue is not read again for each new row.
   * - `peerIsBack`: the destination talked to us: a backoff it is waiting out ends now (without
   *   one, nothing is started: its worker is already running or has nothing to retry).
   *
   * Its parts are private: `kick` (= deliver without `peerIsBack`), `wake` (= with it) and
   * `noteQueued` (counting, inside the queuing transaction, through `subscribeQueued`); `start`
   * and `stop` begin and end the workers' life.
   */
  deliver(destination: string, why: { fresh?: FreshDelivery; queued?: boolean; peerIsBack?: boolean } = {}): void {
    if (why.peerIsBack) this.wake(destination);
    else this.kick(destination, why.fresh, why.queued === true || why.fresh !== undefined);
  }

  /**
   * New work for a destination (deliver() without `peerIsBack`). `fresh`: the row the caller's
   * commit just queued for it; if the worker knows the queue was empty before, that row is the whole queue.
   * `onlyQueued`: rows were queued and nothing else changed (see deliver).
   */
  private kick(destination: string, fresh?: FreshDelivery, onlyQueued = false): void {
    // Whatever happens next, the queue may not be empty any more.
    const known = this.destinations.get(destination);
    const wasEmpty = known?.queueEmpty ?? false;
    if (known) known.queueEmpty = false;
    if (this.stopped || this.deps.isPaused()) return;
    if (waitsForPull(this.deps, destination)) {
      this.deps.pull?.notify(destination);
      this.untilPullLapses(destination);
      return;
    }
    const state = this.state(destination);
    const handed = wasEmpty && fresh && state.queuedSinceRead === 1 && !state.running && !state.timer && fresh.row.destination === destination ? fresh : null;
    // A handed row is what a read of the queue would give now: only a kick after this one means more.
    state.kicked = handed === null;
    if (state.running) return;
    if (state.timer) {
      // Waiting for its head's next attempt or for room in its window: rows queued behind the head
      // change neither, and the timer reads the queue when it fires. (Before, each message to a
      // room with a friend's dead node in it read 500 rows of that node's queue: +1 ms of the
      // sender's CPU per message at 200/s with a backlog of 100,000.)
      if (onlyQueued) return;
      clearTimeout(state.timer);
      state.timer = null;
    }
    state.running = true;
    state.inFlight = this.run(destination, state, handed)
      .catch((error: Error) => this.deps.log.error({ event: 'delivery_worker_crashed', destination, err: error }, 'delivery worker failed; it restarts on the next event'))
      .finally(() => {
        state.running = false;
        state.inFlight = null;
      });
  }

  /** A row was queued for `destination` (in the queuing transaction; its kick comes later). */
  private noteQueued(destination: string): void {
    const state = this.destinations.get(destination);
    if (state) state.queuedSinceRead++;
  }

  /** The destination talked to us: it is reachable, so stop waiting out its backoff (deliver() with `peerIsBack`). */
  private wake(destination: string): void {
    const state = this.destinations.get(destination);
    if (!state) return;
    if (state.running) {
      // An attempt may be failing right now and about to set a fresh backoff; remember the wake
      // (limited where it takes effect, in run: a healthy peer's requests during attempts are no wake).
      state.wokenDuringAttempt = true;
      return;
    }
    if (!state.backingOff) return;
    if (!wakeAllowed(state)) {
      // Too soon after the last wake: the backoff's timer fires at the end of the gap instead.
      const at = Date.now() + state.wake.dueIn();
      if (state.timer && state.timerAt > at) {
        clearTimeout(state.timer);
        this.schedule(destination, state, at - Date.now());
      }
      return;
    }
    state.backingOff = false;
    this.deps.outbox.wake(destination);
    this.kick(destination);
  }

  /**
   * Its rows wait for its pulls: when it stops pulling, they are pushed (a kick then; while it
   * still pulls, that kick only wakes its pull and waits for the next end). One timer per
   * destination, none once nothing waits for it.
   */
  private untilPullLapses(destination: string): void {
    const lapsesAt = this.deps.pull?.pullLapsesAt(destination);
    if (lapsesAt == null || this.stopped) return;
    const state = this.state(destination);
    if (state.pullTimer) return;
    state.pullTimer = setTimeout(() => {
      state.pullTimer = null;
      if (this.stopped) return;
      let waiting = true;
      try {
        waiting = this.deps.outbox.head(destination, 1).length > 0;
      } catch {
        // Not known (a failure of the database): kicked, which reads the queue again.
      }
      if (waiting) this.kickFromTimer(destination);
    }, Math.max(0, lapsesAt - Date.now()) + 50);
    state.pullTimer.unref();
  }

  /** The worker waits `delay` ms (a backoff, its pacing, or a wake due at the end of its gap), then reads its queue again. */
  private schedule(destination: string, state: DestinationState, delay: number): void {
    // A run that was awaiting (a discovery lookup) when the workers stopped arms no timer: its
    // callback would write to a database that may be closed by then.
    if (this.stopped) return;
    state.timerAt = Date.now() + delay;
    state.timer = setTimeout(() => {
      state.timer = null;
      if (this.stopped) return;
      // A wake that was due: the backoff it ends is still stored on the head row. Not written
      // (a failure of the database): the kick still runs, and the backoff ends when it is due.
      if (state.wake.due && state.backingOff && wakeAllowed(state)) {
        state.backingOff = false;
        guarded(this.deps.log, 'delivery_timer_failed', () => this.deps.outbox.wake(destination));
      }
      this.kickFromTimer(destination);
    }, delay);
    state.timer.unref();
  }

  /**
   * A timer's kick. Its first steps read the database (where the destination is reached from): a
   * failure there is logged and the kick tried again TIMER_RETRY_MS later, not thrown out of the
   * timer (which ended the node) nor left for an event that may not come.
   */
  private kickFromTimer(destination: string): void {
    try {
      this.kick(destination);
    } catch (error) {
      warnLimited(this.deps.log, `delivery_timer_failed ${destination}`, { event: 'delivery_timer_failed', destination, err: error }, 'a delivery could not be started (a failure of the database); tried again shortly');
      const state = this.state(destination);
      if (!this.stopped && !state.running && !state.timer) this.schedule(destination, state, TIMER_RETRY_MS);
    }
  }

  /** Stops scheduling; lets requests in flight finish for up to `graceMs`, then aborts them (they stay queued). */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    for (const state of this.destinations.values()) {
      if (state.timer) clearTimeout(state.timer);
      if (state.pullTimer) clearTimeout(state.pullTimer);
      state.timer = null;
      state.pullTimer = null;
    }
    const inFlight = [...this.destinations.values()].map((s) => s.inFlight);
    const timer = setTimeout(() => {
      for (const state of this.destinations.values()) state.abort?.abort();
    }, graceMs);
    await Promise.all(inFlight);
    clearTimeout(timer);
  }

  status(destination: string): { backing_off: boolean; paced: boolean; in_flight: boolean; waiting_to_be_pulled: boolean; never_reached: boolean; last_pull_at: number | null; via_mailbox: string | null } {
    const state = this.destinations.get(destination);
    const pulled = this.deps.pull?.receiver(destination);
    return {
      backing_off: state?.backingOff ?? false,
      paced: state?.paced ?? false,
      in_flight: state?.running ?? false,
      waiting_to_be_pulled: waitsForPull(this.deps, destination),
      // Its endpoint is its word, never proven: nothing is sent there (issue #32).
      never_reached: this.deps.pull?.unreachedReason(destination) != null,
      last_pull_at: pulled?.last_pull_at ?? null,
      // Pushes go to its mailbox (issue #32): only there, or for a while after a direct one failed.
      via_mailbox: viaMailbox(this.deps, destination),
    };
  }

  private state(destination: string): DestinationState {
    let state = this.destinations.get(destination);
    if (!state) {
      state = newDestinationState();
      this.destinations.set(destination, state);
    }
    return state;
  }

  private async run(destination: string, state: DestinationState, handed: FreshDelivery | null): Promise<void> {
    // The next batch, prepared while the current request is on the wire.
    let next: Prepared | null = null;
    while (!this.stopped && !this.deps.isPaused() && !this.deps.isHeld?.(destination)) {
      // It receives by pull now: its rows wait for its GET /pull (pull-queue.ts).
      if (waitsForPull(this.deps, destination)) {
        this.untilPullLapses(destination);
        return;
      }
      // Nothing can be signed without an identity (an attempt would fail at once, and the loop
      // would read and try again without ever waiting): the next kick starts it again.
      if (!this.deps.identity()) return;
      const limit = await batchLimit(this.deps, destination, state);
      const batch = limit > 1;
      // One read of the queue per request: the head decides (backoff, probe), and the same rows
      // are the batch. A destination that is failing gets a one-event probe, not a full batch: a
      // dead peer then costs one small request and one row update per retry, whatever its backlog.
      // A row handed over by the kick (the queue was empty before it) stands for that read.
      let rows: OutboxRow[];
      if (handed) {
        rows = [handed.row];
        handed = null;
        this.stats.handed++;
      } else {
        state.kicked = false;
        rows = this.deps.outbox.head(destination, limit);
        this.stats.queueReadsOf.set(destination, (this.stats.queueReadsOf.get(destination) ?? 0) + 1);
      }
      // The handed row stands for a read that saw it alone.
      state.queuedSinceRead = 0;
      const head = rows[0];
      if (!head) {
        state.paced = false;
        state.queueEmpty = true;
        state.wake.cancel();
        return;
      }
      if (state.wokenDuringAttempt) {
        state.wokenDuringAttempt = false;
        if (head.next_attempt_at > Date.now() && wakeAllowed(state)) {
          this.deps.outbox.wake(destination);
          continue;
        }
      }
      const wait = head.next_attempt_at - Date.now();
      const paced = wait > 0 ? 0 : (this.deps.pacer?.delay(destination) ?? 0);
      if (wait > 0 || paced > 0) {
        state.backingOff = wait > 0;
        state.paced = paced > 0;
        // Capped (a stored next attempt from before Retry-After was, or a clock jump): a timer past
        // Node's limit fires at once. One that fires early reads the head and waits again.
        const wakeIn = wait > 0 ? state.wake.dueIn() : Infinity;
        this.schedule(destination, state, Math.max(0, Math.min(Math.max(wait, paced), MAX_RETRY_AFTER_MS, wakeIn)));
        return;
      }
      // An attempt now answers whatever wake was due.
      state.wake.cancel();
      state.backingOff = false;
      state.paced = false;
      const probing = head.attempts > 0;
      const preparedAhead = next !== null && next.sendable[0]?.row.id === head.id;
      const current = preparedAhead ? next : prepareRun(this.deps, this.wire, destination, batch && !probing ? rows : [head], batch && !probing);
      next = null;
      if (!current) continue;
      const sending = this.attempt(destination, state, current);
      if (current.useBatch) {
        await new Promise((resolve) => setImmediate(resolve)); // let the request leave first
        const after = this.deps.outbox.headAfter(destination, current.sendable[current.sendable.length - 1]!.row.id, limit);
        next = after.length > 0 ? prepareRun(this.deps, this.wire, destination, after, true) : null;
      }
      if (!(await sending)) {
        next = null;
        continue;
      }
      // Everything read was sent and delivered, the read saw the whole queue, and nothing was
      // enqueued since (no kick): the queue is empty, no need to read it again.
      const sentAll = !preparedAhead && !probing && rows.length < limit && current.sendable[current.sendable.length - 1]!.row.id === rows[rows.length - 1]!.id;
      if (sentAll && next === null && !state.kicked && state.queuedSinceRead === 0 && !state.wokenDuringAttempt) {
        state.paced = false;
        state.queueEmpty = true;
        state.wake.cancel();
        return;
      }
    }
  }

  /** Sends a prepared run and records the outcome; true when every event was delivered. */
  private async attempt(destination: string, state: DestinationState, prepared: Prepared): Promise<boolean> {
    const { outbox, log } = this.deps;
    const { sendable, useBatch } = prepared;
    const identity = this.deps.identity();
    if (!identity) return false;
    const started = performance.now();
    const abort = new AbortController();
    state.abort = abort;
    const path = useBatch ? EVENTS_PATH : EVENT_PATH;
    const body = useBatch ? `{"events":[${sendable.map((s) => s.wire).join(',')}]}` : sendable[0]!.wire;
    const { response, networkError, deposited } = await sendRequest(this.deps, identity, destination, path, body, sendable.length, abort);
    state.abort = null;
    const latency = performance.now() - started;
    if (this.stopped && networkError && abort.signal.aborted) return false; // shutting down: stays queued, untouched

    // One clock reading for the attempt's time and the next attempt's, so Retry-After holds exactly.
    const now = Date.now();
    // Its node answered (not a mailbox for it, not whatever else answers at its address with a 5xx
    // or a page: a node answers in JSON, a 2xx too).
    const answeredJson = typeof response?.json === 'object' && response.json !== null;
    if (deposited === null && response && answeredJson && (response.status < 300 || (response.status < 500 && typeof (response.json as { error?: unknown }).error === 'string'))) {
      this.deps.onAnswered?.(destination);
    }
    this.deps.pacer?.record(destination, sendable.length, now);
    // A mailbox's 429 (it is full) is the mailbox's: the destination is not paced for it (below, a retry).
    const pacedUntil = deposited === null && response?.status === 429 ? (this.deps.pacer?.refused(destination, parseRetryAfter(response.headers['retry-after'], now), now) ?? null) : null;
    if (pacedUntil !== null) {
      // "Slow down" from a paced destination: not a failure, no growing back-off (push-pacer.ts).
      const error = `HTTP 429: paced, the peer takes at most its limit per minute; next attempt in ${Math.ceil((pacedUntil - now) / 1000)} s`;
      outbox.settle(destination, sendable.map(({ row }) => ({ row, outcome: { kind: 'paced', status: 429, error } })), latency, now);
      this.deps.onAttempt?.(destination, 'retry', latency, 0);
      // Limited: the peer chooses Retry-After, down to 1 ms.
      infoLimited(log, `delivery_paced ${destination}`, { event: 'delivery_paced', destination, count: sendable.length, retry_in_ms: pacedUntil - now }, 'peer asked us to slow down; pacing');
      this.deps.onChange?.();
      return false;
    }
    if (wholeBatchRefused(this.deps, destination, state, prepared, response, latency, now, deposited)) return false;
    // (After the whole-batch refusal: a refused batch is not re-issued, whatever its body says.)
    // A deposit answers for the whole request: stored at the mailbox, or not.
    let outcomes = useBatch && deposited === null && response && response.status >= 200 && response.status < 300
      ? batchOutcomes(sendable, response, now, this.deps.backoff ?? DEFAULT_BACKOFF)
      : requestOutcomes(sendable, response, networkError, now, this.deps.backoff ?? DEFAULT_BACKOFF, deposited, this.deps.plainRefusals?.(destination) ?? false);
    if (this.deps.reissue && deposited === null && response?.status !== undefined && response.status < 500) outcomes = await this.reissues.apply(destination, outcomes, response, now);
    // A deposit's record is written with the rows' deletion, or neither is: the record is then the
    // only place that knows its events wait at the mailbox (asked about, queued again after its week).
    const depositId = deposited !== null ? depositIdOf(response) : null;
    const deposit = deposited !== null && depositId !== null ? outcomes.filter((o) => o.outcome.kind === 'delivered').map((o) => o.row.event_id) : [];
    outbox.settle(destination, outcomes, latency, now, deposit.length > 0 ? () => this.deps.deposits?.record(destination, deposited!, depositId!, deposit, now) : undefined);
    for (const { row, outcome } of outcomes) if (outcome.kind === 'delivered' || outcome.kind === 'failed') this.wire.settled(row.event_id);
    const delivered = outcomes.filter((o) => o.outcome.kind === 'delivered').length;
    this.deps.onAttempt?.(
      destination,
      networkError !== undefined ? 'network_error' : delivered === outcomes.length ? 'delivered' : outcomes.some((o) => o.outcome.kind === 'failed') ? 'refused' : 'retry',
      latency,
      delivered,
    );
    logOutcomes(this.deps.log, destination, outcomes, latency);
    this.deps.onChange?.();
    return outcomes.every((o) => o.outcome.kind === 'delivered');
  }
}
