/**
 * One signed long-poll page source per peer: what pull mode (pull/puller.ts, `GET /pull`) and
 * the mailbox fetcher (mailbox/fetcher.ts, `GET /mailbox`) share. For each peer, in a loop: wait
 * while there is no identity or federation is paused; acknowledge once at start what was taken
 * before a restart; ask the page after the stored cursor (or take the one asked ahead); while
 * pages bring something new, ask the next page while this one is taken (after one that brought
 * nothing, not before MIN_EMPTY_PAGE_GAP_MS since the last ask); save the cursor once it was
 * taken, then tell the source (which acknowledges it); on a failure, record it and back off (the
 * first retry at once while pages flow: a page is only a read). The peer deletes only on an acknowledgement, and an acknowledgement names only
 * a cursor saved here, so nothing is lost and a page asked again is taken again as a no-op.
 *
 * The source says what differs: its paths, its table of cursors, how a page reads, how it is
 * taken, and its log lines.
 */
import type { Logger } from 'pino';
import type { Identity } from '../identity/identity.ts';
import type { Db } from '../store/database.ts';
import { MAX_SERVERS_REMEMBERED } from '../trust/servers-remembered.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import { sleep } from '../util/abortable-sleep.ts';
import { PeerLoops } from '../util/peer-loops.ts';
import { WakeGap } from '../util/wake-gap.ts';
import { warnLimited } from '../log/rate-limit.ts';
import type { Discovery } from './discovery.ts';
import type { FederationResponse, HttpClient } from './http-client.ts';
import type { AckRefusal, AckRefusals } from './page-acks.ts';

/** Its own timeout for a long-poll (the server waits at most 30 s). */
const PAGE_TIMEOUT_MS = 40_000;
/** The least time between two waits after failures that a peer being seen ends (as a delivery worker's wakes). */
const SEEN_WAKE_GAP_MS = 10_000;
/** How long a time a server was seen is kept when the memory is full: longer than any attempt (PAGE_TIMEOUT_MS) lasts. */
const SEEN_KEPT_MS = 10 * 60_000;
/** A peer that does not serve the source is asked again after this long. */
const NOT_SERVED_RETRY_MS = 10 * 60_000;

export interface SignedPageLoopDeps {
  db: Db;
  trust: TrustStore;
  discovery: Discovery;
  http: HttpClient;
  identity: () => Identity | null;
  log: Logger;
  isPaused: () => boolean;
  onChange?: () => void;
}

/**
 * What a page source tells the loop after taking a page: taken (`fruitful` when it brought
 * something new: an event stored, a request taken; `refused`: its events refused for good here,
 * kept with its cursor in the source's `refusals`), or wait (nothing saved, asked again after
 * `waitMs`).
 */
export type PageTaken = { taken: true; fruitful: boolean; refused?: readonly AckRefusal[] } | { taken: false; waitMs: number; error: string };

/**
 * Whether a page of `total` items, `news` of them new here, is fruitful: at least half of it new.
 * One new item among copies, refusals or items kept unread does not make the next page come at once.
 */
export function mostlyNew(news: number, total: number): boolean {
  return news > 0 && news * 2 >= total;
}

/** One peer's pages, taken in order (one per loop). */
export interface PageTaker<P> {
  /** Takes a page; throws when it must be asked again after a backoff. The cursor is saved after. */
  take(page: P, next: number): Promise<PageTaken>;
  /** The page up to `next` was taken and its cursor saved: acknowledge it (`ack`), log. */
  taken(page: P, next: number): void;
  /**
   * At the loop's start, acknowledges the cursor saved before (with what was kept for it); throws
   * when that fails. Without it, the loop sends the plain cursor.
   */
  resume?(cursor: number): Promise<void>;
  /** The loop ends. */
  close?(): Promise<void>;
}

