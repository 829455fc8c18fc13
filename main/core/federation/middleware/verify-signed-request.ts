/**
 * Koa middleware verifying a signed federation request (docs/PROTOCOL.md §Request signatures), in this order:
 * auth headers → clock skew → per-address rate limit → origin allowed → key known (fetching
 * the origin's keys once when the id is unknown) → body read with the size limit → request
 * signature → replay → per-server rate limit (a copy of a request already seen is charged nothing).
 * The body has to be read before the signature can be checked, so the 1 MiB limit (413)
 * is enforced there; the depth/collection limits follow in the route, after the replay check.
 */
import type { Context, Middleware } from 'koa';
import { HEX_SIGNATURE, KEY_ID, isServerName } from '../../../../shared/identifiers.ts';
import { verify } from '../../crypto/ed25519.ts';
import { HttpError, conflict, forbidden, unauthorized } from '../../errors.ts';
import type { RateLimit, RateLimiters } from '../../trust/rate-limiter.ts';
import type { AbuseMonitor } from '../../trust/abuse-monitor.ts';
import { readRawBody } from '../../http/read-body.ts';
import { addressKey } from '../../http/client-address.ts';
import type { GroupCommit } from '../../store/group-commit.ts';
import type { TrustStore } from '../../trust/trust-store.ts';
import type { ReplayCache } from '../replay-cache.ts';
import { DISPATCH_HEADER, DISPATCH_KEPT_AT_HEADER, DISPATCH_VIA_HEADER } from '../../mailbox/self-dispatch.ts';
import { MAILBOX_MAX_AGE_MS } from '../../mailbox/mailbox-store.ts';
import {
  HEADER_DESTINATION,
  HEADER_KEY_ID,
  HEADER_ORIGIN,
  HEADER_SIGNATURE,
  HEADER_TIMESTAMP,
  MAX_CLOCK_SKEW_MS,
  signingString,
} from '../request-signature.ts';
import { isNotYetError } from '../fetched-event-failure.ts';
import type { AckRefusals } from '../page-acks.ts';
import { dispatchedRefusals } from '../../mailbox/carried-refusals.ts';
import { isUncheckedKey, keysNotChecked, type ServerKeys } from '../keys/server-keys.ts';

export interface SignedRequestState {
  /** Carried by a mailbox and handed over by this process (mailbox/self-dispatch.ts). */
  viaMailbox?: boolean;
  /**
   * Carried by a mailbox for another server (mailboxWeekReplay): its replay entry is kept for the
   * mailbox's week. One a mailbox signed itself is remembered as a direct request is.
   */
  replayForWeek?: boolean;
  origin: string;
  keyId: string;
  requestTs: number;
  signature: string;
  rawBody: Buffer;
  /** Whether the origin was quarantined when the request arrived (or at its last `recheck`). */
  quarantined: boolean;
  /**
   * The trust decision made again, now: a request that waited (a long poll) asks it before it
   * answers, since the owner may have blocked or quarantined its origin meanwhile. Throws 403
   * (`origin_blocked`, `origin_not_allowed`) when the origin may no longer be answered; else
   * updates `quarantined`.
   */
  recheck(): void;
  /** Set by a route that recorded the replay entry in its own transaction. */
  replayRecorded: boolean;
  /**
   * Set by a route when a request a mailbox carried was not wholly taken: an event of it was
   * answered "not yet" (5xx, 429). Its replay entry is then not written, so the copy the mailbox
   * still holds can be handed over again (the events stored already answer `inserted: false`).
   */
  notTaken?: boolean;
  /**
   * Set by a read-only route (GET /pull): answer without waiting for the replay entry's fsync.
   * The entry is still written (group commit), and the request stays claimed in memory until it
   * is durable; only a crash in that moment forgets it (docs/SECURITY.md, replay).
   */
  replayAnswerEarly?: boolean;
  /**
   * Charges the server `tokens` more of its rate limit for a request that weighs more than one
   * (a batch of more than 100 events counts one per 100: docs/PROTOCOL.md). False, and nothing
   * taken, when the request would weigh more than the server's whole burst (it could never pass:
   * the caller refuses it as too large); throws 429 when the bucket has not enough now.
   */
  chargeMore(tokens: number): boolean;
}

/**
 * For the routes that read a room's content out to the caller (catch-up, `GET /event/{id}`):
 * nothing is sent to a quarantined server (docs/PROTOCOL.md §Rate limits and trust), pushed,
 * pulled or asked for; 403 `origin_quarantined` until the owner ends the quarantine.
 */
