/**
 * Prometheus metrics of one node (docs/ARCHITECTURE.md §What outside tools rely on: `GET /metrics` on the admin
 * listener). Each node has its own registry (several nodes in one process do not clash).
 *
 * Counters are fed by two hooks: the federation listener's answers to `POST /event` and
 * `POST /events` (one observer middleware: received events by result, rate-limit refusals)
 * and the delivery worker's attempts (attempts by outcome, latency). Everything else is read
 * from SQLite when scraped (outbox, peers, quarantine, database size, last backup), so the
 * rest of the node knows nothing about metrics.
 *
 * Label cardinality is bounded: the first `maxDestinations` destinations (default 20) seen
 * since start get their own `destination` label in counters, later ones are counted as
 * "other"; gauges read from SQLite list the `maxDestinations` largest backlogs and sum the
 * rest as "other". Error codes are our own short codes; anything else becomes "other".
 */
import { statSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Middleware } from 'koa';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Db } from '../store/database.ts';
import { searchDatabaseFile } from '../rooms/search-db.ts';
import type { ReceivedOutcome } from '../federation/event-ingest.ts';
import type { Reachability } from '../../../shared/contract/admin-operations.ts';
import { EVENTS_PATH, EVENT_PATH } from '../federation/paths.ts';
import type { ConnectionStats } from '../http/connection-limits.ts';

export const DEFAULT_LABELLED_DESTINATIONS = 20;
export const OTHER = 'other';
const ERROR_CODE = /^[a-z][a-z0-9_]{0,47}$/;

export type ReceivedResult = 'accepted' | 'duplicate' | 'held' | 'refused';
const ACCEPTED: [ReceivedResult, string] = ['accepted', ''];
const DUPLICATE: [ReceivedResult, string] = ['duplicate', ''];
const HELD: [ReceivedResult, string] = ['held', ''];
/** How an event came in: pushed to us, pulled (pull mode), or fetched by a room catch-up. */
export type ReceivedVia = 'push' | 'pull' | 'catch_up';
export type AttemptOutcome = 'delivered' | 'retry' | 'refused' | 'network_error';

export interface MetricsSources {
  db: Db;
  databaseFile: string;
  lastBackupAt: () => number | null;
  isPaused: () => boolean;
  /** The reachability self-test's last result (null before the node has an identity). */
  reachability?: () => Reachability | null;
  /** The federation listener's connection counts (null before it listens). */
  federationConnections?: () => ConnectionStats | null;
}

/** Sticky labels for the first `max` destinations; the rest share "other". */
export class DestinationLabels {
  private readonly known = new Set<string>();

  private readonly max: number;

  constructor(max: number) {
    this.max = max;
  }

  label(destination: string): string {
    if (this.known.has(destination)) return destination;
    if (this.known.size < this.max) {
      this.known.add(destination);
      return destination;
    }
    return OTHER;
  }
}

/** Keeps the `max` largest entries by value and sums the rest into "other". */
export function topWithOther(rows: Array<{ key: string; value: number }>, max: number): Array<{ key: string; value: number }> {
  const sorted = [...rows].sort((a, b) => b.value - a.value || a.key.localeCompare(b.key));
  const top = sorted.slice(0, max);
  const rest = sorted.slice(max).reduce((sum, r) => sum + r.value, 0);
  return rest > 0 || sorted.length > max ? [...top, { key: OTHER, value: rest }] : top;
}

/** How often the event loop's delay is sampled (prom-client's default is 10 ms: 100 wake-ups a second). */
export const EVENT_LOOP_SAMPLE_MS = 1_000;
/** The sampler stops when no scrape came for this long: an idle node nobody watches does not wake for it (issue #36). */
export const EVENT_LOOP_WATCHED_MS = 10 * 60_000;
/** The longest timer period libuv takes: prom-client's own delay sampler then never wakes the node. */
const PARKED_SAMPLER_MS = 2 ** 31 - 1;
const DELAY_FIGURES = { min: 'min', max: 'max', mean: 'mean', stddev: 'stddev', p50: 50, p90: 90, p99: 99 } as const;

