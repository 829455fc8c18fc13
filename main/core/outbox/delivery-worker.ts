/**
 * Delivery (DESIGN.md §6): one worker per destination, one request in flight per destination,
 * FIFO from the outbox so per-room order holds. Network errors, 5xx, 401 and 429 retry with
 * backoff (Retry-After honoured); 400/403/404/409/413 are permanent and move the entry to
 * `failed` with the peer's reason, visible to the owner. One dead peer never holds up another:
 * each destination has its own loop and its own timer.
 */
import type { Logger } from 'pino';
import type { Identity } from '../identity/identity.ts';
import type { Discovery } from '../federation/discovery.ts';
import { envelopeWireJson } from '../federation/envelope.ts';
import type { HttpClient } from '../federation/http-client.ts';
import type { FederationEvents } from '../store/federation-events.ts';
import { backoffDelay, parseRetryAfter, type BackoffPolicy, DEFAULT_BACKOFF } from './backoff.ts';
import type { Outbox, OutboxRow } from './outbox.ts';

const EVENT_PATH = '/_paracord/federation/v1/event';
const PERMANENT = new Set([400, 403, 404, 409, 413]);

interface DestinationState {
  running: boolean;
  timer: NodeJS.Timeout | null;
  backingOff: boolean;
  inFlight: Promise<void> | null;
}

export interface DeliveryDeps {
  outbox: Outbox;
  events: FederationEvents;
  http: HttpClient;
  discovery: Discovery;
  identity: () => Identity | null;
  log: Logger;
  isPaused: () => boolean;
  backoff?: BackoffPolicy;
  onChange?: () => void;
}

export class DeliveryWorkers {
  private readonly deps: DeliveryDeps;
  private readonly destinations = new Map<string, DestinationState>();
  private stopped = false;

  constructor(deps: DeliveryDeps) {
    this.deps = deps;
  }

  /** Resumes every destination with pending entries (at start). */
  start(): void {
    this.stopped = false;
    for (const destination of this.deps.outbox.destinationsWithPending()) this.kick(destination);
  }

  /** New work for a destination. */
  kick(destination: string): void {
    if (this.stopped || this.deps.isPaused()) return;
    const state = this.state(destination);
    if (state.running) return;
    if (state.timer) {
      clearTimeout(state.timer);
      state.timer = null;
    }
    state.running = true;
    state.inFlight = this.run(destination, state).finally(() => {
      state.running = false;
      state.inFlight = null;
    });
  }

  /** The destination talked to us: it is reachable, so stop waiting out its backoff. */
  wake(destination: string): void {
    const state = this.destinations.get(destination);
    if (!state?.backingOff) return;
    state.backingOff = false;
    this.deps.outbox.wake(destination);
    this.kick(destination);
  }

  /** Stops scheduling; waits for requests in flight to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const state of this.destinations.values()) {
      if (state.timer) clearTimeout(state.timer);
      state.timer = null;
    }
    await Promise.all([...this.destinations.values()].map((s) => s.inFlight));
  }

  status(destination: string): { backing_off: boolean; in_flight: boolean } {
    const state = this.destinations.get(destination);
    return { backing_off: state?.backingOff ?? false, in_flight: state?.running ?? false };
  }

  private state(destination: string): DestinationState {
    let state = this.destinations.get(destination);
    if (!state) this.destinations.set(destination, (state = { running: false, timer: null, backingOff: false, inFlight: null }));
    return state;
  }

  private async run(destination: string, state: DestinationState): Promise<void> {
    while (!this.stopped && !this.deps.isPaused()) {
      const [row] = this.deps.outbox.head(destination, 1);
      if (!row) return;
      const wait = row.next_attempt_at - Date.now();
      if (wait > 0) {
        state.backingOff = true;
        state.timer = setTimeout(() => {
          state.timer = null;
          this.kick(destination);
        }, wait);
        state.timer.unref();
        return;
      }
      state.backingOff = false;
      await this.attempt(destination, row);
    }
  }

  private async attempt(destination: string, row: OutboxRow): Promise<void> {
    const { outbox, events, http, discovery, log } = this.deps;
    const identity = this.deps.identity();
    const event = events.get(row.event_id);
    if (!identity || !event) {
      outbox.fail(row.id, event ? 'node has no identity' : 'event no longer stored');
      return;
    }
    const started = performance.now();
    let status: number | undefined;
    let error: string;
    let retryAfterMs: number | undefined;
    try {
      const endpoint = await discovery.endpointOf(destination);
      const response = await http.signed(identity, 'POST', endpoint, EVENT_PATH, envelopeWireJson(event));
      status = response.status;
      if (status >= 200 && status < 300) {
        outbox.delivered([row.id]);
        log.debug({ event: 'delivered', destination, event_id: row.event_id, ms: Math.round(performance.now() - started) }, 'event delivered');
        this.deps.onChange?.();
        return;
      }
      const body = response.json as { error?: string; message?: string } | undefined;
      error = `HTTP ${status}${body?.error ? ` ${body.error}` : ''}${body?.message ? `: ${body.message}` : ''}`;
      retryAfterMs = parseRetryAfter(response.headers['retry-after']);
    } catch (e) {
      error = (e as Error).message;
    }
    if (status !== undefined && PERMANENT.has(status)) {
      outbox.fail(row.id, error);
      log.warn({ event: 'delivery_failed', destination, event_id: row.event_id, status, error }, 'delivery refused by peer; entry marked failed');
    } else {
      const delay = Math.max(retryAfterMs ?? 0, backoffDelay(row.attempts + 1, this.deps.backoff ?? DEFAULT_BACKOFF));
      outbox.retryLater([row.id], Date.now() + delay, error);
      log.info({ event: 'delivery_retry', destination, event_id: row.event_id, status, error, retry_in_ms: delay, attempts: row.attempts + 1 }, 'delivery will be retried');
    }
    this.deps.onChange?.();
  }
}
