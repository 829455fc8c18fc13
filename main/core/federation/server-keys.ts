/**
 * Remote servers' verify keys, and the rule for using them (DESIGN.md §3):
 * - a request must be signed by a current key (not expired);
 * - an event may be signed by an old key if its origin_ts is before the key's expired_at.
 * An unknown key id triggers one fetch of the origin's keys document (single-flight per
 * server, at most one fetch per server per MIN_REFETCH_MS, negative cache per key id).
 *
 * Keys learnt from a relaying host's key cache (docs/SECURITY.md item 8, docs/PROTOCOL.md "Key
 * cache") live apart, in `federation_relayed_keys`, attributed to that host:
 * - they never verify a signed request, and verify only events relayed by that very host;
 * - they are used and learnt only for a server we have no direct knowledge of (no key pinned by
 *   the owner or fetched from the server itself), so they can never add to, replace, expire or
 *   shadow such keys; direct knowledge, once we have it, supersedes them (they are dropped);
 * - a relayed document only ADDS key ids unknown from that host: it never changes a stored row;
 * - one host can make us look up keys (from the origin or from its cache) of at most
 *   `maxRelayedOriginsPerHost` servers we knew no key of.
 * All the in-memory state (negative cache, fetch times) is bounded (LRU).
 */
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { warnLimited } from '../log/rate-limit.ts';
import { conflict } from '../errors.ts';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/database.ts';
import type { Discovery } from './discovery.ts';
import type { HttpClient } from './http-client.ts';
import { joinUrl } from './http-client.ts';
import { checkKeysDocument, type RemoteKeysDocument } from './keys-document.ts';
import type { RequestSigner } from './request-signature.ts';
import { checkReferenceKeys, unsignedKeysTrust } from './reference/keys.ts';
import { ReplacedKeys, pendingKeyChangeReason } from './reference/key-replacement.ts';

export const KEYS_PATH = '/_paracord/federation/v1/keys';
/** Signed: another server's keys document as cached here (for room members that cannot reach it). */
export const KEY_CACHE_PATH = '/_paracord/federation/v1/keys/cache';
const MIN_REFETCH_MS = 10_000;
const ORIGIN_DEADLINE_WITH_FALLBACK_MS = 2_000;
const NEGATIVE_TTL_MS = 5 * 60_000;
/** A reference key whose served valid_until has passed is refetched at most this often while in use. */
const REFERENCE_HINT_REFETCH_MS = 60 * 60_000;
/** Default bound on the servers (we knew no key of) one relaying host can make us look up keys of. */
export const DEFAULT_MAX_RELAYED_ORIGINS_PER_HOST = 100;
/** At most this many keys of one relayed document are learnt (active, next, then the newest old ones). */
const MAX_RELAYED_KEYS_PER_DOCUMENT = 32;
/** Bounds of the in-memory state keyed by names and key ids that strangers choose. */
const MAX_NEGATIVE_ENTRIES = 2_000;
const MAX_FETCH_ENTRIES = 2_000;

export interface ServerKeyRow {
  server_name: string;
  key_id: string;
  public_key: string;
  valid_until: number;
  expired_at: number | null;
  source: 'pinned' | 'fetched' | 'relayed';
  fetched_at: number;
}

export type KeyUse = { purpose: 'request' } | { purpose: 'event'; originTs: number };

/** The host relaying an event of another origin (events only), whose key cache may then serve. */
function relayingHost(serverName: string, use: KeyUse, options: { via?: string }): string | undefined {
  return use.purpose === 'event' && options.via !== undefined && options.via !== serverName ? options.via : undefined;
}

export type KeyLookup =
  | { ok: true; key: ServerKeyRow }
  | { ok: false; code: 'unknown_key' | 'key_expired' | 'too_many_relayed_origins'; message: string };

export interface RelayedKeyRow {
  relayed_by: string;
  server_name: string;
  key_id: string;
  public_key: string;
  valid_until: number;
  expired_at: number | null;
  fetched_at: number;
}