/**
 * prom-client's event-loop delay gauges (same names), fed by a sampler that wakes once a second
 * while someone scrapes: it starts at a scrape and stops EVENT_LOOP_WATCHED_MS after the last one.
 * A scrape that finds no new sample keeps the last figures (0 before the first sample):
 * prom-client would print an empty histogram's NaN as "Nan", which is not Prometheus text.
 * Returns what a scrape calls first.
 */
function eventLoopDelayMetrics(registry: Registry): () => void {
  const histogram = monitorEventLoopDelay({ resolution: EVENT_LOOP_SAMPLE_MS });
  let stopTimer: NodeJS.Timeout | null = null;
  const watched = () => {
    if (stopTimer) {
      stopTimer.refresh();
      return;
    }
    histogram.enable();
    stopTimer = setTimeout(() => {
      histogram.disable();
      histogram.reset();
      stopTimer = null;
    }, EVENT_LOOP_WATCHED_MS);
    stopTimer.unref();
  };
  const gauges: Array<{ figure: (typeof DELAY_FIGURES)[keyof typeof DELAY_FIGURES]; gauge: Gauge }> = [];
  // One gauge's collect (run at each scrape) sets all of them, as prom-client's does.
  const collect = () => {
    if (histogram.count === 0) return;
    for (const { figure, gauge } of gauges) gauge.set((typeof figure === 'number' ? histogram.percentile(figure) : histogram[figure]) / 1e9);
    histogram.reset();
  };
  for (const [name, figure] of Object.entries(DELAY_FIGURES)) {
    registry.removeSingleMetric(`nodejs_eventloop_lag_${name}_seconds`);
    const help = `The ${name} of the event loop's delay in seconds, sampled every ${EVENT_LOOP_SAMPLE_MS / 1000} s while scraped.`;
    gauges.push({ figure, gauge: new Gauge({ name: `nodejs_eventloop_lag_${name}_seconds`, help, registers: [registry], ...(gauges.length === 0 ? { collect } : {}) }) });
  }
  return watched;
}

export class NodeMetrics {
  readonly registry = new Registry();
  private readonly destinations: DestinationLabels;
  private readonly received: Counter<'result' | 'error' | 'via'>;
  private readonly rateLimited: Counter;
  private readonly attempts: Counter<'destination' | 'outcome'>;
  private readonly delivered: Counter<'destination'>;
  private readonly latency: Histogram<'destination'>;
  private readonly scraped: () => void;

