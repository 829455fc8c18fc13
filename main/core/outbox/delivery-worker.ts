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
 */
import type { Logger } from 'pino';
import { jsonShape, WIRE_JSON_LIMITS } from '../crypto/json-limits.ts';
import { infoLimited, warnLimited } from '../log/rate-limit.ts';
import type { Discovery } from '../federation/discovery.ts';
import { envelopeWireJson, type Envelope } from '../federation/envelope.ts';
import type { FederationResponse, HttpClient } from '../federation/http-client.ts';
import type { Identity } from '../identity/identity.ts';
import type { FederationEvents } from '../store/federation-events.ts';
import { DEFAULT_BACKOFF, backoffDelay, parseRetryAfter, type BackoffPolicy } from './backoff.ts';
import type { Outbox, OutboxRow, Outcome } from './outbox.ts';
import type { PullQueue } from '../pull/pull-queue.ts';
import type { MailboxSender } from '../mailbox/sender.ts';
import type { MailboxDeposits } from '../mailbox/deposits.ts';
import type { PushPacer } from './push-pacer.ts';
import { WireCache } from './wire-cache.ts';
import { batchOutcomes, logOutcomes, requestOutcomes } from './delivery-outcomes.ts';
import { BATCH_CAPABILITY, EVENTS_PATH, EVENT_PATH, LARGE_BATCH_CAPABILITY } from '../federation/paths.ts';

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
export const DEFAULT_MAX_AGE_MS = 7 * 24 * 3600_000;
/** How many times one event refused as too old (409 depth_too_old) is re-issued before it fails. */
const MAX_REISSUES = 5;

interface Prepared {
  sendable: Array<{ row: OutboxRow; wire: string }>;
  useBatch: boolean;
}

interface DestinationState {
  running: boolean;
  timer: NodeJS.Timeout | null;
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

/** A row just committed to the outbox (what a kick may hand over; its event's wire form is in the wire cache). */
export interface FreshDelivery {
  row: OutboxRow;
}

export interface DeliveryDeps {
  outbox: Outbox;
  events: FederationEvents;
  http: HttpClient;
  discovery: Discovery;
  identity: () => Identity | null;
  log: Logger;
  isPaused: () => boolean;
  /** Outbound to a quarantined server is paused until it is released. */
  isHeld?: (destination: string) => boolean;
  backoff?: BackoffPolicy;
  maxAgeMs?: number;
  onChange?: () => void;
  /**
   * The destination (a room's host) refused our event as placed too far back: 409
   * `depth_too_old` with its `room_depth`. Re-issues the event after the room's latest events
   * (rooms decide how); true when it did, and the event is to be sent again.
   */
  reissue?: (destination: string, eventId: string, roomDepth: unknown) => Promise<boolean>;
  /** Told about every delivery request (metrics): how it went, how long it took, how many events were acknowledged. */
  onAttempt?: (destination: string, outcome: 'delivered' | 'retry' | 'refused' | 'network_error', latencyMs: number, delivered: number) => void;
  /**
   * Pull mode (pull-queue.ts): a destination that pulls from us is not pushed to; its rows wait
   * to be pulled, and new work wakes its waiting pull instead.
   */
  pull?: PullQueue;
  /** A friend's node as a mailbox (issue #32): where a request goes when the destination cannot be reached. */
  mailbox?: MailboxSender;
  /** Where our events wait after a mailbox took them ("waiting at carol.example for bob.example"). */
  deposits?: MailboxDeposits;
  /** Push limits of destinations that have one (push-pacer.ts). */
  pacer?: PushPacer;
  /**
   * For a destination that would refuse or drop some events (a Paracord reference 3.x:
   * reference/carry.ts), why an event cannot be carried there (null: it can). Such an entry fails
   * at once with that reason, in words the owner reads in the queue; nothing is sent.
   */
  cannotCarry?: (destination: string) => ((event: Envelope) => string | null) | null;
}

export class DeliveryWorkers {
  private readonly deps: DeliveryDeps;
  private readonly destinations = new Map<string, DestinationState>();
  /** Re-issues per event id (since start), so a host that keeps refusing cannot loop us. */
  private readonly reissues = new Map<string, number>();
  private stopped = false;
  /** Runs started on a row a kick handed over, and reads of a destination's queue (tests, probes). */
  readonly stats = { handed: 0, queueReads: 0 };
  /** The wire form of events just made here, for their delivery (wire-cache.ts). */
  readonly wire = new WireCache();

