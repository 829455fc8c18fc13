/**
 * Hands a request a mailbox carried to this node's own federation listener, byte for byte as its
 * origin signed it (issue #32): the same middleware checks it as a direct request — the origin is
 * a peer we allow, the signature verifies with its key, the request is bound to us, rate limits,
 * the route's own checks. Only one thing differs, and only for requests this process hands over
 * (a per-process secret header): the request may be as old as a mailbox keeps things (7 days)
 * instead of the usual clock skew; it must then be bound to us (verify-signed-request.ts).
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { Agent } from 'undici';
import { isNotYetStatus } from '../federation/fetched-event-failure.ts';
import { carriedRefusals } from './carried-refusals.ts';

export const DISPATCH_HEADER = 'x-paracord-mailbox-dispatch';
/**
 * With DISPATCH_HEADER only: when this node kept the request to hand it over again later
 * (carried-retries.ts, unix ms). Its age is then judged from that moment: a request kept a week
 * behind a wait here is not refused as stale for the time it waited here.
 */
export const DISPATCH_KEPT_AT_HEADER = 'x-paracord-mailbox-kept-at';
/**
 * With DISPATCH_HEADER only: the server name of the mailbox that carried the request. One the
 * mailbox signed itself (its own name as origin) is remembered as a direct request is, not for the
 * mailbox's week (verify-signed-request.ts).
 */
export const DISPATCH_VIA_HEADER = 'x-paracord-mailbox-via';
/**
 * With DISPATCH_HEADER only: the id of the mailbox's item it came in, for a request handed over
 * from a mailbox's page (not one kept here and handed over again later). What our listener refuses
 * of it for good is kept under that id, in the commit of its replay entry (carried-refusals.ts).
 */
export const DISPATCH_ITEM_HEADER = 'x-paracord-mailbox-item';

export interface CarriedRequest {
  from: string;
  path: string;
  keyId: string;
  timestamp: string;
  signature: string;
  body: string;
  /** When this node kept it (carried-retries.ts): its age is judged from then. */
  keptAt?: number;
  /** The mailbox that carried it (when known: a request the mailbox signed itself is then remembered as a direct one). */
  mailbox?: string;
  /** The mailbox's id of the item it came in (a page's item, handed over now: its refusals are kept under it). */
  itemId?: string;
}

export type NotYet = 'limit' | 'unchecked' | 'failure' | 'defect';

/** How long our listener may take to answer a carried request handed over (its key fetch included). */
export const DISPATCH_DEADLINE_MS = 120_000;

/** What a status (and error code) that is no final answer asks for, or null for a final one. */
export function notYetOf(status: number, error: unknown): NotYet | null {
  if (!isNotYetStatus(status)) return null;
  if (status === 429) return 'limit';
  if (status === 503 && (error === 'keys_unavailable' || error === 'keys_recently_fetched')) return 'unchecked';
  // 500 internal_error: something unforeseen failed on this request here (a failure of the disk or
  // the database is 503 storage_failed, http/middleware/error-handler.ts): tried for a while like
  // what cannot be checked, then given up, so one request cannot hold its queue for good.
  if (status === 500 && error === 'internal_error') return 'defect';
  return 'failure';
}

export interface DispatchAnswer {
  status: number;
  error: string | null;
  /**
   * Not wholly taken: "not yet" (the answer, or the first such event of a batch): `limit` (429: a
   * rate limit or a daily quota here), `unchecked` (503 keys_*: its signer's keys not readable
   * now), `defect` (500 internal_error: something unforeseen failed on it here), `failure` (another
   * 5xx: a failure here, its disk or database). Null when every answer is final.
   */
  notYet: NotYet | null;
  /** With `notYet`: the answer's Retry-After (ms), when it gave one. */
  retryAfterMs?: number;
  /**
   * What the request carried (its events for a batch, else 1) and how many of those were new here
   * (an event or invite stored for the first time; any other request taken with a 2xx): a copy of
   * what is stored already, answered 2xx too, is no news (fetcher.ts paces pages without any).
   */
  items: number;
  taken: number;
  /**
   * Its events refused for good (carried-refusals.ts): named in the ack to the mailbox, whose
   * depositor marks them failed. Also those of a batch kept to be handed over again (its other
   * events were "not yet"): refused again then, they are not named again.
   */
  refused?: Array<{ event_id: string; status: number; error: string }>;
}

export class SelfDispatch {
  /** Never leaves this process: a request carrying it came from dispatch() below. */
  private readonly secret = randomBytes(32).toString('hex');
  /** Made at the first hand-over: a node that never holds mail for itself loads no HTTP client for it (idle RSS). */
  private agent: Agent | null = null;
  private readonly base: () => string | null;
  private readonly self: () => string;