export interface PageSource<P> {
  /** What it is called in messages ("pull", "mailbox"). */
  name: string;
  /** Where the cursors and last errors are kept, and the name of its "last fetched" column. */
  table: 'pull_sources' | 'mailbox_sources';
  fetchedColumn: 'last_pull_at' | 'last_fetch_at';
  pagePath: string;
  ackPath: string;
  /**
   * Whether reading a page records its time (`fetchedColumn`); false: that time stays the one of
   * the last page read with it on (the mailbox fetcher outside pull mode, whose window it is).
   */
  recordsFetch?: boolean;
  /** Headers sent with each page request, besides the signature's (the mailbox's: our choice of it). */
  headers?: (identity: Identity, server: string) => Record<string, string>;
  /** The peer answered a page request 200 (it serves this source, and took the request's headers). */
  answered?: (server: string) => void;
  /** The most a page is asked to hold. */
  limit: number;
  /** Where a taken page's refusals are kept, written in the transaction that saves its cursor (pull mode). */
  refusals?: AckRefusals;
  maxBackoffMs: number;
  /** The peers a loop runs for. */
  peers(): string[];
  crashed(server: string, error: Error): void;
  /** Why the answer says the peer does not serve this source (asked again in 10 min), or null. */
  notServed(server: string, response: FederationResponse): string | null;
  /** A 200 answer's page, or throws; `empty` when nothing new came. */
  read(response: FederationResponse): { page: P; cursor: number; empty: boolean };
  /**
   * A page taker for one peer's loop; `ack` acknowledges a cursor at the peer, with the events of
   * its pages refused here when given (`{cursor, refused}`: only to a peer that takes the field),
   * and lists of ids beside them (`lists`: likewise; pull mode's `held`, the events held here for
   * review; a mailbox's `waiting` and `settled`, its items kept here to take later).
   */
  taker(server: string, ack: (cursor: number, refused?: readonly AckRefusal[], lists?: Readonly<Record<string, readonly string[]>>) => Promise<void>, signal: AbortSignal): PageTaker<P>;
  /** Logs a failure; the message to record. */
  failed(server: string, error: Error, failures: number): string;
}

interface PageRequest {
  cursor: number;
  abort: AbortController;
  response: Promise<FederationResponse>;
  /** When it was asked (performance.now(): a clock that does not step). */
  askedAt: number;
}

/**
 * The least time between asking for a page and asking again after a page that brought nothing
 * new (empty, or only events refused or known already) or a failure. An honest peer holds an
 * empty answer until something comes or its wait ends (pull: 25 s); one that answers at once made
 * this loop ask again as fast as the network allowed (a signed request, a signature and a database
 * write each time: a core, for as long as it liked). Only a page that brought something new is
 * followed at once, and only then is the next page asked ahead.
 */
export const MIN_EMPTY_PAGE_GAP_MS = 500;

export interface PageSourceState {
  server_name: string;
  cursor: number;
  last_error: string | null;
}

export class SignedPageLoop<P> {
  private readonly deps: SignedPageLoopDeps;
  private readonly source: PageSource<P>;
  private readonly loops: PeerLoops;
  private readonly saveCursor;
  private readonly saveState;
  /** The loops waiting out failures, by peer: aborted when the peer is seen. */
  private readonly failureWaits = new Map<string, { seen: AbortController; due: NodeJS.Timeout | null }>();
  /** A peer being seen ends such a wait at most once per SEEN_WAKE_GAP_MS (one entry per peer that had one). */
  private readonly seenWakes = new Map<string, WakeGap>();
  /** When each peer was last seen (one entry per peer that talks to us): a peer seen during a failing attempt ends the wait after it too. */
  private readonly lastSeen = new Map<string, number>();
  private unsubscribeSeen: (() => void) | null = null;