  constructor(deps: DeliveryDeps) {
    this.deps = deps;
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
   * - `peerIsBack`: the destination talked to us: a backoff it is waiting out ends now (without
   *   one, nothing is started: its worker is already running or has nothing to retry).
   *
   * The other entry points are its parts: `kick` (= deliver without `peerIsBack`), `wake`
   * (= with it), `start` (every destination with pending rows) and `noteQueued` (counting, inside
   * the queuing transaction, through Outbox.onQueued).
   */
  deliver(destination: string, why: { fresh?: FreshDelivery; peerIsBack?: boolean } = {}): void {
    if (why.peerIsBack) this.wake(destination);
    else this.kick(destination, why.fresh);
  }

  /**
   * New work for a destination (deliver() without `peerIsBack`). `fresh`: the row the caller's
   * commit just queued for it; if the worker knows the queue was empty before, that row is the whole queue.
   */
  kick(destination: string, fresh?: FreshDelivery): void {
    // Whatever happens next, the queue may not be empty any more.
    const known = this.destinations.get(destination);
    const wasEmpty = known?.queueEmpty ?? false;
    if (known) known.queueEmpty = false;
    if (this.stopped || this.deps.isPaused()) return;
    if (this.waitsForPull(destination)) {
      this.deps.pull?.notify(destination);
      return;
    }
    const state = this.state(destination);
    const handed = wasEmpty && fresh && state.queuedSinceRead === 1 && !state.running && !state.timer && fresh.row.destination === destination ? fresh : null;
    // A handed row is what a read of the queue would give now: only a kick after this one means more.
    state.kicked = handed === null;
    if (state.running) return;
    if (state.timer) {
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
  noteQueued(destination: string): void {
    const state = this.destinations.get(destination);
    if (state) state.queuedSinceRead++;
  }

  /** The destination cannot be reached (a request to it failed): its mailbox is used straight away for a while. */
  noteUnreachable(destination: string): void {
    this.deps.mailbox?.noteUnreachable(destination);
  }

  /** The destination talked to us: it is reachable, so stop waiting out its backoff (deliver() with `peerIsBack`). */
  wake(destination: string): void {
    const state = this.destinations.get(destination);
    if (!state) return;
    if (state.running) {
      // An attempt may be failing right now and about to set a fresh backoff; remember the wake.
      state.wokenDuringAttempt = true;
      return;
    }
    if (!state.backingOff) return;
    state.backingOff = false;
    this.deps.outbox.wake(destination);
    this.kick(destination);
  }

  /** Stops scheduling; lets requests in flight finish for up to `graceMs`, then aborts them (they stay queued). */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopped = true;
    for (const state of this.destinations.values()) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = null;
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
      waiting_to_be_pulled: this.waitsForPull(destination),
      // Its endpoint is its word, never proven: nothing is sent there (issue #32).
      never_reached: this.deps.pull?.unreachedReason(destination) != null,
      last_pull_at: pulled?.last_pull_at ?? null,
      // Pushes go to its mailbox (issue #32): only there, or for a while after a direct one failed.
      via_mailbox: this.deps.mailbox && (this.mailboxOnly(destination) || this.deps.mailbox.preferred(destination)) ? this.deps.mailbox.mailboxOf(destination) : null,
    };
  }

  /**
   * Whether `destination`'s rows wait for its GET /pull (pull-queue.ts). Not a peer whose endpoint
   * was never reached, that does not pull from us and that has a mailbox (it peered through one,
   * issue #32): its requests go to that mailbox only, never to the endpoint it named.
   */
  private waitsForPull(destination: string): boolean {
    const pull = this.deps.pull;
    if (!pull?.isPullDestination(destination)) return false;
    return !this.mailboxOnly(destination);
  }

  private mailboxOnly(destination: string): boolean {
    const pull = this.deps.pull;
    return pull !== undefined && pull.unreachedReason(destination) !== null && !pull.pulledRecently(destination) && this.deps.mailbox?.mailboxOf(destination) != null;
  }

  private state(destination: string): DestinationState {
    let state = this.destinations.get(destination);
    if (!state) {
      state = { running: false, timer: null, backingOff: false, paced: false, inFlight: null, abort: null, noBatchUntil: 0, batchCap: 0, batchCapUntil: 0, wokenDuringAttempt: false, kicked: false, queueEmpty: false, queuedSinceRead: 0 };
      this.destinations.set(destination, state);
    }
    return state;
  }

  private async run(destination: string, state: DestinationState, handed: FreshDelivery | null): Promise<void> {
    // The next batch, prepared while the current request is on the wire.
    let next: Prepared | null = null;
    while (!this.stopped && !this.deps.isPaused() && !this.deps.isHeld?.(destination)) {
      // It receives by pull now: its rows wait for its GET /pull (pull-queue.ts).
      if (this.waitsForPull(destination)) return;
      const batchLimit = await this.batchLimit(destination, state);
      const batch = batchLimit > 1;
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
        rows = this.deps.outbox.head(destination, batchLimit);
        this.stats.queueReads++;
      }
      // The handed row stands for a read that saw it alone.
      state.queuedSinceRead = 0;
      const head = rows[0];
      if (!head) {
        state.paced = false;
        state.queueEmpty = true;
        return;
      }
      if (state.wokenDuringAttempt) {
        state.wokenDuringAttempt = false;
        if (head.next_attempt_at > Date.now()) {
          this.deps.outbox.wake(destination);
          continue;
        }
      }
      const wait = head.next_attempt_at - Date.now();
      const paced = wait > 0 ? 0 : (this.deps.pacer?.delay(destination) ?? 0);
      if (wait > 0 || paced > 0) {
        state.backingOff = wait > 0;
        state.paced = paced > 0;
        state.timer = setTimeout(() => {
          state.timer = null;
          this.kick(destination);
        }, Math.max(wait, paced));
        state.timer.unref();
        return;
      }
      state.backingOff = false;
      state.paced = false;
      const probing = head.attempts > 0;
      const preparedAhead = next !== null && next.sendable[0]?.row.id === head.id;
      const current = preparedAhead ? next : this.prepare(destination, batch && !probing ? rows : [head], batch && !probing);
      next = null;
      if (!current) continue;
      const sending = this.attempt(destination, state, current);
      if (current.useBatch) {
        await new Promise((resolve) => setImmediate(resolve)); // let the request leave first
        const after = this.deps.outbox.headAfter(destination, current.sendable[current.sendable.length - 1]!.row.id, batchLimit);
        next = after.length > 0 ? this.prepare(destination, after, true) : null;
      }
      if (!(await sending)) {
        next = null;
        continue;
      }
      // Everything read was sent and delivered, the read saw the whole queue, and nothing was
      // enqueued since (no kick): the queue is empty, no need to read it again.
      const sentAll = !preparedAhead && !probing && rows.length < batchLimit && current.sendable[current.sendable.length - 1]!.row.id === rows[rows.length - 1]!.id;
      if (sentAll && next === null && !state.kicked && state.queuedSinceRead === 0 && !state.wokenDuringAttempt) {
        state.paced = false;
        state.queueEmpty = true;
        return;
      }
    }
  }