export function refuseQuarantinedReader(state: SignedRequestState): void {
  if (state.quarantined) throw forbidden('origin_quarantined', `${state.origin} is quarantined by this server: nothing of its rooms is served to it until the owner ends the quarantine`);
}

export interface VerifySignedRequestDeps {
  trust: TrustStore;
  limiter?: RateLimiters;
  /** Per source address, before authentication. */
  addressLimit?: RateLimit;
  abuse?: AbuseMonitor;
  /** Verifies off the main thread when given (VerifyPool). */
  verifier?: { verify(signature: Buffer, message: Buffer, publicKey: Buffer, options?: { urgent?: boolean }): Promise<boolean> };
  keys: ServerKeys;
  replay: ReplayCache;
  /** Whether a header value is this process's mailbox hand-over secret (mailbox/self-dispatch.ts). */
  isDispatched?: (value: string) => boolean;
  commit: GroupCommit;
  /** Our server name: a request bound to another destination is refused (403 wrong_destination). */
  serverName?: () => string;
  /**
   * Another destination `origin` may bind to for us (lowercased), or null: the host of our
   * federation URL for a Paracord reference peer, whose 156125ca/0d9d2dcc versions bind to the
   * host they dial (docs/PROTOCOL.md "Reference 3.x").
   */
  destinationAlias?: (origin: string) => string | null;
  /**
   * Whether `origin` advertises destination binding (its discovery document); an unbound request
   * from such a server is refused (403 destination_binding_required). Errors count as "no".
   */
  bindsDestination?: (origin: string) => Promise<boolean>;
  /**
   * Where the events refused for good of a request this process handed over from a mailbox's page
   * are kept (mailbox/carried-refusals.ts), in the commit that records its replay entry: a copy
   * handed over again after a crash answers only "taken before".
   */
  carriedRefusals?: Pick<AckRefusals, 'keep'>;
  /** Called for each verified request made to us directly, not carried by a mailbox (wakes the outbox worker of that peer, marks it seen). */
  onVerified?: (origin: string) => void;
  now?: () => number;
}

const DIGITS = /^[0-9]{1,16}$/;

export interface AuthHeaders {
  origin: string;
  keyId: string;
  requestTs: number;
  signature: string;
  /** X-Paracord-Destination, lowercased, when the request is bound to a destination. */
  destination?: string;
}

/** The four auth headers, present, well-formed and within the clock skew; otherwise 401. */
export function readAuthHeaders(ctx: Context, now: number, maxAgeMs = MAX_CLOCK_SKEW_MS): AuthHeaders {
  const origin = ctx.get(HEADER_ORIGIN);
  const keyId = ctx.get(HEADER_KEY_ID);
  const timestamp = ctx.get(HEADER_TIMESTAMP);
  const signature = ctx.get(HEADER_SIGNATURE);

  const missing = [
    [HEADER_ORIGIN, origin],
    [HEADER_KEY_ID, keyId],
    [HEADER_TIMESTAMP, timestamp],
    [HEADER_SIGNATURE, signature],
  ]
    .filter(([, value]) => !value)
    .map(([name]) => name);
  if (missing.length > 0) {
    throw unauthorized('missing_auth', `signed request required; missing header(s): ${missing.join(', ')}`);
  }
  if (!isServerName(origin)) throw unauthorized('invalid_auth', `${HEADER_ORIGIN} is not a server name`);
  if (!KEY_ID.test(keyId)) throw unauthorized('invalid_auth', `${HEADER_KEY_ID} must look like ed25519:<id>`);
  if (!DIGITS.test(timestamp)) throw unauthorized('invalid_auth', `${HEADER_TIMESTAMP} must be unix milliseconds`);
  if (!HEX_SIGNATURE.test(signature)) throw unauthorized('invalid_auth', `${HEADER_SIGNATURE} must be 128 lowercase hex characters`);

  const destinationHeader = ctx.get(HEADER_DESTINATION);
  if (destinationHeader !== '' && !isServerName(destinationHeader.toLowerCase())) {
    throw unauthorized('invalid_auth', `${HEADER_DESTINATION} is not a server name`);
  }

  const requestTs = Number(timestamp);
  const skew = requestTs - now;
  if (skew > MAX_CLOCK_SKEW_MS || -skew > maxAgeMs) {
    throw unauthorized('stale_timestamp', `request timestamp is ${Math.round(skew / 1000)} s from this server's clock (limit ±${MAX_CLOCK_SKEW_MS / 1000} s)`);
  }
  return { origin, keyId, requestTs, signature, ...(destinationHeader !== '' ? { destination: destinationHeader.toLowerCase() } : {}) };
}