export class ServerKeys {
  private readonly db: Db;
  private readonly http: HttpClient;
  private readonly discovery: Discovery;
  private readonly log: Logger;
  private readonly getStmt;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly lastFetch = new LRUCache<string, number>({ max: MAX_FETCH_ENTRIES });
  private readonly negative = new LRUCache<string, number>({ max: MAX_NEGATIVE_ENTRIES });
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
  /** The valid_until a reference last served (a refresh hint), and when the hint last made us refetch. */
  private readonly servedValidUntil = new LRUCache<string, number>({ max: MAX_FETCH_ENTRIES });
  private readonly lastHintFetch = new LRUCache<string, number>({ max: MAX_FETCH_ENTRIES });
  private readonly lastFailureFetch = new LRUCache<string, number>({ max: MAX_FETCH_ENTRIES });

  constructor(db: Db, http: HttpClient, discovery: Discovery, log: Logger, signer: () => RequestSigner | null = () => null) {
    this.signer = signer;
    this.db = db;
    this.http = http;
    this.discovery = discovery;
    this.log = log;
    this.getStmt = db.prepare<[string, string], ServerKeyRow>('SELECT * FROM federation_server_keys WHERE server_name = ? AND key_id = ?');
    this.replaced = new ReplacedKeys(db);
  }

  /** Key rows are read for every signed request and event; cached, dropped on every write. */
  private readonly cache = new Map<string, ServerKeyRow | undefined>();