  /** Events per request the destination takes: 1 (no batches), MAX_BATCH_EVENTS or LARGE_BATCH_EVENTS. */
  private async batchLimit(destination: string, state: DestinationState): Promise<number> {
    if (state.noBatchUntil > Date.now()) return 1;
    // Through a mailbox: its discovery cannot be read; every node that fetches from a mailbox takes large batches.
    // (A peer never reached is not asked even for its discovery: its endpoint is its word.)
    if (this.deps.mailbox?.preferred(destination) || this.mailboxOnly(destination)) return state.batchCapUntil > Date.now() ? Math.max(1, Math.min(LARGE_BATCH_EVENTS, state.batchCap)) : LARGE_BATCH_EVENTS;
    try {
      const { capabilities } = await this.deps.discovery.documentOf(destination);
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
  private prepare(destination: string, candidates: OutboxRow[], batch: boolean): Prepared | null {
    const { outbox, events, log } = this.deps;
    const now = Date.now();
    const settled: Array<{ row: OutboxRow; outcome: Outcome }> = [];
    const sendable: Array<{ row: OutboxRow; wire: string }> = [];
    let bytes = 0;
    if (candidates.some((row) => row.created_at + this.maxAgeMs < now)) {
      const expired = outbox.expireOlderThan(this.maxAgeMs, now);
      log.warn({ event: 'delivery_expired', destination, count: expired }, 'undelivered entries expired');
      candidates = candidates.filter((row) => row.created_at + this.maxAgeMs >= now);
    }
    // `{"events":[…]}` within the receivers' JSON limits (docs/PROTOCOL.md §Batch delivery): each envelope counts its
    // own elements and one as an element of the array (500 typical messages would pass the
    // 10,000), and sits two levels deeper than alone (one nested within 2 of the depth limit goes
    // alone, as a single event).
    let elements = 1;
    // Only a run of several can become a batch; a lone event is not measured.
    const measure = batch && candidates.length > 1;
    // Events made here moments ago come with their wire form (wire-cache.ts); the rest are read.
    const cached = candidates.map((row) => this.wire.get(row.event_id));
    const missing = candidates.filter((_, i) => !cached[i]).map((row) => row.event_id);
    const loaded = missing.length > 0 ? events.getMany(missing) : undefined;
    const cannotCarry = this.deps.cannotCarry?.(destination) ?? null;
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

  /** Sends a prepared run and records the outcome; true when every event was delivered. */
  private async attempt(destination: string, state: DestinationState, prepared: Prepared): Promise<boolean> {
    const { outbox, log } = this.deps;
    const { sendable, useBatch } = prepared;
    const identity = this.deps.identity();
    if (!identity) return false;
    const started = performance.now();
    const abort = new AbortController();
    state.abort = abort;
    let response: FederationResponse | undefined;
    let networkError: string | undefined;
    /** The mailbox that took the request instead of the destination (issue #32), if any. */
    let deposited: string | null = null;
    const path = useBatch ? EVENTS_PATH : EVENT_PATH;
    const body = useBatch ? `{"events":[${sendable.map((s) => s.wire).join(',')}]}` : sendable[0]!.wire;
    const mailbox = this.deps.mailbox;
    try {
      // Never pushed to an endpoint we never reached (issue #32): only its mailbox.
      const mailboxOnly = this.mailboxOnly(destination);
      let left = mailbox && (mailboxOnly || mailbox.preferred(destination)) ? await mailbox.deposit(identity, destination, path, body, abort.signal) : null;
      if (left === null && mailboxOnly) networkError = `no mailbox of ${destination} took the request (it was never reached directly)`;
      else if (left === null) {
        try {
          const endpoint = await this.deps.discovery.endpointOf(destination);
          response = await this.deps.http.signed(identity, 'POST', endpoint, path, body, { signal: abort.signal, destination });
        } catch (error) {
          networkError = (error as Error).message;
          // Nobody reaches it: leave the same request at a mailbox of it.
          if (mailbox && !abort.signal.aborted) {
            mailbox.noteUnreachable(destination);
            left = await mailbox.deposit(identity, destination, path, body, abort.signal);
          }
        }
      }
      if (left !== null) {
        response = left.response;
        deposited = left.mailbox;
        networkError = undefined;
      }
    } catch (error) {
      networkError ??= (error as Error).message;
    } finally {
      state.abort = null;
    }
    if (deposited !== null && response?.status === 200) {
      infoLimited(log, `delivery_deposited ${destination}`, { event: 'delivery_deposited', destination, mailbox: deposited, count: sendable.length }, `left at ${deposited}'s mailbox for ${destination} to fetch`);
    }
    const latency = performance.now() - started;
    if (this.stopped && networkError && abort.signal.aborted) return false; // shutting down: stays queued, untouched

    // One clock reading for the attempt's time and the next attempt's, so Retry-After holds exactly.
    const now = Date.now();
    this.deps.pacer?.record(destination, sendable.length, now);
    const pacedUntil = response?.status === 429 ? (this.deps.pacer?.refused(destination, parseRetryAfter(response.headers['retry-after'], now), now) ?? null) : null;
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
      const error = `batch refused (${sendable.length} events): HTTP ${response.status}; sending ${fallback} for a while`;
      outbox.settle(destination, sendable.map(({ row }) => ({ row, outcome: { kind: 'paced', status: response.status, error } })), latency, now);
      this.deps.onAttempt?.(destination, 'refused', latency, 0);
      return false;
    }
    // (After the whole-batch refusal: a refused batch is not re-issued, whatever its body says.)
    // A deposit answers for the whole request: stored at the mailbox, or not.
    let outcomes = useBatch && deposited === null && response && response.status >= 200 && response.status < 300
      ? batchOutcomes(sendable, response, now, this.deps.backoff ?? DEFAULT_BACKOFF)
      : requestOutcomes(sendable, response, networkError, now, this.deps.backoff ?? DEFAULT_BACKOFF);
    if (this.deps.reissue && response?.status !== undefined && response.status < 500) outcomes = await this.reissueTooOld(destination, outcomes, response, now);
    outbox.settle(destination, outcomes, latency, now);
    for (const { row, outcome } of outcomes) if (outcome.kind === 'delivered' || outcome.kind === 'failed') this.wire.settled(row.event_id);
    const depositId = deposited !== null ? (response?.json as { id?: unknown } | undefined)?.id : undefined;
    if (deposited !== null && typeof depositId === 'string' && /^[0-9]{1,15}$/.test(depositId)) {
      this.deps.deposits?.record(destination, deposited, Number(depositId), outcomes.filter((o) => o.outcome.kind === 'delivered').map((o) => o.row.event_id), now);
    }
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

  /** Events refused with 409 `depth_too_old` are re-issued (deps.reissue) and retried instead of failed. */
  private async reissueTooOld(destination: string, outcomes: Array<{ row: OutboxRow; outcome: Outcome }>, response: FederationResponse, now: number) {
    type Refusal = { event_id?: unknown; status?: unknown; error?: unknown; room_depth?: unknown };
    const body = response.json as (Refusal & { results?: unknown }) | undefined;
    const tooOld = new Map<unknown, unknown>();
    if (response.status === 409 && body?.error === 'depth_too_old' && outcomes.length === 1) tooOld.set(outcomes[0]!.row.event_id, body.room_depth);
    if (Array.isArray(body?.results)) {
      for (const r of body.results as Refusal[]) if (r?.status === 409 && r.error === 'depth_too_old') tooOld.set(r.event_id, r.room_depth);
    }
    if (tooOld.size === 0) return outcomes;
    const result: Array<{ row: OutboxRow; outcome: Outcome }> = [];
    for (const entry of outcomes) {
      const { row, outcome } = entry;
      const count = this.reissues.get(row.event_id) ?? 0;
      if (outcome.kind !== 'failed' || !tooOld.has(row.event_id) || count >= MAX_REISSUES) {
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