/** A request bound to a destination must name us, or the alias `origin` may use for us (403 wrong_destination). */
export function checkDestination(auth: AuthHeaders, self: string | undefined, aliasFor?: (origin: string) => string | null): void {
  if (auth.destination !== undefined && self !== undefined && auth.destination !== self.toLowerCase() && auth.destination !== aliasFor?.(auth.origin)) {
    throw forbidden('wrong_destination', `this request was signed for ${auth.destination}, not for ${self}`);
  }
}

/** An unbound request from a server that advertises binding is refused (403 destination_binding_required). */
export async function requireBindingIfAdvertised(auth: AuthHeaders, binds: ((origin: string) => Promise<boolean>) | undefined): Promise<void> {
  if (auth.destination !== undefined || !binds) return;
  if (await binds(auth.origin).catch(() => false)) {
    throw forbidden('destination_binding_required', `${auth.origin} binds its requests to their destination; this one carries no ${HEADER_DESTINATION}`);
  }
}

/** Checks the request signature over the raw body with the given public key (hex); 403 if it fails. */
export function checkRequestSignature(ctx: Context, auth: AuthHeaders, rawBody: Buffer, publicKeyHex: string): void {
  const signed = signingString(ctx.method, ctx.originalUrl, auth.requestTs, rawBody, auth.destination);
  if (!verify(Buffer.from(auth.signature, 'hex'), Buffer.from(signed, 'utf8'), Buffer.from(publicKeyHex, 'hex'))) {
    throw forbidden('bad_signature', `request signature does not verify with ${auth.origin}'s key ${auth.keyId}`);
  }
}

/**
 * checkRequestSignature, verified off the main thread when a verifier (VerifyPool) is given:
 * for requests that anybody may send (peering), so a flood cannot keep the main thread busy.
 */
export async function checkRequestSignatureOffThread(ctx: Context, auth: AuthHeaders, rawBody: Buffer, publicKeyHex: string, verifier?: VerifySignedRequestDeps['verifier']): Promise<void> {
  if (!verifier) return checkRequestSignature(ctx, auth, rawBody, publicKeyHex);
  const signed = Buffer.from(signingString(ctx.method, ctx.originalUrl, auth.requestTs, rawBody, auth.destination), 'utf8');
  if (!(await verifier.verify(Buffer.from(auth.signature, 'hex'), signed, Buffer.from(publicKeyHex, 'hex')))) {
    throw forbidden('bad_signature', `request signature does not verify with ${auth.origin}'s key ${auth.keyId}`);
  }
}

/**
 * Per client address, before authentication (issue #14, item 13): generous, because everybody
 * behind one NAT shares it (and behind a trusted proxy `ctx.ip` is the forwarded client); the
 * limit that matters is the one per authenticated origin server, after the signature.
 */
export const DEFAULT_ADDRESS_LIMIT: RateLimit = { per_second: 2_000, burst: 5_000 };
/** Keys of servers we know nothing of, read for one source address (one every 10 s, 3 at once), and for everybody (2 a second, 10 at once). */
export const STRANGER_KEY_READS_PER_ADDRESS: RateLimit = { per_second: 0.1, burst: 3 };
export const STRANGER_KEY_READS: RateLimit = { per_second: 2, burst: 10 };
/** How long a stranger's request may wait for its keys to be read (discovery, connection, answer together). */
export const STRANGER_KEY_READ_MS = 10_000;

function rateLimited(message: string, retryAfterMs: number): HttpError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new HttpError(429, 'rate_limited', `${message}; retry in ${seconds} s`, { 'retry-after': String(seconds) });
}

/**
 * How long a request handed over by this process waited here before (its kept-at header, set by
 * self-dispatch.ts only with the secret): its age counts from when it was kept (carried-retries.ts
 * checked it then: fresh, not taken before). 0 without the header.
 */
function keptFor(header: string, now: number): number {
  if (!/^[0-9]{1,16}$/.test(header)) return 0;
  return Math.max(0, now - Number(header));
}

/**
 * How old a request may be: the usual clock skew, or for one this process handed over
 * (`dispatched`) the mailbox window counted from when it was kept here. One rule for every route
 * a mailbox may carry (this middleware's and the peering routes', which check their own signature).
 */
export function requestMaxAgeMs(ctx: { get(name: string): string }, dispatched: boolean, now: number): number {
  return dispatched ? MAILBOX_MAX_AGE_MS + MAX_CLOCK_SKEW_MS + keptFor(ctx.get(DISPATCH_KEPT_AT_HEADER), now) : MAX_CLOCK_SKEW_MS;
}