  /** A key we know directly (pinned, or fetched from the server itself); never a relayed one. */
  get(serverName: string, keyId: string): ServerKeyRow | undefined {
    const key = `${serverName} ${keyId}`;
    if (this.cache.has(key)) return this.cache.get(key);
    let row = this.getStmt.get(serverName, keyId);
    if (row?.source === 'relayed') row = undefined; // none since migration 16; never trusted directly
    // Unknown ids are not cached: the negative cache in lookup() handles them.
    if (row) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(key, row);
    }
    return row;
  }

  private forget(serverName: string): void {
    for (const key of this.cache.keys()) if (key.startsWith(`${serverName} `)) this.cache.delete(key);
  }

  list(serverName: string): ServerKeyRow[] {
    return this.db.prepare<[string], ServerKeyRow>('SELECT * FROM federation_server_keys WHERE server_name = ? ORDER BY fetched_at').all(serverName);
  }

  /** Whether we know any key of `serverName` directly (pinned by the owner, or fetched from it). */
  hasDirectKeys(serverName: string): boolean {
    this.directStmt ??= this.db.prepare<[string], { one: number }>("SELECT 1 AS one FROM federation_server_keys WHERE server_name = ? AND source IN ('pinned', 'fetched') LIMIT 1");
    return this.directStmt.get(serverName) !== undefined;
  }
  private directStmt: Statement<[string], { one: number }> | undefined;
  private relayedStmt: Statement<[string, string, string], RelayedKeyRow> | undefined;

  /** A key of `serverName` that `host` served from its key cache, as a row usable for events of that host only. */
  private getRelayed(serverName: string, keyId: string, host: string): ServerKeyRow | undefined {
    this.relayedStmt ??= this.db.prepare<[string, string, string], RelayedKeyRow>('SELECT * FROM federation_relayed_keys WHERE relayed_by = ? AND server_name = ? AND key_id = ?');
    const row = this.relayedStmt.get(host, serverName, keyId);
    if (!row) return undefined;
    return { server_name: row.server_name, key_id: row.key_id, public_key: row.public_key, valid_until: row.valid_until, expired_at: row.expired_at, source: 'relayed', fetched_at: row.fetched_at };
  }

  /** The keys of `serverName` that relaying hosts served (every host's). */
  relayedKeysOf(serverName: string): RelayedKeyRow[] {
    return this.db.prepare<[string], RelayedKeyRow>('SELECT * FROM federation_relayed_keys WHERE server_name = ? LIMIT 1000').all(serverName);
  }

  /** Whether a relaying host served keys of `serverName`, or made us look them up. */
  knownThroughRelays(serverName: string): boolean {
    this.relayedKnownStmt ??= this.db.prepare<[string, string], { one: number }>(
      'SELECT 1 AS one WHERE EXISTS (SELECT 1 FROM federation_relayed_keys WHERE server_name = ?) OR EXISTS (SELECT 1 FROM federation_relayed_origins WHERE server_name = ?)',
    );
    return this.relayedKnownStmt.get(serverName, serverName) !== undefined;
  }
  private relayedKnownStmt: Statement<[string, string], { one: number }> | undefined;

  /** How many servers `host` made us look keys up for (origins of its relayed events we knew no key of). */
  relayedOriginCount(host: string): number {
    return this.db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM federation_relayed_origins WHERE relayed_by = ?').get(host)!.n;
  }

  /**
   * Counts `serverName` as an origin `host` introduced (before any look-up it causes): true when
   * it already was, or `host` is under its bound; false (nothing recorded) when it is not.
   */
  private introduce(serverName: string, host: string, now: number): boolean {
    const known = this.db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM federation_relayed_origins WHERE relayed_by = ? AND server_name = ?').get(host, serverName);
    if (known) return true;
    if (this.relayedOriginCount(host) >= this.maxRelayedOriginsPerHost) return false;
    this.db.prepare('INSERT OR IGNORE INTO federation_relayed_origins (relayed_by, server_name, first_at) VALUES (?, ?, ?)').run(host, serverName, now);
    return true;
  }

  /**
   * Pins a key the owner gave us (admin POST /peers, invite links). The ONE writer that binds a
   * public key to a key id: an id once bound to a public key is never re-bound to another
   * (docs/PROTOCOL.md "Pinned keys"): 409 `key_id_bound`, nothing changed. The one exception is
   * `referenceReplacement`, for a peer already stored as a reference (it names every key
   * `ed25519:auto`, reference/key-replacement.ts): the replaced key is retired, not forgotten.
   */
  pin(serverName: string, keyId: string, publicKey: string, now = Date.now(), options: { referenceReplacement?: boolean } = {}): void {
    const previous = this.getStmt.get(serverName, keyId);
    const rebinding = previous !== undefined && previous.public_key !== publicKey;
    const replacing = options.referenceReplacement === true && this.isReference(serverName);
    if (rebinding && !replacing) {
      throw conflict(
        'key_id_bound',
        `${serverName}'s key ${keyId} is already bound here to another public key (${previous.public_key.slice(0, 16)}…, not ${publicKey.slice(0, 16)}…); a key id is never re-bound: nothing was changed`,
      );
    }
    this.forget(serverName);
    if (replacing) {
      // The key this one replaces keeps verifying older events, from when the new key was first
      // seen (a change the owner now confirms) or from now.
      const pending = this.replaced.pending(serverName);
      if (rebinding) this.replaced.retire(serverName, keyId, previous.public_key, pending?.public_key === publicKey ? pending.seen_at : now);
      if (pending?.public_key === publicKey) this.replaced.clearPending(serverName);
    }
    this.db
      .prepare(
        `INSERT INTO federation_server_keys (server_name, key_id, public_key, valid_until, expired_at, source, fetched_at)
         VALUES (?, ?, ?, ?, NULL, 'pinned', ?)
         ON CONFLICT (server_name, key_id) DO UPDATE SET public_key = excluded.public_key, source = 'pinned', fetched_at = excluded.fetched_at`,
      )
      .run(serverName, keyId, publicKey, Number.MAX_SAFE_INTEGER, now);
    this.db.prepare('DELETE FROM federation_relayed_keys WHERE server_name = ?').run(serverName);
  }

  /**
   * Finds a usable key, fetching the origin's keys document once when the id is unknown.
   * `via`: the host relaying the event (events only). Only then, and only when we know no key of
   * the origin directly, may a key come from that host's key cache — and it verifies only the
   * events that host relays. A request is verified with directly known keys only.
   */
  async lookup(serverName: string, keyId: string, use: KeyUse, options: { via?: string } = {}, now = Date.now()): Promise<KeyLookup> {
    const known = this.lookupNow(serverName, keyId, use, options, now);
    if (known) return known;
    // lookupNow answers for our own keys, so from here on the key is another server's.
    const relayedBy = relayingHost(serverName, use, options);
    const negativeKey = `${serverName} ${keyId} ${relayedBy ?? ''}`;
    // An origin we know no key of, named by a relaying host: counted against that host's bound
    // before we contact anybody about it (the origin, or the host's cache).
    if (relayedBy && !this.hasDirectKeys(serverName) && !this.introduce(serverName, relayedBy, now)) {
      return {
        ok: false, code: 'too_many_relayed_origins',
        message: `${relayedBy} already made this server look up the keys of ${this.maxRelayedOriginsPerHost} servers it relays (the most one host may); events of further ones are refused`,
      };
    }
    let key: ServerKeyRow | undefined;
    if (!relayedBy || this.mayContactRelayedOrigin(serverName)) {
      // With a relaying host to fall back on, the origin gets a short deadline: an unreachable
      // origin (no address, a DNS name that never answers) must not hold the event for long.
      await this.refresh(serverName, now, relayedBy ? ORIGIN_DEADLINE_WITH_FALLBACK_MS : undefined).catch((error: Error) => {
        warnLimited(this.log, `keys_fetch_failed ${serverName}`, { event: 'keys_fetch_failed', server: serverName, error: error.message }, 'could not fetch keys');
      });
      key = this.findKey(serverName, keyId, relayedBy);
    }
    // The host's cache, only for a server we know no key of directly.
    if (!key && relayedBy && !this.hasDirectKeys(serverName)) {
      try {
        await this.fetchFromCache(serverName, relayedBy, now);
      } catch (error) {
        warnLimited(this.log, `keys_cache_fetch_failed ${relayedBy}`, { event: 'keys_cache_fetch_failed', server: serverName, via: relayedBy, error: (error as Error).message }, 'could not fetch keys from the relaying host');
      }
      key = this.findKey(serverName, keyId, relayedBy);
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
  lookupNow(serverName: string, keyId: string, use: KeyUse, options: { via?: string } = {}, now = Date.now()): KeyLookup | null {
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
    if (key) return this.usable(serverName, keyId, key, use, now);
    const negativeUntil = this.negative.get(`${serverName} ${keyId} ${relayedBy ?? ''}`);
    if (negativeUntil === undefined || negativeUntil <= now) return null;
    return { ok: false, code: 'unknown_key', message: `${serverName} does not publish key ${keyId}` };
  }

  /** A key found directly, or (for an event a host relays, of an origin we know no key of) in that host's cache. */
  private findKey(serverName: string, keyId: string, relayedBy: string | undefined): ServerKeyRow | undefined {
    const direct = this.get(serverName, keyId);
    if (direct || relayedBy === undefined || this.hasDirectKeys(serverName)) return direct;
    return this.getRelayed(serverName, keyId, relayedBy);
  }

  /** A key that was found: whether it may verify this use (expiry), and the reference refresh hint. */
  private usable(serverName: string, keyId: string, key: ServerKeyRow, use: KeyUse, now: number): KeyLookup {
    if (key.source !== 'relayed') this.refreshOnHint(serverName, now);
    if (key.expired_at !== null) {
      if (use.purpose === 'request') {
        return { ok: false, code: 'key_expired', message: `key ${keyId} of ${serverName} expired at ${key.expired_at}; requests must use the current key` };
      }
      if (use.originTs >= key.expired_at) {
        return { ok: false, code: 'key_expired', message: `key ${keyId} of ${serverName} expired before this event (origin_ts ${use.originTs})` };
      }
    }
    return { ok: true, key };
  }

  /**
   * A reference's valid_until is a refresh hint (as Matrix treats valid_until_ts), never an
   * expiry: once it has passed, its keys are fetched again in the background, at most once per
   * REFERENCE_HINT_REFETCH_MS while they are used; the key it still serves stays usable.
   */
  private refreshOnHint(serverName: string, now: number): void {
    if (!this.isReference(serverName)) return;
    let validUntil = this.servedValidUntil.get(serverName);
    if (validUntil === undefined) {
      validUntil = servedValidUntilOf(this.cachedDocument(serverName)) ?? 0;
      this.servedValidUntil.set(serverName, validUntil);
    }
    if (validUntil > now) return;
    const last = this.lastHintFetch.get(serverName);
    if (last !== undefined && now - last < REFERENCE_HINT_REFETCH_MS) return;
    this.lastHintFetch.set(serverName, now);
    void this.refresh(serverName, now).catch((error: Error) => {
      warnLimited(this.log, `keys_fetch_failed ${serverName}`, { event: 'keys_fetch_failed', server: serverName, error: error.message }, 'could not refetch the keys of a reference server');
    });
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
    const task = (this.inFlight.get(serverName) ?? this.fetchAndStore(serverName, now)).then(() => undefined);
    await task.catch((error: Error) => {
      warnLimited(this.log, `keys_fetch_failed ${serverName}`, { event: 'keys_fetch_failed', server: serverName, error: error.message }, 'could not refetch the keys of a reference server');
    });
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
    const task = this.fetchAndStore(serverName, now, deadlineMs)
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
    const response = await this.http.send('GET', url, { accept: 'application/json' }, undefined, signal ? { signal } : {});
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
    this.servedValidUntil.set(serverName, servedValidUntilOf(response.json) ?? 0);
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
    this.store(reference.document, now, response.json, { rotation: true });
    this.replaced.clearPending(serverName);
    return reference.document;
  }

  /**
   * Fetches `serverName`'s keys document from the cache of `via` (a room host) and learns the key
   * ids of it that `via` had not served before, attributed to `via`. Nothing for a server we know
   * directly (the caller counted `serverName` against `via`'s bound).
   */
  private async fetchFromCache(serverName: string, via: string, now: number): Promise<void> {
    const signer = this.signer();
    if (!signer || serverName === signer.serverName) return;
    if (this.hasDirectKeys(serverName)) return;
    const endpoint = await this.discovery.endpointOf(via);
    const response = await this.http.signed(signer, 'GET', endpoint, `${KEY_CACHE_PATH}?server_name=${encodeURIComponent(serverName)}`, undefined, { destination: via });
    if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
    const check = checkKeysDocument(response.json, serverName);
    if (!check.ok) throw new Error(check.reason);
    this.storeRelayed(check.document, via, now);
    this.log.info({ event: 'keys_from_cache', server: serverName, via }, 'keys fetched from the relaying host');
  }

  /** Adds the key ids of a relayed document unknown from `via`; never changes a stored row. */
  private storeRelayed(document: RemoteKeysDocument, via: string, now: number): void {
    const server = document.server_name;
    const keys = [
      ...[document.active_key, ...document.next_keys].map((k) => ({ ...k, expired_at: null as number | null })),
      ...[...document.old_keys].sort((a, b) => b.expired_at - a.expired_at),
    ].slice(0, MAX_RELAYED_KEYS_PER_DOCUMENT);
    const insert = this.db.prepare(
      `INSERT INTO federation_relayed_keys (relayed_by, server_name, key_id, public_key, valid_until, expired_at, fetched_at)
       VALUES (@via, @server, @key_id, @public_key, @valid_until, @expired_at, @now) ON CONFLICT DO NOTHING`,
    );
    this.db.transaction(() => {
      // Checked again in the writing transaction (direct keys may have come meanwhile).
      if (this.hasDirectKeys(server)) return;
      for (const k of keys) insert.run({ via, server, key_id: k.key_id, public_key: k.public_key, valid_until: k.valid_until, expired_at: k.expired_at, now });
    })();
    for (const key of [...this.negative.keys()]) if (key.startsWith(`${server} `)) this.negative.delete(key);
  }

  /** The verbatim keys document last fetched from a server, if any. */
  cachedDocument(serverName: string): unknown {
    const row = this.db.prepare<[string], { document: string }>('SELECT document FROM federation_key_documents WHERE server_name = ?').get(serverName);
    return row ? JSON.parse(row.document) : undefined;
  }

  /**
   * Stores a verified keys document. A pinned key must still be listed (active or old):
   * a document that drops it is refused, so whoever answers at the endpoint cannot swap
   * the identity the owner pinned. Expiry only moves forward: an old key never becomes
   * current again. A document that expires a current key of ours (listing it as old) is taken
   * only with `rotation`: read at the address we know the server by (its own rotation), or a
   * change the owner confirmed; otherwise 409 `already_peer`, nothing changed.
   */
  store(document: RemoteKeysDocument, now = Date.now(), raw?: unknown, options: { rotation?: boolean } = {}): void {
    const source = 'fetched';
    const server = document.server_name;
    if (options.rotation !== true) {
      const expiring = document.old_keys.find((k) => {
        const held = this.get(server, k.key_id);
        return held !== undefined && held.expired_at === null && held.public_key === k.public_key;
      });
      if (expiring) {
        throw conflict('already_peer', `keys of ${server} served there expire its key ${expiring.key_id}, which it holds here as current; only its own rotation (read at the address this server knows it by) or the owner's confirmed change does that: nothing was changed`);
      }
    }
    const listed = new Map<string, string>();
    listed.set(document.active_key.key_id, document.active_key.public_key);
    for (const k of document.next_keys) listed.set(k.key_id, k.public_key);
    for (const k of document.old_keys) listed.set(k.key_id, k.public_key);
    for (const pinned of this.list(server).filter((k) => k.source === 'pinned')) {
      if (listed.get(pinned.key_id) !== pinned.public_key) {
        throw new Error(`keys of ${server} no longer list the pinned key ${pinned.key_id}`);
      }
    }
    this.forget(server);
    const upsert = this.db.prepare(
      `INSERT INTO federation_server_keys (server_name, key_id, public_key, valid_until, expired_at, source, fetched_at)
       VALUES (@server, @key_id, @public_key, @valid_until, @expired_at, @source, @now)
       ON CONFLICT (server_name, key_id) DO UPDATE SET
         valid_until = MAX(federation_server_keys.valid_until, excluded.valid_until),
         expired_at = CASE
           WHEN federation_server_keys.expired_at IS NULL THEN excluded.expired_at
           WHEN excluded.expired_at IS NULL THEN federation_server_keys.expired_at
           ELSE MIN(federation_server_keys.expired_at, excluded.expired_at) END,
         fetched_at = excluded.fetched_at
       WHERE federation_server_keys.public_key = excluded.public_key`,
    );
    this.db.transaction(() => {
      const current = [document.active_key, ...document.next_keys];
      for (const k of current) upsert.run({ server, key_id: k.key_id, public_key: k.public_key, valid_until: k.valid_until, expired_at: null, now, source });
      for (const k of document.old_keys) upsert.run({ server, key_id: k.key_id, public_key: k.public_key, valid_until: k.valid_until, expired_at: k.expired_at, now, source });
      // Direct knowledge of the server supersedes whatever relaying hosts said about it.
      this.db.prepare('DELETE FROM federation_relayed_keys WHERE server_name = ?').run(server);
      if (raw !== undefined) {
        this.db
          .prepare('INSERT INTO federation_key_documents (server_name, document, fetched_at) VALUES (?, ?, ?) ON CONFLICT (server_name) DO UPDATE SET document = excluded.document, fetched_at = excluded.fetched_at')
          .run(server, JSON.stringify(raw), now);
      }
    })();
    for (const key of [...this.negative.keys()]) if (key.startsWith(`${server} `)) this.negative.delete(key);
  }
}

/** The earliest valid_until a reference keys document lists (its refresh hint), if any. */
function servedValidUntilOf(raw: unknown): number | undefined {
  const keys = (raw as { keys?: unknown } | undefined)?.keys;
  if (!Array.isArray(keys)) return undefined;
  const values = keys.map((k) => (k as { valid_until?: unknown } | null)?.valid_until).filter((v): v is number => typeof v === 'number');
  return values.length > 0 ? Math.min(...values) : undefined;
}