  constructor(deps: SignedPageLoopDeps, source: PageSource<P>) {
    this.deps = deps;
    this.source = source;
    this.loops = new PeerLoops(() => source.peers(), (server, signal) => this.loop(server, signal), (server, error) => source.crashed(server, error), (listener) => deps.trust.onPeersChange(listener), (error) => source.crashed('(the peer list could not be read)', error as Error));
    const { table, fetchedColumn: at } = source;
    this.saveCursor = deps.db.prepare(
      `INSERT INTO ${table} (server_name, cursor, ${at}, last_error, updated_at) VALUES (@server, @cursor, @fetched, NULL, @now)
       ON CONFLICT (server_name) DO UPDATE SET cursor = excluded.cursor, ${at} = COALESCE(excluded.${at}, ${at}), last_error = NULL, updated_at = excluded.updated_at`,
    );
    this.saveState = deps.db.prepare(
      `INSERT INTO ${table} (server_name, cursor, ${at}, last_error, updated_at) VALUES (@server, 0, @fetched, @error, @now)
       ON CONFLICT (server_name) DO UPDATE SET ${at} = COALESCE(excluded.${at}, ${at}), last_error = excluded.last_error, updated_at = excluded.updated_at`,
    );
  }

  get active(): boolean {
    return this.loops.active;
  }

  /** Starts a loop for every peer (and for peers added later). */
  start(): void {
    this.loops.start();
    // A peer seen (it sent us a request, or answered one of ours) ends a wait after failures to
    // reach it: asked again now, not after up to a minute of backoff (markSeen tells at most
    // every 10 s per peer).
    this.unsubscribeSeen ??= this.deps.trust.onSeen((server) => this.seen(server));
  }

  /** Stops every loop; a page being taken finishes first. */
  stop(): Promise<void> {
    this.unsubscribeSeen?.();
    this.unsubscribeSeen = null;
    return this.loops.stop();
  }

  /** Every peer's cursor, last error and time of the last page. */
  sources<S extends PageSourceState>(): S[] {
    const { table, fetchedColumn } = this.source;
    return this.deps.db.prepare<[], S>(`SELECT server_name, cursor, ${fetchedColumn}, last_error FROM ${table} ORDER BY server_name`).all();
  }

  private cursorOf(server: string): number {
    return this.deps.db.prepare<[string], { cursor: number }>(`SELECT cursor FROM ${this.source.table} WHERE server_name = ?`).get(server)?.cursor ?? 0;
  }

