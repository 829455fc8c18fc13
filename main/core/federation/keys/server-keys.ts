/**
 * Remote servers' verify keys, and the rule for using them (docs/PROTOCOL.md §Keys and the keys document):
 * - a request must be signed by a current key (not expired);
 * - an event may be signed by an old key if its origin_ts is before the key's expired_at.
 * An unknown key id triggers one fetch of the origin's keys document (single-flight per
 * server, at most one fetch per server per MIN_REFETCH_MS, negative cache per key id). An id
 * met within that gap after a fetch is not refused as unknown (the server may have rotated just
 * after): the caller is told when a fetch is allowed again (503 Retry-After), and nothing is cached.
 * Nor is an id met when the keys could not be read (the fetch failed: network, timeout, DNS, 5xx,
 * a malformed document): keys_unavailable, 503 with Retry-After, nothing cached, nobody blamed. Only
 * a document that was read and does not list the id (or an address our policy refuses) is a verdict.
 *
 * The keys themselves live in direct-keys.ts (pinned by the owner or fetched from the server
 * itself), relayed-keys.ts (learnt from a relaying host's key cache, for that host's events only)
 * and reference-hints.ts (a reference server's valid_until as a refresh hint); ServerKeys looks
 * them up and fetches them.
 * All the in-memory state (negative cache, fetch times) is bounded (LRU).
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { HttpError } from '../../errors.ts';
import { AddressRefusedError } from '../address-policy.ts';
import { warnLimited } from '../../log/rate-limit.ts';
import type { Db } from '../../store/database.ts';
import type { Discovery } from '../discovery.ts';
import type { HttpClient } from '../http-client.ts';
import { joinUrl } from '../http-client.ts';
import { KEYS_DOCUMENT_MAX_BYTES, checkKeysDocument, type RemoteKeysDocument } from '../keys-document.ts';
import type { RequestSigner } from '../request-signature.ts';
import { checkReferenceKeys, unsignedKeysTrust } from '../reference/keys.ts';
import { ReplacedKeys, pendingKeyChangeReason } from '../reference/key-replacement.ts';
import { DirectKeys, type ServerKeyRow } from './direct-keys.ts';
import { ReferenceHints } from './reference-hints.ts';
import { DEFAULT_MAX_RELAYED_ORIGINS_PER_HOST, RelayedKeys, type RelayedKeyRow } from './relayed-keys.ts';
import { KEYS_PATH } from '../paths.ts';
import { KEY_VALIDITY_MS } from '../../identity/identity.ts';
import { settlesWithin } from '../../util/settles-within.ts';

export type { ServerKeyRow, RelayedKeyRow };

const MIN_REFETCH_MS = 10_000;
/** How long a reference's keys fetched again after a failed signature may take (discovery and the document together). */
const REFETCH_DEADLINE_MS = 10_000;
const ORIGIN_DEADLINE_WITH_FALLBACK_MS = 2_000;
const NEGATIVE_TTL_MS = 5 * 60_000;
/** The Retry-After for a relaying host's key cache that could not be read (relayed-keys.ts reads it at most once per 10 s). */
const CACHE_RETRY_MS = 10_000;
/** Bounds of the in-memory state keyed by names and key ids that strangers choose. */
const MAX_NEGATIVE_ENTRIES = 2_000;
const MAX_FETCH_ENTRIES = 2_000;

/**
 * What a key is to verify. A request: signed now, with the current key; one a mailbox carried
 * (`carriedSignedAt`, its signing time, up to the mailbox's week ago) with the key current then,
 * as an event is: a rotation here made every request left at a mailbox before it refused for good
 * (a helper's audit, 2026-11-28).
 */
export type KeyUse = { purpose: 'request'; carriedSignedAt?: number } | { purpose: 'event'; originTs: number };

/** The host relaying an event of another origin (events only), whose key cache may then serve. */
function relayingHost(serverName: string, use: KeyUse, options: { via?: string }): string | undefined {
  return use.purpose === 'event' && options.via !== undefined && options.via !== serverName ? options.via : undefined;
}

