/**
 * Pull mode, receiving side (issue #15): a node nobody can reach asks each of its peers for the
 * events they queued for it (`GET /pull`, long-poll) and stores them through the same chain as a
 * push — verify (EventIngest.verify: route, content limits, signature) → authorize → store
 * (EventIngest.storeMany, hooks of the rooms) — in the order served. The page's cursor is written
 * once the page is stored (not when an event of it waits for a quota here: the page is asked
 * again after Retry-After), and acknowledged (`POST /pull/ack`) only after that commit; so a puller killed at any point neither loses an event (the peer deletes rows
 * only on ack) nor applies one twice (it asks from its stored cursor, acknowledges that cursor
 * again at start, and storing a known event is a no-op).
 *
 * Throughput (docs/PERFORMANCE.md, "Pull mode"): the next page is asked for as soon as a page
 * arrives, so the peer reads and serializes it (or long-polls) while this node verifies and stores
 * the current one; acknowledgements go off the critical path and are coalesced while a backlog
 * drains (pull-acks.ts). Asking ahead is safe: the peer deletes rows only on an ack, and an ack
 * names only a cursor already committed here; a page that could not be stored drops the page
 * asked ahead and asks again from the stored cursor.
 */
import { sleep } from '../util/abortable-sleep.ts';
import { PeerLoops } from '../util/peer-loops.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { PEER_TEXT_MAX } from '../federation/peer-refusal.ts';
import type { Logger } from 'pino';
import type { Db } from '../store/database.ts';
import { HttpError } from '../errors.ts';
import { infoLimited, warnLimited } from '../log/rate-limit.ts';
import type { Identity } from '../identity/identity.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import type { Discovery } from '../federation/discovery.ts';
import { receivedOutcome, type EventIngest, type ReceivedOutcome, type VerifiedEvent } from '../federation/event-ingest.ts';
import type { FederationResponse, HttpClient } from '../federation/http-client.ts';
import { PullAcks } from './pull-acks.ts';
import { quotaWait, type QuotaWait } from '../trust/storage-quota.ts';
import { MAX_PULL_EVENTS } from './routes.ts';
import { PULL_ACK_PATH, PULL_PATH } from '../federation/paths.ts';

/** The puller's own timeout for a long-poll (the server waits at most 30 s). */
const PULL_TIMEOUT_MS = 40_000;
/** A peer that does not serve pull (404) is asked again after this long. */
const NOT_SUPPORTED_RETRY_MS = 10 * 60_000;
const MAX_BACKOFF_MS = 60_000;

export interface PullerDeps {
  db: Db;
  trust: TrustStore;
  discovery: Discovery;
  http: HttpClient;
  ingest: EventIngest;
  identity: () => Identity | null;
  log: Logger;
  isPaused: () => boolean;
  onChange?: () => void;
  /**
   * Takes a pulled event that invites one of our users (true), or leaves it to the ingest chain
   * (false); throws when it could not be stored now (the page is asked again).
   */
  receiveInvite?: (server: string, raw: unknown) => Promise<boolean>;
  /** Told about each pulled event (metrics: received events by result). */
  onReceived?: (outcome: ReceivedOutcome) => void;
}

export interface PullSourceState {
  server_name: string;
  cursor: number;
  last_pull_at: number | null;
  last_error: string | null;
}

/** A `GET /pull` on the wire: the page after `cursor`. */
interface PageRequest {
  cursor: number;
  abort: AbortController;
  response: Promise<FederationResponse>;
}

/** A backlog of at least this many full pages in a row is logged when drained (with its counts). */
const BACKLOG_PAGES = 2;

export class Puller {
  private readonly deps: PullerDeps;
  private readonly loops: PeerLoops;
  private readonly saveCursor;
  private readonly saveState;

  constructor(deps: PullerDeps) {
    this.deps = deps;
    this.loops = new PeerLoops(
      () => deps.trust.list().filter((s) => s.trust === 'allow' || s.trust === 'quarantine').map((s) => s.server_name),
      (server, signal) => this.loop(server, signal),
      (server, error) => deps.log.error({ event: 'puller_crashed', server, err: error }, 'pull loop failed'),
      (listener) => deps.trust.onPeersChange(listener),
    );
    this.saveCursor = deps.db.prepare(
      `INSERT INTO pull_sources (server_name, cursor, last_pull_at, last_error, updated_at) VALUES (@server, @cursor, @now, NULL, @now)
       ON CONFLICT (server_name) DO UPDATE SET cursor = excluded.cursor, last_pull_at = excluded.last_pull_at, last_error = NULL, updated_at = excluded.updated_at`,
    );
    this.saveState = deps.db.prepare(
      `INSERT INTO pull_sources (server_name, cursor, last_pull_at, last_error, updated_at) VALUES (@server, 0, @pulled, @error, @now)
       ON CONFLICT (server_name) DO UPDATE SET last_pull_at = COALESCE(excluded.last_pull_at, last_pull_at), last_error = excluded.last_error, updated_at = excluded.updated_at`,
    );
  }