  private async loop(server: string, signal: AbortSignal): Promise<void> {
    const { source } = this;
    let failures = 0;
    let acked = false;
    let ahead: PageRequest | null = null;
    /** The last page asked for, and whether the last page taken brought something new. */
    let last: PageRequest | null = null;
    let fruitful = false;
    let endpoint = '';
    /** When the current attempt began: a peer seen since then ends the wait after its failure. */
    let attemptAt = 0;
    const taker = source.taker(server, (cursor, refused, lists) => this.ack(this.deps.identity()!, server, endpoint, cursor, signal, refused, lists), signal);
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
          attemptAt = Date.now();
          endpoint = await this.deps.discovery.endpointOf(server, Date.now(), signal);
          const cursor = this.cursorOf(server);
          // What was taken before a restart may not have been acknowledged yet (nor its refusals named).
          if (!acked && cursor > 0) await (taker.resume ? taker.resume(cursor) : this.ack(identity, server, endpoint, cursor, signal));
          acked = true;
          // The page asked ahead is the one wanted unless the last page could not be taken.
          const request = ahead?.cursor === cursor ? ahead : this.ask(identity, server, endpoint, cursor, signal);
          if (ahead !== request) drop();
          ahead = null;
          last = request;
          const response = await request.response;
          const notServed = source.notServed(server, response);
          if (notServed !== null) {
            this.record(server, null, notServed);
            await sleep(NOT_SERVED_RETRY_MS, signal);
            continue;
          }
          if (response.status === 200) source.answered?.(server);
          const { page, cursor: next, empty } = source.read(response);
          // A page read from it is hearing from it: its line says when it was last seen (a node
          // nobody can reach hears from the peers it fetches from only this way).
          this.deps.trust.markSeen(server);
          // (That seen is this attempt's own answer: a failure taking the page is no wake.)
          attemptAt = Infinity;
          if (empty && next === cursor) {
            this.record(server, Date.now(), null);
            failures = 0;
            fruitful = false;
            await this.paced(request, signal);
            continue;
          }
          // The next page is asked for while this one is taken, while pages bring something new
          // (after a page that brought nothing, the next ask waits its gap: asked ahead, it was
          // made at once, and a pace measured from the page before let two asks through a gap).
          if (!empty && fruitful) ahead = this.ask(identity, server, endpoint, next, signal);
          const taken = await taker.take(page, next);
          if (!taken.taken) {
            // Nothing saved nor acknowledged: the peer keeps the page, asked again after the wait.
            drop();
            this.record(server, null, taken.error);
            failures = 0;
            fruitful = false;
            await sleep(taken.waitMs, signal);
            continue;
          }
          const now = Date.now();
          // The page's refusals are kept exactly when its cursor is saved (else it is asked again, and refused again).
          const refused = taken.refused ?? [];
          const dropped = this.deps.db.transaction(() => {
            this.saveCursor.run({ server, cursor: next, now, fetched: source.recordsFetch === false ? null : now });
            return refused.length > 0 ? (source.refusals?.keep(server, next, refused) ?? 0) : 0;
          })();
          if (dropped > 0) {
            warnLimited(this.deps.log, `refusals_not_kept:${server}`, { event: 'pull_refusals_not_kept', server, dropped }, `${server} has not taken our acknowledgements of the events refused here for a long time: ${dropped} more refusals are not kept, and it will count those events as delivered`);
          }
          taker.taken(page, next);
          failures = 0;
          fruitful = taken.fruitful;
          this.deps.onChange?.();
          // A page that brought nothing new (empty with a cursor that moved, only refused or known
          // events) is paced as an empty one: a peer could serve such pages forever.
          if (!fruitful) {
            drop();
            await this.paced(request, signal);
          }
        } catch (error) {
          drop();
          if (signal.aborted) return;
          failures += 1;
          const flowing = fruitful;
          fruitful = false;
          this.record(server, null, source.failed(server, error as Error, failures));
          // The first retry at once (a keep-alive connection closed under the request, a page that
          // raced a write: a page is only a read) while pages brought something; after a page that
          // brought nothing, not sooner than the gap after the last ask (a peer answering at once
          // with errors and empty pages in turn). Then exponential backoff with jitter.
          if (failures === 1) await (flowing ? sleep(50, signal) : this.paced(last, signal, 50));
          else await this.waitOutFailures(server, Math.min(source.maxBackoffMs, 500 * 2 ** Math.min(failures, 10)) * (0.5 + Math.random() / 2), signal, attemptAt);
        }
      }
    } finally {
      drop();
      await taker.close?.();
    }
  }

  /**
   * Sleeps `ms` after failures to reach `server`, or until it is seen (or the loop stops). Seen
   * since the failed attempt began (a request of its own while ours hung on a dead network) counts
   * as seen now: dropped, the loop waited out its whole backoff.
   */
  private async waitOutFailures(server: string, ms: number, signal: AbortSignal, attemptAt: number): Promise<void> {
    const wait = { seen: new AbortController(), due: null as NodeJS.Timeout | null };
    this.failureWaits.set(server, wait);
    if ((this.lastSeen.get(server) ?? -1) >= attemptAt) this.endWait(server);
    try {
      await sleep(ms, AbortSignal.any([signal, wait.seen.signal]));
    } finally {
      if (wait.due) clearTimeout(wait.due);
      if (this.failureWaits.get(server) === wait) this.failureWaits.delete(server);
    }
  }

  /**
   * `server` was seen: a wait after failures to reach it ends, at most once per SEEN_WAKE_GAP_MS
   * (a peer's requests must not buy one page request each); one seen sooner ends it when the gap
   * is over instead of being dropped.
   */
  private seen(server: string): void {
    const now = Date.now();
    // Every server that signs a request is told here (any server, under an open trust policy): bounded.
    // Only a time after an attempt began matters (loop): entries older than any attempt go first.
    if (this.lastSeen.size >= MAX_SERVERS_REMEMBERED && !this.lastSeen.has(server)) {
      for (const [name, at] of this.lastSeen) if (now - at > SEEN_KEPT_MS) this.lastSeen.delete(name);
      if (this.lastSeen.size >= MAX_SERVERS_REMEMBERED) this.lastSeen.clear();
    }
    this.lastSeen.set(server, now);
    this.endWait(server);
  }

  /** Ends `server`'s wait after failures now, or when the gap since the last such end is over. */
  private endWait(server: string): void {
    const wait = this.failureWaits.get(server);
    if (!wait || wait.due) return;
    let gap = this.seenWakes.get(server);
    if (!gap) this.seenWakes.set(server, (gap = new WakeGap(SEEN_WAKE_GAP_MS)));
    const left = gap.take();
    if (left === 0) return wait.seen.abort();
    const due = gap;
    wait.due = setTimeout(() => {
      due.taken();
      wait.seen.abort();
    }, left);
    wait.due.unref();
  }

  /**
   * After a page that brought nothing: not before MIN_EMPTY_PAGE_GAP_MS since it was asked (and
   * at least `leastMs`). Measured again after the sleep: a timer may fire early by the work done
   * in the turn that set it.
   */
  private async paced(request: PageRequest | null, signal: AbortSignal, leastMs = 0): Promise<void> {
    if (leastMs > 0) await sleep(leastMs, signal);
    if (!request) return;
    for (let early = request.askedAt + MIN_EMPTY_PAGE_GAP_MS - performance.now(); early > 0 && !signal.aborted; early = request.askedAt + MIN_EMPTY_PAGE_GAP_MS - performance.now()) {
      await sleep(Math.ceil(early), signal);
    }
  }

  /** Asks for the page after `cursor` (answered at once, or long-polled when empty). */
  private ask(identity: Identity, server: string, endpoint: string, cursor: number, signal: AbortSignal): PageRequest {
    const abort = new AbortController();
    const response = this.deps.http.signed(identity, 'GET', endpoint, `${this.source.pagePath}?cursor=${cursor}&limit=${this.source.limit}`, undefined, {
      signal: AbortSignal.any([signal, abort.signal]),
      destination: server,
      timeoutMs: PAGE_TIMEOUT_MS,
      ...(this.source.headers ? { headers: this.source.headers(identity, server) } : {}),
    });
    response.catch(() => undefined);
    return { cursor, abort, response, askedAt: performance.now() };
  }

  private async ack(identity: Identity, server: string, endpoint: string, cursor: number, signal: AbortSignal, refused?: readonly AckRefusal[], lists?: Readonly<Record<string, readonly string[]>>): Promise<void> {
    const body = {
      cursor: String(cursor),
      ...(refused !== undefined && refused.length > 0 ? { refused } : {}),
      ...lists,
    };
    const response = await this.deps.http.signed(identity, 'POST', endpoint, this.source.ackPath, JSON.stringify(body), { signal, destination: server });
    // With its status: the mailbox fetcher sends the plain cursor to a mailbox that answers 400 to its refusals.
    if (response.status !== 200) throw Object.assign(new Error(`${this.source.name} ack answered HTTP ${response.status}`), { status: response.status });
  }

  private record(server: string, fetchedAt: number | null, error: string | null): void {
    try {
      this.saveState.run({ server, fetched: this.source.recordsFetch === false ? null : fetchedAt, error, now: Date.now() });
    } catch {
      // the database is closing
    }
  }
}