/**
 * `via`: the host relaying an event. `refreshStale`: a request's key read from its server too long
 * ago (ServerKeys.stale) is read again first (one fetch per server per 10 s), so a rotation is learnt.
 */
export interface LookupOptions {
  via?: string;
  refreshStale?: boolean;
  /**
   * At most this long for the keys' fetch (discovery, connection, answer): a stranger's request
   * waits no longer than that for its keys (verify-signed-request.ts), whatever its name points at.
   */
  deadlineMs?: number;
}

export type KeyLookup =
  | { ok: true; key: ServerKeyRow }
  | { ok: false; code: 'unknown_key' | 'key_expired' | 'too_many_relayed_origins'; message: string }
  /**
   * An unknown key id that could not be checked: the server's keys were read within the
   * per-server gap (MIN_REFETCH_MS), before it may have rotated to it. Not a verdict: the caller
   * answers "retry in `retryAfterMs`" (503), when a fetch is allowed again and learns a new key.
   */
  | { ok: false; code: 'keys_recently_fetched'; message: string; retryAfterMs: number }
  /**
   * An unknown key id that could not be checked because the server's keys could not be read (the
   * fetch failed: unreachable, timed out, DNS, an error status, a malformed document). Not a
   * verdict either: 503 "retry in `retryAfterMs`" (when a fetch is allowed again), nothing cached.
   */
  | { ok: false; code: 'keys_unavailable'; message: string; retryAfterMs: number };

/** A lookup that is no verdict: the key id could not be checked yet, the caller answers 503 (keysNotChecked). */
export type UncheckedKeyLookup = Extract<KeyLookup, { code: 'keys_recently_fetched' | 'keys_unavailable' }>;

export function isUncheckedKey(lookup: KeyLookup): lookup is UncheckedKeyLookup {
  return !lookup.ok && (lookup.code === 'keys_recently_fetched' || lookup.code === 'keys_unavailable');
}

/** The answer to a key id `lookup` could not check yet (keys_recently_fetched, keys_unavailable): 503 and when to retry. */
export function keysNotChecked(lookup: UncheckedKeyLookup): HttpError {
  const seconds = Math.max(1, Math.ceil(lookup.retryAfterMs / 1000));
  return new HttpError(503, lookup.code, `${lookup.message}; retry in ${seconds} s`, { 'retry-after': String(seconds) });
}

/**
 * Whether a failed keys fetch is a refusal by our own address policy (a server named by an address
 * we never connect to): that does not change by asking again, and stays a verdict (unknown_key).
 * Anything else (no route, timeout, DNS, an error status, a malformed document) may pass.
 */
function refusedByPolicy(error: unknown): boolean {
  for (let e = error as (Error & { cause?: unknown }) | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e instanceof AddressRefusedError) return e.byPolicy;
  }
  return false;
}

/** The node's wiring, given to the constructor (the fields below document each). */
export interface ServerKeysOptions {
  maxRelayedOriginsPerHost?: number;
  mayContactRelayedOrigin?: (serverName: string) => boolean;
  isReference?: (serverName: string) => boolean;
}

export class ServerKeys {
  private readonly db: Db;
  private readonly http: HttpClient;
  private readonly discovery: Discovery;
  private readonly log: Logger;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly lastFetch = new LRUCache<string, number>({ max: MAX_FETCH_ENTRIES });
  private readonly negative = new LRUCache<string, number>({ max: MAX_NEGATIVE_ENTRIES });
  /**
   * The servers whose last keys fetch failed (not by our address policy): the time of that fetch
   * (its lastFetch) and why. Cleared by a fetch that succeeds. An id met then is keys_unavailable.
   */
  private readonly fetchFailed = new LRUCache<string, { at: number; error: string }>({ max: MAX_FETCH_ENTRIES });
  /** How many servers one relaying host can make us look up keys of (docs/SECURITY.md item 8). */
  maxRelayedOriginsPerHost = DEFAULT_MAX_RELAYED_ORIGINS_PER_HOST;