  /** `base`: our own listener (`https://127.0.0.1:7447`), null while it is not listening. */
  constructor(base: () => string | null, self: () => string) {
    this.base = base;
    this.self = self;
  }

  /** Whether a request carries this process's secret (it was handed over by dispatch()). */
  isDispatched(value: string): boolean {
    // Compared as bytes: a header of as many characters may hold more bytes (not ASCII).
    const given = Buffer.from(value, 'utf8');
    const secret = Buffer.from(this.secret, 'utf8');
    return given.length === secret.length && timingSafeEqual(given, secret);
  }

  async dispatch(carried: CarriedRequest): Promise<DispatchAnswer> {
    const base = this.base();
    if (!base) return { status: 503, error: 'not listening', notYet: 'failure', items: 1, taken: 0 };
    const { Agent: AgentClass, request } = await import('../http/undici-request.ts');
    this.agent ??= new AgentClass({ connect: { rejectUnauthorized: false }, keepAliveTimeout: 10_000, connections: 4 });
    // Our listener's whole answer within DISPATCH_DEADLINE_MS, or this request is "not yet" (a
    // defect: tried for a while, then given up), kept in its depositor's queue: a throw here failed
    // the whole mailbox page, and a hand-over waiting on a peer's trickled keys held it for as long
    // as undici's 300 s defaults allowed, again and again (red team, 2026-11-28).
    let response: Awaited<ReturnType<typeof request>>;
    let text: string;
    try {
      response = await request(`${base}${carried.path}`, {
        method: 'POST',
        dispatcher: this.agent,
        signal: AbortSignal.timeout(DISPATCH_DEADLINE_MS),
        headers: {
          'content-type': 'application/json',
          'x-paracord-origin': carried.from,
          'x-paracord-key-id': carried.keyId,
          'x-paracord-timestamp': carried.timestamp,
          'x-paracord-signature': carried.signature,
          'x-paracord-destination': this.self().toLowerCase(),
          [DISPATCH_HEADER]: this.secret,
          ...(carried.keptAt !== undefined ? { [DISPATCH_KEPT_AT_HEADER]: String(carried.keptAt) } : {}),
          ...(carried.mailbox !== undefined ? { [DISPATCH_VIA_HEADER]: carried.mailbox } : {}),
          ...(carried.itemId !== undefined && carried.mailbox !== undefined ? { [DISPATCH_ITEM_HEADER]: carried.itemId } : {}),
        },
        body: Buffer.from(carried.body, 'utf8'),
      });
      text = await response.body.text();
    } catch (error) {
      return { status: 500, error: `not answered here: ${(error as Error).message}`.slice(0, 100), notYet: 'defect', items: 1, taken: 0 };
    }
    type Body = { error?: unknown; results?: unknown; inserted?: unknown } | null;
    let body: Body = null;
    try {
      body = JSON.parse(text) as Body;
    } catch {
      // not JSON
    }
    // A batch answers 200 with a result per event: the first "not yet" one says what the batch waits for.
    let notYet = notYetOf(response.statusCode, body?.error);
    let status = response.statusCode;
    let error: unknown = body?.error;
    if (response.statusCode === 200 && Array.isArray(body?.results)) {
      for (const result of body.results as Array<{ status?: unknown; error?: unknown } | null>) {
        notYet = typeof result?.status === 'number' ? notYetOf(result.status, result.error) : null;
        // The batch waits for this event: its answer is the batch's (what the owner's view words).
        if (notYet) {
          status = result!.status as number;
          error = result!.error;
          break;
        }
      }
    }
    const seconds = Number(response.headers['retry-after']);
    return {
      status, error: typeof error === 'string' ? error.slice(0, 100) : null, notYet,
      ...(notYet && Number.isFinite(seconds) && seconds >= 1 ? { retryAfterMs: Math.min(seconds, 86_400) * 1000 } : {}),
      ...newItems(response.statusCode, body),
      refused: carriedRefusals(carried.path, carried.body, response.statusCode, body),
    };
  }

  async close(): Promise<void> {
    const agent = this.agent;
    this.agent = null;
    await agent?.close();
  }
}

/**
 * How many items a request's answer says were new here: a batch's events answered `inserted:
 * true`; one event (or invite) answered so; any other request taken (2xx), as one.
 */
function newItems(status: number, body: { results?: unknown; inserted?: unknown } | null): { items: number; taken: number } {
  if (status < 200 || status >= 300) return { items: Array.isArray(body?.results) ? Math.max(1, body.results.length) : 1, taken: 0 };
  if (Array.isArray(body?.results)) {
    const results = body.results as Array<{ inserted?: unknown } | null>;
    return { items: Math.max(1, results.length), taken: results.filter((r) => r?.inserted === true).length };
  }
  if (body !== null && typeof body.inserted === 'boolean') return { items: 1, taken: body.inserted ? 1 : 0 };
  return { items: 1, taken: 1 };
}
