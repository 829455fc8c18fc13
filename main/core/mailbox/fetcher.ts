/**
 * A friend's node as a mailbox (issue #32), the recipient's side: while nobody can reach this node
 * (pull mode), it fetches from each peer what other peers left there for it (`GET /mailbox`,
 * long-poll), hands each carried request to its own federation listener exactly as it was signed
 * (self-dispatch.ts: the same signature, origin, destination and route checks as a direct
 * request), and acknowledges the page once every request of it was taken. A page is asked again
 * from the stored cursor after a failure or a restart, so nothing is lost; what was taken already
 * is a no-op the second time (an event stored once is not stored again).
 */
import { sleep } from '../util/abortable-sleep.ts';
import { PeerLoops } from '../util/peer-loops.ts';
import type { Logger } from 'pino';
import { z } from 'zod';
import { HEX_SIGNATURE, KEY_ID, isServerName } from '../../../shared/identifiers.ts';
import type { Db } from '../store/database.ts';
import type { Identity } from '../identity/identity.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import type { Discovery } from '../federation/discovery.ts';
import type { FederationResponse, HttpClient } from '../federation/http-client.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { PEER_TEXT_MAX } from '../federation/peer-refusal.ts';
import { infoLimited, warnLimited } from '../log/rate-limit.ts';
import { CARRIED_PATHS, MAX_MAILBOX_ITEMS } from './wire.ts';
import type { CarriedRequest, DispatchAnswer } from './self-dispatch.ts';
import { MAILBOX_ACK_PATH, MAILBOX_PATH } from '../federation/paths.ts';
import { ChoiceSigner, MAILBOX_CHOICE_HEADER } from './choice.ts';

const FETCH_TIMEOUT_MS = 40_000;
const NOT_SERVED_RETRY_MS = 10 * 60_000;
/** A mailbox that restarted is asked again within this long (a failed fetch costs one connection attempt). */
const MAX_BACKOFF_MS = 10_000;
const CARRIED = new Set(Object.values(CARRIED_PATHS));

const itemSchema = z.strictObject({
  id: z.string().regex(/^[0-9]{1,15}$/),
  from: z.string().refine(isServerName, 'not a server name'),
  path: z.string().refine((p) => CARRIED.has(p), 'not a request a mailbox carries'),
  key_id: z.string().regex(KEY_ID),
  timestamp: z.string().regex(/^[0-9]{1,16}$/),
  signature: z.string().regex(HEX_SIGNATURE),
  body: z.string().max(2 * 1024 * 1024),
});
const pageSchema = z.strictObject({ items: z.array(itemSchema).max(MAX_MAILBOX_ITEMS), cursor: z.string().regex(/^[0-9]{1,15}$/) });

export interface MailboxFetcherDeps {
  db: Db;
  trust: TrustStore;
  discovery: Discovery;
  http: HttpClient;
  identity: () => Identity | null;
  log: Logger;
  isPaused: () => boolean;
  /** Hands one carried request to our own federation listener. */
  dispatch: (request: CarriedRequest) => Promise<DispatchAnswer>;
  onChange?: () => void;
}

export interface MailboxSourceState {
  server_name: string;
  cursor: number;
  last_fetch_at: number | null;
  last_error: string | null;
}

export class MailboxFetcher {
  private readonly deps: MailboxFetcherDeps;
  private readonly loops: PeerLoops;
  /** Our signed statement that we chose each mailbox we fetch from (choice.ts), sent with every fetch. */
  private readonly choices = new ChoiceSigner();
  private readonly saveCursor;
  private readonly saveState;

  constructor(deps: MailboxFetcherDeps) {
    this.deps = deps;
    this.loops = new PeerLoops(
      () => deps.trust.list().filter((s) => s.trust === 'allow').map((s) => s.server_name),
      (server, signal) => this.loop(server, signal),
      (server, error) => deps.log.error({ event: 'mailbox_fetcher_crashed', server, err: error }, 'mailbox fetch loop failed'),
      (listener) => deps.trust.onPeersChange(listener),
    );
    this.saveCursor = deps.db.prepare(
      `INSERT INTO mailbox_sources (server_name, cursor, last_fetch_at, last_error, updated_at) VALUES (@server, @cursor, @now, NULL, @now)
       ON CONFLICT (server_name) DO UPDATE SET cursor = excluded.cursor, last_fetch_at = excluded.last_fetch_at, last_error = NULL, updated_at = excluded.updated_at`,
    );
    this.saveState = deps.db.prepare(
      `INSERT INTO mailbox_sources (server_name, cursor, last_fetch_at, last_error, updated_at) VALUES (@server, 0, @fetched, @error, @now)
       ON CONFLICT (server_name) DO UPDATE SET last_fetch_at = COALESCE(excluded.last_fetch_at, last_fetch_at), last_error = excluded.last_error, updated_at = excluded.updated_at`,
    );
  }

  sources(): MailboxSourceState[] {
    return this.deps.db.prepare<[], MailboxSourceState>('SELECT server_name, cursor, last_fetch_at, last_error FROM mailbox_sources ORDER BY server_name').all();
  }

  start(): void {
    this.loops.start();
  }

  stop(): Promise<void> {
    return this.loops.stop();
  }

  private cursorOf(server: string): number {
    return this.deps.db.prepare<[string], { cursor: number }>('SELECT cursor FROM mailbox_sources WHERE server_name = ?').get(server)?.cursor ?? 0;
  }