  private readonly signer: () => RequestSigner | null;
  /**
   * Whether we may contact a server named only by a relaying host (docs/SECURITY.md §8). Under the
   * allowlist policy a relayed event's unknown origin is NOT contacted at its self-named address:
   * its keys come from the relaying host's signed key cache (still self-signed by the origin, and
   * checked here). Default: contact (open federation; the address policy still applies).
   */
  mayContactRelayedOrigin: (serverName: string) => boolean = () => true;

  /** Whether a server speaks the reference dialect (its unsigned keys document is then read, with the transport rule of reference/keys.ts). */
  isReference: (serverName: string) => boolean = () => false;
  /** Keys a reference peer replaced under the same id, and changes waiting for the owner (reference/key-replacement.ts). */
  readonly replaced: ReplacedKeys;
  private readonly lastFailureFetch = new LRUCache<string, number>({ max: MAX_FETCH_ENTRIES });
  private readonly direct: DirectKeys;
  private readonly relayed: RelayedKeys;
  private readonly hints: ReferenceHints;

  constructor(db: Db, http: HttpClient, discovery: Discovery, log: Logger, signer: () => RequestSigner | null = () => null, options: ServerKeysOptions = {}) {
    this.signer = signer;
    if (options.maxRelayedOriginsPerHost !== undefined) this.maxRelayedOriginsPerHost = options.maxRelayedOriginsPerHost;
    if (options.mayContactRelayedOrigin) this.mayContactRelayedOrigin = options.mayContactRelayedOrigin;
    if (options.isReference) this.isReference = options.isReference;
    this.db = db;
    this.http = http;
    this.discovery = discovery;
    this.log = log;
    this.replaced = new ReplacedKeys(db);
    const isReference = (serverName: string) => this.isReference(serverName);
    // Keys just stored: the ids found unknown before are looked up again.
    const learnt = (server: string) => {
      for (const key of [...this.negative.keys()]) if (key.startsWith(`${server} `)) this.negative.delete(key);
    };
    this.direct = new DirectKeys(db, { isReference, replaced: this.replaced, learnt });
    this.relayed = new RelayedKeys(db, { http, discovery, log, signer, direct: this.direct, maxOriginsPerHost: () => this.maxRelayedOriginsPerHost, learnt });
    this.hints = new ReferenceHints({ log, isReference, cachedDocument: (serverName) => this.cachedDocument(serverName), refresh: (serverName, now) => this.refresh(serverName, now) });
  }

  /** A key we know directly (pinned, or fetched from the server itself); never a relayed one. */
  get(serverName: string, keyId: string): ServerKeyRow | undefined {
    return this.direct.get(serverName, keyId);
  }

  list(serverName: string): ServerKeyRow[] {
    return this.direct.list(serverName);
  }

  /** Whether we know any key of `serverName` directly (pinned by the owner, or fetched from it). */
  hasDirectKeys(serverName: string): boolean {
    return this.direct.hasDirectKeys(serverName);
  }

  /** The keys of `serverName` that relaying hosts served (every host's). */
  relayedKeysOf(serverName: string): RelayedKeyRow[] {
    return this.relayed.relayedKeysOf(serverName);
  }

  /** Whether a relaying host served keys of `serverName`, or made us look them up. */
  knownThroughRelays(serverName: string): boolean {
    return this.relayed.knownThroughRelays(serverName);
  }

  /** How many servers `host` made us look keys up for (origins of its relayed events we knew no key of). */
  relayedOriginCount(host: string): number {
    return this.relayed.relayedOriginCount(host);
  }

  /** Pins a key the owner gave us: DirectKeys.pin. */
  pin(serverName: string, keyId: string, publicKey: string, now = Date.now(), options: { referenceReplacement?: boolean } = {}): void {
    this.direct.pin(serverName, keyId, publicKey, now, options);
  }