  constructor(sources: MetricsSources, options: { maxDestinations?: number } = {}) {
    const max = options.maxDestinations ?? DEFAULT_LABELLED_DESTINATIONS;
    this.destinations = new DestinationLabels(max);
    const registers = [this.registry];
    // prom-client samples the event loop's delay every 10 ms by default: 100 wake-ups a second
    // of an idle node (issue #36). Its sampler is parked (one tick in ~24 days) and the delay
    // figures come from our own, one sample a second while scraped (eventLoopDelayMetrics).
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: PARKED_SAMPLER_MS });
    this.scraped = eventLoopDelayMetrics(this.registry);

    this.received = new Counter({
      name: 'paracord_federation_events_received_total',
      help: 'Events received by this node, by result (refused ones by error code) and by how they came: push (POST /event and /events), pull (pull mode), catch_up',
      labelNames: ['result', 'error', 'via'],
      registers,
    });
    this.rateLimited = new Counter({ name: 'paracord_federation_rate_limited_total', help: 'Federation requests refused with 429 rate_limited', registers });
    this.attempts = new Counter({
      name: 'paracord_delivery_attempts_total',
      help: 'Delivery requests to peers, by destination and outcome',
      labelNames: ['destination', 'outcome'],
      registers,
    });
    this.delivered = new Counter({ name: 'paracord_delivery_events_delivered_total', help: 'Events acknowledged by peers, by destination', labelNames: ['destination'], registers });
    this.latency = new Histogram({
      name: 'paracord_delivery_latency_seconds',
      help: 'Time of a delivery request, by destination',
      labelNames: ['destination'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    });

    const { db } = sources;
    new Gauge({
      name: 'paracord_outbox_entries',
      help: `Outbound queue entries by destination and state (the ${max} largest destinations; the rest as "other")`,
      labelNames: ['destination', 'state'],
      registers,
      collect() {
        this.reset();
        const rows = db
          .prepare<[], { destination: string; state: string; n: number }>("SELECT destination, state, COUNT(*) AS n FROM federation_outbox WHERE state IN ('pending', 'failed') GROUP BY destination, state")
          .all();
        for (const state of ['pending', 'failed']) {
          this.set({ destination: OTHER, state }, 0);
          const top = topWithOther(rows.filter((r) => r.state === state).map((r) => ({ key: r.destination, value: r.n })), max);
          for (const { key, value } of top) this.set({ destination: key, state }, value);
        }
      },
    });
    new Gauge({
      name: 'paracord_peers',
      help: 'Known servers by trust state',
      labelNames: ['trust'],
      registers,
      collect() {
        for (const trust of ['allow', 'block', 'quarantine']) this.set({ trust }, 0);
        for (const row of db.prepare<[], { trust: string; n: number }>('SELECT trust, COUNT(*) AS n FROM federation_servers GROUP BY trust').all()) {
          this.set({ trust: row.trust }, row.n);
        }
      },
    });
    new Gauge({
      name: 'paracord_peers_unreachable',
      help: 'Destinations whose queued events are being retried (the last attempt failed)',
      registers,
      collect() {
        this.set(db.prepare<[], { n: number }>("SELECT COUNT(DISTINCT destination) AS n FROM federation_outbox WHERE state = 'pending' AND attempts > 0").get()?.n ?? 0);
      },
    });
    new Gauge({
      name: 'paracord_reachable',
      help: 'The reachability self-test: 1 peers can reach this node, 0 they cannot, -1 not tested yet; labelled by how it receives (push or pull)',
      labelNames: ['mode'],
      registers,
      collect() {
        this.reset();
        const state = sources.reachability?.() ?? null;
        if (!state) return;
        this.set({ mode: state.mode }, state.reachable === null ? -1 : state.reachable ? 1 : 0);
      },
    });
    new Gauge({
      name: 'paracord_quarantined_events',
      help: 'Events held from quarantined servers, waiting for review',
      registers,
      collect() {
        this.set(db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM quarantined_events').get()?.n ?? 0);
      },
    });
    new Gauge({
      name: 'paracord_sqlite_bytes',
      help: 'Size of the SQLite database files',
      labelNames: ['file'],
      registers,
      collect() {
        const search = searchDatabaseFile(sources.databaseFile);
        for (const [file, path] of [['database', sources.databaseFile], ['wal', `${sources.databaseFile}-wal`], ['search', search], ['search_wal', `${search}-wal`]] as const) {
          let size = 0;
          try {
            size = statSync(path).size;
          } catch {
            // absent (no WAL yet)
          }
          this.set({ file }, size);
        }
      },
    });
    new Gauge({
      name: 'paracord_last_backup_timestamp_seconds',
      help: 'Unix time of the last successful backup; 0 when there was none',
      registers,
      collect() {
        this.set((sources.lastBackupAt() ?? 0) / 1000);
      },
    });
    // The federation listener's connections (issue #36 goal 2, the persistent link between peers):
    // each accepted one cost a TCP handshake, and over TLS a TLS handshake on both nodes.
    const listenerCount = (field: 'accepted' | 'tlsHandshakes' | 'open') => sources.federationConnections?.()?.[field] ?? 0;
    new Counter({
      name: 'paracord_federation_connections_accepted_total',
      help: 'Connections the federation listener let in (peers, members, anyone)',
      registers,
      collect() {
        this.reset();
        this.inc(listenerCount('accepted'));
      },
    });
    new Counter({
      name: 'paracord_federation_tls_handshakes_total',
      help: 'TLS handshakes the federation listener completed',
      registers,
      collect() {
        this.reset();
        this.inc(listenerCount('tlsHandshakes'));
      },
    });
    new Gauge({
      name: 'paracord_federation_connections_open',
      help: 'Connections open on the federation listener now',
      registers,
      collect() {
        this.set(listenerCount('open'));
      },
    });
    new Gauge({
      name: 'paracord_federation_paused',
      help: '1 while the owner has paused federation',
      registers,
      collect() {
        this.set(sources.isPaused() ? 1 : 0);
      },
    });
  }

  /** One delivery request to `destination`; `delivered` events were acknowledged. */
  deliveryAttempt(destination: string, outcome: AttemptOutcome, latencyMs: number, delivered: number): void {
    const label = this.destinations.label(destination);
    this.attempts.inc({ destination: label, outcome });
    this.latency.observe({ destination: label }, latencyMs / 1000);
    if (delivered > 0) this.delivered.inc({ destination: label }, delivered);
  }

  eventReceived(result: ReceivedResult, error = '', via: ReceivedVia = 'push', count = 1): void {
    this.received.inc({ result, error: result === 'refused' ? (ERROR_CODE.test(error) ? error : OTHER) : '', via }, count);
  }

  /** An event this node fetched itself (pull mode, catch-up). */
  fetched(via: 'pull' | 'catch_up'): (outcome: ReceivedOutcome) => void {
    return (outcome) => this.eventReceived(outcome.result, outcome.result === 'refused' ? outcome.error : '', via);
  }

  /** The federation listener's observer: counts what the event routes answered. */
  federationObserver(): Middleware {
    return async (ctx, next) => {
      try {
        await next();
      } finally {
        if (ctx.status === 429) this.rateLimited.inc();
        if (ctx.method === 'POST' && (ctx.path === EVENT_PATH || ctx.path === EVENTS_PATH)) this.countAnswer(ctx.path === EVENTS_PATH, ctx.status, ctx.body);
      }
    };
  }

  private countAnswer(batch: boolean, status: number, body: unknown): void {
    const answer = (body ?? {}) as { error?: unknown; inserted?: unknown; held?: unknown; results?: unknown };
    if (status >= 200 && status < 300 && batch && Array.isArray(answer.results)) {
      // One increment per outcome, not per event (each increment hashes its labels).
      const stored = { accepted: 0, duplicate: 0, held: 0 };
      const refused = new Map<string, number>();
      for (const result of answer.results as Array<{ inserted?: unknown; held?: unknown; error?: unknown }>) {
        const outcome = this.outcomeOf(true, result);
        if (outcome[0] === 'refused') refused.set(outcome[1], (refused.get(outcome[1]) ?? 0) + 1);
        else stored[outcome[0]]++;
      }
      for (const outcome of ['accepted', 'duplicate', 'held'] as const) if (stored[outcome] > 0) this.eventReceived(outcome, '', 'push', stored[outcome]);
      for (const [error, count] of refused) this.eventReceived('refused', error, 'push', count);
      return;
    }
    const [outcome, error] = this.outcomeOf(status >= 200 && status < 300, answer);
    this.eventReceived(outcome, error);
  }

  private outcomeOf(ok: boolean, result: { inserted?: unknown; held?: unknown; error?: unknown }): [ReceivedResult, string] {
    if (ok && typeof result.inserted === 'boolean') return result.held ? HELD : result.inserted ? ACCEPTED : DUPLICATE;
    return ['refused', typeof result.error === 'string' ? result.error : OTHER];
  }

  async scrape(): Promise<{ contentType: string; body: string }> {
    this.scraped();
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