/**
 * Whether a request this process handed over (`dispatched`) keeps its replay entry for the
 * mailbox's week: unless the mailbox that carried it signed it itself. A copy handed over again
 * later must be refused (409) when a mailbox carries another server's request, which it could
 * otherwise hand over again and again, charging that server's rate limit and counting its refused
 * events towards its quarantine each time. Its own it may hand over again: that costs only itself,
 * as sending the request again would. And its own were entries it could add at its rate limit for
 * a week each, charged to no quota (a helper's review, 2026-11-27).
 */
export function mailboxWeekReplay(ctx: { get(name: string): string }, dispatched: boolean, origin: string): boolean {
  return dispatched && ctx.get(DISPATCH_VIA_HEADER).toLowerCase() !== origin.toLowerCase();
}

export function verifySignedRequest(deps: VerifySignedRequestDeps): Middleware {
  const now = deps.now ?? Date.now;
  return async (ctx, next) => {
    // A request a mailbox carried, handed over by this process (mailbox/self-dispatch.ts): it may
    // be as old as a mailbox keeps things, and must be bound to us (no destination: 401).
    const dispatched = deps.isDispatched !== undefined && deps.isDispatched(ctx.get(DISPATCH_HEADER));
    const at = now();
    const auth = readAuthHeaders(ctx, at, requestMaxAgeMs(ctx, dispatched, at));
    if (dispatched && auth.destination === undefined) throw unauthorized('invalid_auth', 'a request carried by a mailbox must be bound to its destination');
    const { origin, keyId, requestTs, signature } = auth;
    checkDestination(auth, deps.serverName?.(), deps.destinationAlias);
    const replayForWeek = mailboxWeekReplay(ctx, dispatched, origin);
    // Before any expensive work, a generous per-address limit: a flood of forged requests costs
    // a map lookup each, and cannot use up the allowance of the server it pretends to be. Not for
    // what this process hands over (all from 127.0.0.1: one mailbox's junk would have used up the
    // bucket of every other mailbox's requests); its pace is the fetch loop's (signed-page-loop.ts).
    const byAddress = dispatched ? null : deps.limiter?.address.take(`ip ${addressKey(ctx.ip)}`, deps.addressLimit ?? DEFAULT_ADDRESS_LIMIT);
    if (byAddress && !byAddress.ok) throw rateLimited(`${ctx.ip} sends too many requests`, byAddress.retryAfterMs);

    const decision = deps.trust.decide(origin);
    if (!decision.allowed) throw forbidden(decision.code, decision.message);

    // A key read from its server over a day ago (or past its valid_until) is read again first: a rotation is learnt.
    // One a mailbox carried was signed up to its week ago: with the key current then (server-keys.ts KeyUse).
    const use = dispatched ? { purpose: 'request' as const, carriedSignedAt: requestTs } : { purpose: 'request' as const };
    let key = deps.keys.lookupNow(origin, keyId, use, { refreshStale: true });
    // A stranger (the open policy lets them sign requests): its keys are read from wherever its
    // name points, before its signature can be checked, and a name costs nothing to make up. So
    // such reads are budgeted per source address and for everybody together (a helper's review,
    // 2026-11-30: a reflector and a scanner otherwise), and what the read met is not told back.
    let stranger = false;
    if (key === null) {
      stranger = !dispatched && deps.trust.get(origin) === undefined && !deps.keys.hasDirectKeys(origin);
      if (stranger && deps.limiter) {
        const fromAddress = deps.limiter.address.take(`stranger-keys ${addressKey(ctx.ip)}`, STRANGER_KEY_READS_PER_ADDRESS);
        if (!fromAddress.ok) throw rateLimited(`${ctx.ip} asks this server to read too many unknown servers' keys`, fromAddress.retryAfterMs);
        // (The address's first: one address refused cannot spend everybody's.)
        const everybody = deps.limiter.global.take('stranger-keys', STRANGER_KEY_READS);
        if (!everybody.ok) throw rateLimited('this server reads too many unknown servers\' keys right now', everybody.retryAfterMs);
      }
      key = await deps.keys.lookup(origin, keyId, use, { refreshStale: true, ...(stranger ? { deadlineMs: STRANGER_KEY_READ_MS } : {}) });
    }
    // A key id met just after we read the server's keys (it may have rotated since), or when its keys
    // could not be read: 503 with Retry-After, retried by the sender, not refused for good (nor blamed).
    if (isUncheckedKey(key)) throw keysNotChecked(stranger && key.code === 'keys_unavailable' ? { ...key, message: `${origin}'s keys could not be read to check key ${keyId}` } : key);
    if (!key.ok) throw forbidden(key.code, key.message);

    const rawBody = await readRawBody(ctx);
    if (deps.verifier) {
      const signed = Buffer.from(signingString(ctx.method, ctx.originalUrl, requestTs, rawBody, auth.destination), 'utf8');
      // Urgent: all the work of the request waits for this one check.
      if (!(await deps.verifier.verify(Buffer.from(signature, 'hex'), signed, Buffer.from(key.key.public_key, 'hex'), { urgent: true }))) {
        // A reference peer may have changed the key behind its reused key id: fetched again in the
        // background (rate limited); its next request (it polls every 5 s) then finds the new key.
        void deps.keys.refetchAfterFailure(origin).catch(() => undefined);
        throw forbidden('bad_signature', `request signature does not verify with ${origin}'s key ${keyId}`);
      }
    } else {
      try {
        checkRequestSignature(ctx, auth, rawBody, key.key.public_key);
      } catch (error) {
        void deps.keys.refetchAfterFailure(origin).catch(() => undefined);
        throw error;
      }
    }
    // Only after the signature verified, so only a genuine unbound request of a binding server costs a look-up.
    await requireBindingIfAdvertised(auth, deps.bindsDestination);

    // The server's own limit, once we know the request is really from it; so every refusal
    // is its doing and counts towards auto-quarantine.
    const limit = deps.trust.rateLimitFor(origin);
    let charged = 0;
    const charge = (tokens: number): boolean => {
      if (charged > 0 && charged + tokens > limit.burst) return false;
      const byServer = deps.limiter?.server.take(origin, limit, Date.now(), tokens);
      if (byServer && !byServer.ok) {
        // A carried request comes when our own fetcher takes it, not when its origin chose to send.
        if (!dispatched) deps.abuse?.record(origin, 'rate_limited');
        throw rateLimited(`${origin} is over its rate limit here`, byServer.retryAfterMs);
      }
      charged += tokens;
      return true;
    };
    // Replay before the charge: a copy of a request already seen (held by a mailbox, an observer)
    // spends nothing of its origin's allowance and counts nothing towards its quarantine.
    if (deps.replay.claim(signature)) {
      throw conflict('replayed_request', 'this exact signed request was already received; sign each request afresh');
    }
    // Refused over the limit, the request is still recorded (so no copy of it is charged again);
    // it changed nothing, so its answer does not wait for the entry's fsync.
    let refusedEarly = false;
    let failure: unknown;
    const recheck = (): void => {
      const now = deps.trust.decide(origin);
      if (!now.allowed) throw forbidden(now.code, now.message);
      (ctx.state as SignedRequestState).quarantined = now.quarantined;
    };
    try {
      try {
        charge(1);
      } catch (error) {
        refusedEarly = true;
        throw error;
      }
      const state: SignedRequestState = { origin, keyId, requestTs, signature, rawBody, quarantined: decision.quarantined, recheck, replayRecorded: false, chargeMore: charge, ...(dispatched ? { viaMailbox: true, replayForWeek } : {}) };
      Object.assign(ctx.state, state);
      // Only a request the origin made to us now: one a mailbox carried (up to a week old) says
      // nothing of whether the origin is reachable now (red team, 2026-11-28: it marked the origin
      // seen, ended its discovery failures and woke our deliveries to it).
      if (!dispatched) deps.onVerified?.(origin);
      await next();
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      const after = ctx.state as Partial<SignedRequestState>;
      if (after.replayRecorded === true) deps.replay.release(signature);
      // A request a mailbox carried that was answered "not yet" changed nothing (or, a batch, not
      // all of it): no entry, so its copy is taken when our fetcher hands it over again.
      else if (dispatched && (after.notTaken === true || (failure !== undefined && isNotYetError(failure)))) deps.replay.release(signature);
      else {
        const carried = dispatched && deps.carriedRefusals ? dispatchedRefusals(ctx, rawBody, failure) : null;
        const recorded = deps.commit.run(() => {
          deps.replay.record(signature, origin, requestTs, replayForWeek);
          if (carried) deps.carriedRefusals!.keep(carried.mailbox, carried.itemId, carried.refused);
        });
        const release = () => deps.replay.release(signature);
        if (after.replayAnswerEarly === true || refusedEarly) void recorded.then(release, release);
        else await recorded.finally(release);
      }
    }
  };
}