  /**
   * Finds a usable key, fetching the origin's keys document once when the id is unknown.
   * `via`: the host relaying the event (events only). Only then, and only when we know no key of
   * the origin directly, may a key come from that host's key cache — and it verifies only the
   * events that host relays. A request is verified with directly known keys only.
   */
  async lookup(serverName: string, keyId: string, use: KeyUse, options: LookupOptions = {}, now = Date.now()): Promise<KeyLookup> {
    const known = this.lookupNow(serverName, keyId, use, options, now);
    if (known) return known;
    // lookupNow answers for our own keys, so from here on the key is another server's.
    const relayedBy = relayingHost(serverName, use, options);
    const negativeKey = `${serverName} ${keyId} ${relayedBy ?? ''}`;
    // An origin we know no key of, named by a relaying host: counted against that host's bound
    // before we contact anybody about it (the origin, or the host's cache).
    if (relayedBy && !this.hasDirectKeys(serverName) && !this.relayed.introduce(serverName, relayedBy, now)) {
      return {
        ok: false, code: 'too_many_relayed_origins',
        message: `${relayedBy} already made this server look up the keys of ${this.maxRelayedOriginsPerHost} servers it relays (the most one host may); events of further ones are refused`,
      };
    }
    let key: ServerKeyRow | undefined;
    // Whether the fetch below is skipped by the per-server gap: the id is then not known to be unknown.
    let gapLeft = 0;
    // Whether the origin itself was asked (else only the relaying host's cache), and why the cache could not be read.
    const contacted = !relayedBy || this.mayContactRelayedOrigin(serverName);
    let cacheFailure: string | null = null;
    // A fetch already under way is joined: it may have read the document before the origin
    // rotated to this key id, so its missing the id is no verdict (below).
    let joined = false;
    // Whether the fetch settled within the caller's deadline (not read by then: 503 to retry, below).
    let readInTime = true;
    if (contacted) {
      joined = this.inFlight.has(serverName);
      gapLeft = this.refetchGapLeft(serverName, now);
      // With a relaying host to fall back on, the origin gets a short deadline: an unreachable
      // origin (no address, a DNS name that never answers) must not hold the event for long.
      // So does a refresh of a key we hold (refreshStale): the request goes on with it if the keys cannot be read.
      const holding = relayedBy === undefined && this.get(serverName, keyId) !== undefined;
      const deadlines = [relayedBy || holding ? ORIGIN_DEADLINE_WITH_FALLBACK_MS : undefined, options.deadlineMs].filter((ms) => ms !== undefined);
      const fetching = this.refresh(serverName, now, deadlines.length > 0 ? Math.min(...deadlines) : undefined).catch((error: Error) => {
        warnLimited(this.log, `keys_fetch_failed ${serverName}`, { event: 'keys_fetch_failed', server: serverName, error: error.message }, 'could not fetch keys');
      });
      // The caller's deadline holds when it joined a fetch already under way (that one has its own,
      // or none), and when a fetch of its own outlives its abort (a connection still being made).
      if (options.deadlineMs !== undefined) readInTime = await settlesWithin(fetching, options.deadlineMs);
      else await fetching;
      key = this.findKey(serverName, keyId, relayedBy);
    }
    // The host's cache, only for a server we know no key of directly.
    if (!key && relayedBy && !this.hasDirectKeys(serverName)) {
      try {
        await this.relayed.fetchFromCache(serverName, relayedBy, now);
      } catch (error) {
        if (!refusedByPolicy(error)) cacheFailure = (error as Error).message;
        warnLimited(this.log, `keys_cache_fetch_failed ${relayedBy}`, { event: 'keys_cache_fetch_failed', server: serverName, via: relayedBy, error: (error as Error).message }, 'could not fetch keys from the relaying host');
      }
      key = this.findKey(serverName, keyId, relayedBy);
    }
    // The keys could not be read (the origin's fetch failed, or the host's cache, when the origin is
    // not contacted): the id is not known to be unknown. Retried when a fetch is allowed again; not
    // cached, not a verdict (its sender's outbox takes a 403 as final and the message would be lost).
    if (!key && !readInTime) {
      const retryAfterMs = Math.max(1_000, this.refetchGapLeft(serverName, Date.now()));
      return {
        ok: false, code: 'keys_unavailable', retryAfterMs,
        message: `${serverName}'s keys could not be read in time to check key ${keyId}; they are read again in ${Math.ceil(retryAfterMs / 1000)} s`,
      };
    }
    if (!key) {
      const unreadable = contacted ? this.unreadable(serverName) : cacheFailure;
      if (unreadable !== null) {
        const retryAfterMs = Math.max(1_000, contacted ? this.refetchGapLeft(serverName, Date.now()) : CACHE_RETRY_MS);
        return {
          ok: false, code: 'keys_unavailable', retryAfterMs,
          message: `${serverName}'s keys could not be read${contacted ? '' : ` from ${relayedBy ?? serverName}'s key cache`} to check key ${keyId} (${unreadable}); they are read again in ${Math.ceil(retryAfterMs / 1000)} s`,
        };
      }
    }
    // A server that rotated just after we read its keys: its new key id is fetched for once the
    // gap has passed (the caller says when), not refused, nor remembered as unknown for minutes.
    // So is one that joined a fetch begun before the id was met (an unannounced rotation during
    // a fetch): a 403 verdict there would be final for the sender's outbox, and its message lost.
    if (!key && (gapLeft > 0 || joined)) {
      const retryAfterMs = gapLeft > 0 ? gapLeft : Math.max(1_000, this.refetchGapLeft(serverName, Date.now()));
      return {
        ok: false, code: 'keys_recently_fetched', retryAfterMs,
        message: `${serverName}'s keys were read here less than ${MIN_REFETCH_MS / 1000} s ago, without key ${keyId}; they are read again (for a new key) in ${Math.ceil(retryAfterMs / 1000)} s`,
      };
    }
    // Only for events (authenticated deliveries): an unauthenticated request naming a fresh key
    // id leaves no entry (the fetch above is rate limited per server anyway).
    if (!key && use.purpose === 'event') this.negative.set(negativeKey, now + NEGATIVE_TTL_MS);
    if (!key) return { ok: false, code: 'unknown_key', message: `${serverName} does not publish key ${keyId}` };
    return this.usable(serverName, keyId, key, use, now);
  }