  private async loop(server: string, signal: AbortSignal): Promise<void> {
    const { log } = this.deps;
    let failures = 0;
    let acked = false;
    let ahead: { cursor: number; abort: AbortController; response: Promise<FederationResponse> } | null = null;
    const drop = () => {
      ahead?.abort.abort();
      ahead = null;
    };
    const ask = (identity: Identity, endpoint: string, cursor: number) => {
      const abort = new AbortController();
      const response = this.deps.http.signed(identity, 'GET', endpoint, `${MAILBOX_PATH}?cursor=${cursor}&limit=${MAX_MAILBOX_ITEMS}`, undefined, { signal: AbortSignal.any([signal, abort.signal]), destination: server, timeoutMs: FETCH_TIMEOUT_MS, headers: { [MAILBOX_CHOICE_HEADER]: this.choices.header(identity, server) } });
      response.catch(() => undefined);
      return { cursor, abort, response };
    };
    while (!signal.aborted) {
      const identity = this.deps.identity();
      if (!identity || this.deps.isPaused()) {
        await sleep(200, signal);
        continue;
      }
      try {
        const endpoint = await this.deps.discovery.endpointOf(server, Date.now(), signal);
        const cursor = this.cursorOf(server);
        // Taken before a restart, maybe not acknowledged yet.
        if (!acked && cursor > 0) await this.ack(identity, server, endpoint, cursor, signal);
        acked = true;
        // The page asked ahead is the one wanted unless the last page could not be taken.
        const request = ahead?.cursor === cursor ? ahead : ask(identity, endpoint, cursor);
        if (ahead !== request) drop();
        ahead = null;
        const response = await request.response;
        const code = (response.json as { error?: unknown } | undefined)?.error;
        if (response.status === 404 || (response.status === 403 && code === 'mailbox_off')) {
          this.record(server, null, `${server} does not serve as a mailbox (HTTP ${response.status}); asking again in 10 min`);
          await sleep(NOT_SERVED_RETRY_MS, signal);
          continue;
        }
        if (response.status !== 200) throw new Error(`mailbox answered HTTP ${response.status}${typeof code === 'string' ? ` ${cleanText(code, 60)}` : ''}`);
        const parsed = pageSchema.safeParse(response.json);
        if (!parsed.success) throw new Error('mailbox answer is not {items, cursor}');
        const page = parsed.data;
        const next = Number(page.cursor);
        if (page.items.length === 0 && next === cursor) {
          this.record(server, Date.now(), null);
          failures = 0;
          continue;
        }
        // The next page is asked for while this one is taken (in order: one page at a time is taken).
        ahead = ask(identity, endpoint, next);
        for (const item of page.items) {
          const answer = await this.deps.dispatch({ from: item.from, path: item.path, keyId: item.key_id, timestamp: item.timestamp, signature: item.signature, body: item.body });
          // Not yet (a server error, or over a rate limit): the page is asked again.
          if (answer.status >= 500 || answer.status === 429) throw new Error(`a carried request could not be taken yet (HTTP ${answer.status}); the page is asked again`);
          // Final either way: a refusal here is what a direct push would have got (409: taken before).
          if (answer.status >= 400 && answer.status !== 409) {
            warnLimited(log, `mailbox_item_refused ${item.from}`, { event: 'mailbox_item_refused', mailbox: server, from: item.from, status: answer.status, error: answer.error }, 'a request carried by a mailbox was refused');
          }
        }
        this.saveCursor.run({ server, cursor: next, now: Date.now() });
        // Off the critical path: the next fetch asks after `next` whatever the mailbox deleted, and
        // a lost ack is covered by the next one (or the one sent at start).
        void this.ack(identity, server, endpoint, next, signal).catch((error: Error) => {
          if (!signal.aborted) infoLimited(log, `mailbox_ack_failed ${server}`, { event: 'mailbox_ack_failed', mailbox: server, error: cleanText(error.message, PEER_TEXT_MAX) }, 'mailbox acknowledgement failed; the next one covers it');
        });
        if (page.items.length > 0) infoLimited(log, `mailbox_fetched ${server}`, { event: 'mailbox_fetched', mailbox: server, items: page.items.length }, 'took requests left for this node at a mailbox');
        failures = 0;
        this.deps.onChange?.();
      } catch (error) {
        drop();
        if (signal.aborted) return;
        failures += 1;
        const message = cleanText((error as Error).message, PEER_TEXT_MAX);
        this.record(server, null, message);
        infoLimited(log, `mailbox_fetch_failed ${server}`, { event: 'mailbox_fetch_failed', mailbox: server, error: message, failures }, 'mailbox fetch failed; retrying');
        await sleep(failures === 1 ? 50 : Math.min(MAX_BACKOFF_MS, 500 * 2 ** Math.min(failures, 7)) * (0.5 + Math.random() / 2), signal);
      }
    }
  }

  private async ack(identity: Identity, server: string, endpoint: string, cursor: number, signal: AbortSignal): Promise<void> {
    const response = await this.deps.http.signed(identity, 'POST', endpoint, MAILBOX_ACK_PATH, JSON.stringify({ cursor: String(cursor) }), { signal, destination: server });
    if (response.status !== 200) throw new Error(`mailbox ack answered HTTP ${response.status}`);
  }

  private record(server: string, fetchedAt: number | null, error: string | null): void {
    try {
      this.saveState.run({ server, fetched: fetchedAt, error, now: Date.now() });
    } catch {
      // the database is closing
    }
  }
}