  get active(): boolean {
    return this.loops.active;
  }

  /** Starts pulling from every allowed peer (and from peers added later). */
  start(): void {
    this.loops.start();
  }

  /** Stops every loop; a page being stored finishes its commit first. */
  stop(): Promise<void> {
    return this.loops.stop();
  }

  sources(): PullSourceState[] {
    return this.deps.db.prepare<[], PullSourceState>('SELECT server_name, cursor, last_pull_at, last_error FROM pull_sources ORDER BY server_name').all();
  }

  private cursorOf(server: string): number {
    return this.deps.db.prepare<[string], { cursor: number }>('SELECT cursor FROM pull_sources WHERE server_name = ?').get(server)?.cursor ?? 0;
  }

  private async loop(server: string, signal: AbortSignal): Promise<void> {
    const { log } = this.deps;
    let failures = 0;
    let acked = false;
    let ahead: PageRequest | null = null;
    let endpoint = '';
    const acks = new PullAcks((cursor) => this.ack(this.deps.identity()!, server, endpoint, cursor, signal), server, log);
    /** A backlog being drained: since when, events and pages (logged once caught up). */
    let backlog = { since: 0, events: 0, pages: 0, acksBefore: 0 };
    const drop = () => {
      ahead?.abort.abort();
      ahead = null;
    };
    try {
      while (!signal.aborted) {
        const identity = this.deps.identity();
        if (!identity || this.deps.isPaused()) {
          drop();
          await sleep(200, signal);
          continue;
        }
        try {
          endpoint = await this.deps.discovery.endpointOf(server, Date.now(), signal);
          const cursor = this.cursorOf(server);
          // What we stored before a restart may not have been acknowledged yet.
          if (!acked && cursor > 0) {
            await this.ack(identity, server, endpoint, cursor, signal);
          }
          acked = true;
          // The page asked ahead is the one wanted unless the last page could not be stored.
          const request: PageRequest = ahead?.cursor === cursor ? ahead : this.askPage(identity, server, endpoint, cursor, signal);
          if (ahead !== request) drop();
          ahead = null;
          const response = await request.response;
          if (response.status === 404) {
            this.record(server, null, `${server} does not serve pull mode (HTTP 404); asking again in 10 min`);
            await sleep(NOT_SUPPORTED_RETRY_MS, signal);
            continue;
          }
          if (response.status !== 200) throw new Error(`pull answered HTTP ${response.status}${typeof (response.json as { message?: unknown } | undefined)?.message === 'string' ? `: ${cleanText((response.json as { message: string }).message, PEER_TEXT_MAX)}` : ''}`);
          const page = response.json as { events?: unknown; cursor?: unknown } | undefined;
          if (!page || !Array.isArray(page.events) || typeof page.cursor !== 'string' || !/^[0-9]{1,15}$/.test(page.cursor)) throw new Error('pull answer is not {events, cursor}');
          // We asked for at most MAX_PULL_EVENTS: a longer page is not verified (its cursor may cover events we would not store).
          if (page.events.length > MAX_PULL_EVENTS) throw new Error(`pull answer holds ${page.events.length} events; at most ${MAX_PULL_EVENTS} were asked for`);
          const next = Number(page.cursor);
          if (page.events.length === 0 && next === cursor) {
            this.record(server, Date.now(), null);
            failures = 0;
            continue;
          }
          // Ask for the next page while this one is verified and stored.
          ahead = this.askPage(identity, server, endpoint, next, signal);
          const stored = await this.storePage(server, page.events, next);
          if (stored !== true && stored !== false) {
            // Over a quota here (429): the page is neither saved nor acknowledged, so the peer keeps
            // it; asked again from the stored cursor once the quota allows (storing again is a no-op).
            drop();
            this.record(server, null, `${stored.message}; asking again in ${Math.ceil(stored.waitMs / 1000)} s`);
            infoLimited(log, `pull_quota_wait ${server}`, { event: 'pull_quota_wait', server, wait_ms: stored.waitMs }, 'pulled events wait for the quota; the page is asked again later');
            failures = 0;
            await sleep(stored.waitMs, signal);
            continue;
          }
          if (!stored) throw new Error('an event of the page could not be stored yet; the page is asked again');
          const full = page.events.length >= MAX_PULL_EVENTS;
          acks.storedUpTo(next, page.events.length, !full);
          if (backlog.pages === 0) backlog = { since: Date.now(), events: 0, pages: 0, acksBefore: acks.sent };
          backlog.events += page.events.length;
          backlog.pages += 1;
          if (!full) {
            if (backlog.pages > BACKLOG_PAGES) {
              log.info({ event: 'pull_backlog_drained', server, events: backlog.events, pages: backlog.pages, acks: acks.sent - backlog.acksBefore, ms: Date.now() - backlog.since }, `pulled a backlog of ${backlog.events} events from ${server}`);
            }
            backlog.pages = 0;
          }
          failures = 0;
          this.deps.onChange?.();
        } catch (error) {
          drop();
          if (signal.aborted) return;
          failures += 1;
          const message = (error as Error).message;
          this.record(server, null, message);
          // Limited: a source that fails every other page is retried at once each time.
          infoLimited(log, `pull_failed ${server}`, { event: 'pull_failed', server, error: message, failures }, 'pull failed; retrying');
          // The first retry at once (a keep-alive connection closed under the request, a page that
          // raced a write): a pull is only a read. Then exponential backoff with jitter.
          const backoff = failures === 1 ? 50 : Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(failures, 7)) * (0.5 + Math.random() / 2);
          await sleep(backoff, signal);
        }
      }
    } finally {
      drop();
      await acks.close();
    }
  }

  /** Sends `GET /pull` for the page after `cursor` (answered at once, or long-polled when empty). */
  private askPage(identity: Identity, server: string, endpoint: string, cursor: number, signal: AbortSignal): PageRequest {
    const abort = new AbortController();
    const response = this.deps.http.signed(identity, 'GET', endpoint, `${PULL_PATH}?cursor=${cursor}&limit=${MAX_PULL_EVENTS}`, undefined, {
      signal: AbortSignal.any([signal, abort.signal]),
      destination: server,
      timeoutMs: PULL_TIMEOUT_MS,
    });
    response.catch(() => undefined);
    return { cursor, abort, response };
  }

  /**
   * Verifies and stores a page in order; the cursor goes into the storing transaction. False when
   * an event failed for a reason worth retrying (the page is asked again: what was stored is a
   * no-op then). Refused events (4xx) are logged and acknowledged, as a push would have them fail;
   * but an event refused for a quota (429) waits: nothing is saved, and the wait is returned.
   */
  private async storePage(server: string, page: unknown[], cursor: number): Promise<boolean | QuotaWait> {
    const { ingest, log } = this.deps;
    // An invite of one of our users by the room's host comes this way when we cannot be called
    // (issue #32): taken as its POST /invite would be (RoomService.receivePulledInvite).
    const raws: unknown[] = [];
    for (const raw of page) {
      try {
        if (!this.deps.receiveInvite || !(await this.deps.receiveInvite(server, raw))) raws.push(raw);
      } catch (error) {
        warnLimited(log, `pulled_invite_failed ${server}`, { event: 'pulled_invite_failed', server, error: (error as Error).message }, 'a pulled invite could not be stored yet; the page is asked again');
        return false;
      }
    }
    const verifications = ingest.verifyAll(server, raws);
    verifications.forEach((p) => p.catch(() => undefined));
    const verified: VerifiedEvent[] = [];
    let retry = false;
    for (let i = 0; i < verifications.length; i++) {
      try {
        verified.push(await verifications[i]!);
      } catch (error) {
        const wait = quotaWait(error);
        if (wait) return wait;
        if (!(error instanceof HttpError) || error.status >= 500) {
          retry = true;
          break;
        }
        this.deps.onReceived?.(receivedOutcome(error));
        warnLimited(log, `pulled_event_refused ${server}`, { event: 'pulled_event_refused', server, status: error.status, error: error.code, message: error.message }, 'a pulled event was refused');
      }
    }
    const now = Date.now();
    const saveCursor = retry ? undefined : () => this.saveCursor.run({ server, cursor, now });
    if (verified.length === 0) {
      if (saveCursor) saveCursor();
      return !retry;
    }
    // A page may cross the quota (verify saw the stored usage only): the cursor is saved once no
    // event of the page was refused for it, after the commit (should it be lost, the page is
    // asked again: what was stored is a no-op).
    const { outcomes } = await ingest.storeMany(verified, server);
    let wait: QuotaWait | null = null;
    for (const outcome of outcomes) {
      if (outcome.status === 'fulfilled') this.deps.onReceived?.(receivedOutcome(outcome.value));
      if (outcome.status === 'rejected') {
        const e = outcome.reason as Error;
        wait ??= quotaWait(e);
        if (wait) continue;
        if (!(e instanceof HttpError) || e.status >= 500) retry = true;
        else {
          this.deps.onReceived?.(receivedOutcome(e));
          warnLimited(log, `pulled_event_refused ${server}`, { event: 'pulled_event_refused', server, status: e.status, error: e.code, message: e.message }, 'a pulled event was refused');
        }
      }
    }
    if (wait) return wait;
    if (saveCursor && !retry) saveCursor();
    return !retry;
  }

  private async ack(identity: Identity, server: string, endpoint: string, cursor: number, signal: AbortSignal): Promise<void> {
    const response = await this.deps.http.signed(identity, 'POST', endpoint, PULL_ACK_PATH, JSON.stringify({ cursor: String(cursor) }), { signal, destination: server });
    if (response.status !== 200) throw new Error(`pull ack answered HTTP ${response.status}`);
  }

  private record(server: string, pulledAt: number | null, error: string | null): void {
    try {
      this.saveState.run({ server, pulled: pulledAt, error, now: Date.now() });
    } catch {
      // the database is closing
    }
  }
}