  /**
   * `lookup` where it needs nothing from the network, answered at once: our own keys, a key we
   * hold, or an id recently found unknown. Null when the keys are to be fetched first (then
   * `lookup`). Every signed request and received event asks (issue #17: an asynchronous lookup
   * per event was a promise and a suspended call each).
   */
  lookupNow(serverName: string, keyId: string, use: KeyUse, options: LookupOptions = {}, now = Date.now()): KeyLookup | null {
    // Our own events (in a host's snapshot or catch-up page): verified with our own keys, never
    // looked up over the network (our own address may not even be reachable from here).
    const self = this.signer() as (RequestSigner & { allPublicKeys?: () => Array<{ key_id: string; public_key: string; expired_at: number | null }> }) | null;
    if (self && serverName === self.serverName && self.allPublicKeys) {
      if (use.purpose === 'request') return { ok: false, code: 'unknown_key', message: `requests signed as this server (${serverName}) are not accepted from elsewhere` };
      const own = self.allPublicKeys().find((k) => k.key_id === keyId);
      if (!own) return { ok: false, code: 'unknown_key', message: `${serverName} (this server) has no key ${keyId}` };
      if (own.expired_at !== null && use.originTs >= own.expired_at) {
        return { ok: false, code: 'key_expired', message: `key ${keyId} of ${serverName} expired before this event (origin_ts ${use.originTs})` };
      }
      return { ok: true, key: { server_name: serverName, key_id: own.key_id, public_key: own.public_key, valid_until: Number.MAX_SAFE_INTEGER, expired_at: own.expired_at, source: 'pinned', fetched_at: now } };
    }
    const relayedBy = relayingHost(serverName, use, options);
    const key = this.findKey(serverName, keyId, relayedBy);
    // A request's key read too long ago is read again first (lookup: one fetch per server per 10 s):
    // a server's rotation is learnt here only from its keys, and the key it rotated away from
    // (leaked, say) must not keep signing its requests while it sends nothing with the new one.
    // Only for a caller that can wait for the fetch (`refreshStale`: the signed-request check).
    if (key && options.refreshStale === true && use.purpose === 'request' && this.stale(serverName, key, now) && !this.inRefetchGap(serverName, now)) return null;
    if (key) return this.usable(serverName, keyId, key, use, now);
    // Its keys could not be read and may not be fetched again yet: told at once, as a 403 from the
    // negative cache was (a sender's retries inside the gap cost no more than its refusals did).
    if (relayedBy === undefined) {
      const unreadable = this.unreadable(serverName);
      const gapLeft = this.refetchGapLeft(serverName, now);
      if (unreadable !== null && gapLeft > 0) {
        const retryAfterMs = Math.max(1_000, gapLeft);
        return {
          ok: false, code: 'keys_unavailable', retryAfterMs,
          message: `${serverName}'s keys could not be read to check key ${keyId} (${unreadable}); they are read again in ${Math.ceil(retryAfterMs / 1000)} s`,
        };
      }
    }
    const negativeUntil = this.negative.get(`${serverName} ${keyId} ${relayedBy ?? ''}`);
    if (negativeUntil === undefined || negativeUntil <= now) return null;
    return { ok: false, code: 'unknown_key', message: `${serverName} does not publish key ${keyId}` };
  }

  /**
   * Whether a native server's key was read from it longer ago than a keys document is valid
   * (a day), or past the valid_until it was served with. A reference's valid_until is only a
   * hint (reference-hints.ts).
   */
  private stale(serverName: string, key: ServerKeyRow, now: number): boolean {
    if (this.isReference(serverName)) return false;
    return Math.min(key.valid_until, key.fetched_at + KEY_VALIDITY_MS) <= now;
  }

  /**
   * Why the last fetch of `serverName`'s keys failed, if it did (and not by our address policy):
   * its keys are then unreadable until a fetch succeeds. Null when the last fetch read them.
   */
  private unreadable(serverName: string): string | null {
    const failed = this.fetchFailed.get(serverName);
    return failed !== undefined && failed.at === this.lastFetch.get(serverName) ? failed.error : null;
  }

  /** Records how a fetch of `serverName`'s keys started at `at` (its lastFetch) ended: unreadable, or read. */
  private settled(serverName: string, at: number, task: Promise<unknown>): Promise<unknown> {
    return task.then(
      (value) => {
        this.fetchFailed.delete(serverName);
        return value;
      },
      (error: unknown) => {
        if (refusedByPolicy(error)) this.fetchFailed.delete(serverName);
        else this.fetchFailed.set(serverName, { at, error: (error as Error).message });
        throw error;
      },
    );
  }

  /** How long until the keys of `serverName` may be fetched again (0: now, or a fetch is running, which is joined). */
  private refetchGapLeft(serverName: string, now: number): number {
    if (this.inFlight.has(serverName)) return 0;
    const last = this.lastFetch.get(serverName);
    return last === undefined ? 0 : Math.max(0, MIN_REFETCH_MS - (now - last));
  }

  /** Whether the keys of `serverName` were fetched (or a fetch is running) within the per-server gap. */
  private inRefetchGap(serverName: string, now: number): boolean {
    if (this.inFlight.has(serverName)) return false;
    const last = this.lastFetch.get(serverName);
    return last !== undefined && now - last < MIN_REFETCH_MS;
  }

  /** A key found directly, or (for an event a host relays, of an origin we know no key of) in that host's cache. */
  private findKey(serverName: string, keyId: string, relayedBy: string | undefined): ServerKeyRow | undefined {
    const direct = this.get(serverName, keyId);
    if (direct || relayedBy === undefined || this.hasDirectKeys(serverName)) return direct;
    return this.relayed.getRelayed(serverName, keyId, relayedBy);
  }

  /** A key that was found: whether it may verify this use (expiry), and the reference refresh hint. */
  private usable(serverName: string, keyId: string, key: ServerKeyRow, use: KeyUse, now: number): KeyLookup {
    if (key.source !== 'relayed') this.hints.refreshOnHint(serverName, now);
    if (key.expired_at !== null) {
      if (use.purpose === 'request' && !(use.carriedSignedAt !== undefined && use.carriedSignedAt < key.expired_at)) {
        return { ok: false, code: 'key_expired', message: `key ${keyId} of ${serverName} expired at ${key.expired_at}; requests must use the current key` };
      }
      if (use.purpose === 'event' && use.originTs >= key.expired_at) {
        return { ok: false, code: 'key_expired', message: `key ${keyId} of ${serverName} expired before this event (origin_ts ${use.originTs})` };
      }
    }
    return { ok: true, key };
  }

  /**
   * A signature of a reference peer did not verify with the keys we hold: its keys are fetched
   * once more (rate limited per server, as every fetch). True when a fetch was made, so the
   * caller may try again once.
   */
  async refetchAfterFailure(serverName: string, now = Date.now()): Promise<boolean> {
    if (!this.isReference(serverName)) return false;
    // Its own limit: a routine refetch a moment ago (the refresh hint) must not hide a new key.
    const last = this.lastFailureFetch.get(serverName);
    if (last !== undefined && now - last < MIN_REFETCH_MS) return false;
    this.lastFailureFetch.set(serverName, now);
    this.lastFetch.set(serverName, now);
    // Within its own deadline: an event waits for it, and a peer answering slowly held each of a page's events for a minute.
    // A fetch already under way (a refresh hint's, with no deadline of its own) is waited for as long at most.
    const task = (this.inFlight.get(serverName) ?? this.settled(serverName, now, this.fetchAndStore(serverName, now, REFETCH_DEADLINE_MS))).then(() => undefined);
    const logged = task.catch((error: Error) => {
      warnLimited(this.log, `keys_fetch_failed ${serverName}`, { event: 'keys_fetch_failed', server: serverName, error: error.message }, 'could not refetch the keys of a reference server');
    });
    await settlesWithin(logged, REFETCH_DEADLINE_MS);
    return true;
  }

  /** Public keys a reference replaced under `keyId` that may still verify an event made at `originTs`. */
  replacedFor(serverName: string, keyId: string, originTs: number): string[] {
    return this.isReference(serverName) ? this.replaced.usableFor(serverName, keyId, originTs) : [];
  }

  /**
   * Fetches the keys document of a server (single-flight, rate limited per server). `unlimited`:
   * past the rate limit, for a peering that names a key of a peer we do not hold (rare, and
   * limited by the peering route itself).
   */
  refresh(serverName: string, now = Date.now(), deadlineMs?: number, options: { unlimited?: boolean } = {}): Promise<void> {
    const running = this.inFlight.get(serverName);
    if (running) return running;
    const last = this.lastFetch.get(serverName);
    if (!options.unlimited && last !== undefined && now - last < MIN_REFETCH_MS) return Promise.resolve();
    this.lastFetch.set(serverName, now);
    const task = this.settled(serverName, now, this.fetchAndStore(serverName, now, deadlineMs))
      .then(() => undefined)
      .finally(() => this.inFlight.delete(serverName));
    this.inFlight.set(serverName, task);
    return task;
  }

  /** Fetches, verifies and stores a keys document; returns it (used when adding a peer). */
  async fetchAndStore(serverName: string, now = Date.now(), deadlineMs?: number): Promise<RemoteKeysDocument> {
    const signal = deadlineMs ? AbortSignal.timeout(deadlineMs) : undefined;
    const endpoint = await this.discovery.endpointOf(serverName, now, signal);
    const url = joinUrl(endpoint, KEYS_PATH);
    const response = await this.http.send('GET', url, { accept: 'application/json' }, undefined, { maxResponseBytes: KEYS_DOCUMENT_MAX_BYTES, server: serverName, ...(signal ? { signal } : {}) });
    if (response.status !== 200) throw new Error(`keys of ${serverName} at ${url}: HTTP ${response.status}`);
    const check = checkKeysDocument(response.json, serverName);
    if (check.ok) {
      // Read at the address we know it by: its own rotation may expire keys.
      this.store(check.document, now, response.json, { rotation: true });
      return check.document;
    }
    if (!this.isReference(serverName)) throw new Error(`keys of ${serverName}: ${check.reason}`);
    // The reference's unsigned form: believed over an authenticated transport only; over plain
    // http only the keys the owner already confirmed (pinned) are kept using.
    const reference = checkReferenceKeys(response.json, serverName);
    if (!reference.ok) throw new Error(`keys of ${serverName}: ${reference.reason}`);
    this.hints.noteServed(serverName, response.json);
    const active = reference.document.active_key;
    const pinned = this.list(serverName).filter((k) => k.source === 'pinned');
    const served = new Set([active, ...reference.document.next_keys].map((k) => `${k.key_id} ${k.public_key}`));
    const dropped = pinned.filter((k) => !served.has(`${k.key_id} ${k.public_key}`));
    if (dropped.length > 0) {
      // It serves a key other than the one pinned: a replacement. Same trust rule as the first key.
      if (!endpoint.startsWith('https://')) {
        const old = dropped.find((k) => k.key_id === active.key_id) ?? dropped[0]!;
        const reason = pendingKeyChangeReason(serverName, active.key_id, old.public_key, active.public_key);
        this.replaced.recordPending({ server_name: serverName, key_id: active.key_id, public_key: active.public_key, seen_at: now, reason });
        warnLimited(this.log, `reference_key_change_pending ${serverName}`, { event: 'reference_key_change_pending', server: serverName, key_id: active.key_id }, 'a reference server serves a new key over plain http; waiting for the owner');
        throw new Error(`keys of ${serverName}: ${reason}`);
      }
      this.db.transaction(() => {
        for (const k of dropped) {
          this.replaced.retire(serverName, k.key_id, k.public_key, now);
          if (k.key_id !== active.key_id) this.db.prepare('DELETE FROM federation_server_keys WHERE server_name = ? AND key_id = ?').run(serverName, k.key_id);
        }
        this.pin(serverName, active.key_id, active.public_key, now, { referenceReplacement: true });
        this.replaced.clearPending(serverName);
        this.store(reference.document, now, response.json, { rotation: true });
      })();
      warnLimited(this.log, `reference_key_replaced ${serverName}`, { event: 'reference_key_replaced', server: serverName, key_id: active.key_id }, 'a reference server replaced its key (read over https); the old one verifies older events only');
      return reference.document;
    }
    const trust = unsignedKeysTrust(endpoint, reference.document, pinned.find((k) => k.key_id === active.key_id));
    if (!trust.trusted) throw new Error(`keys of ${serverName}: ${trust.reason}`);
    this.store(trust.document, now, response.json, { rotation: true });
    this.replaced.clearPending(serverName);
    return trust.document;
  }

  /** The verbatim keys document last fetched from a server, if any. */
  cachedDocument(serverName: string): unknown {
    return this.direct.cachedDocument(serverName);
  }

  /** Stores a verified keys document: DirectKeys.store. */
  store(document: RemoteKeysDocument, now = Date.now(), raw?: unknown, options: { rotation?: boolean } = {}): void {
    this.direct.store(document, now, raw, options);
  }
}
