/**
 * Remote servers' verify keys, and the rule for using them (DESIGN.md §3):
 * - a request must be signed by a current key (not expired);
 * - an event may be signed by an old key if its origin_ts is before the key's expired_at.
 * An unknown key id triggers one fetch of the origin's keys document (single-flight per
 * server, at most one fetch per server per MIN_REFETCH_MS, negative cache per key id).
 */
import type { Logger } from 'pino';
import type { Db } from '../store/database.ts';
import type { Discovery } from './discovery.ts';
import type { HttpClient } from './http-client.ts';
import { joinUrl } from './http-client.ts';
import { checkKeysDocument, type RemoteKeysDocument } from './keys-document.ts';
import type { RequestSigner } from './request-signature.ts';

export const KEYS_PATH = '/_paracord/federation/v1/keys';
/** Signed: another server's keys document as cached here (for room members that cannot reach it). */
export const KEY_CACHE_PATH = '/_paracord/federation/v1/keys/cache';
const MIN_REFETCH_MS = 10_000;
const ORIGIN_DEADLINE_WITH_FALLBACK_MS = 2_000;
const NEGATIVE_TTL_MS = 5 * 60_000;

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

export type KeyLookup =
  | { ok: true; key: ServerKeyRow }
  | { ok: false; code: 'unknown_key' | 'key_expired'; message: string };

export class ServerKeys {
  private readonly db: Db;
  private readonly http: HttpClient;
  private readonly discovery: Discovery;
  private readonly log: Logger;
  private readonly getStmt;
  private readonly inFlight = new Map<string, Promise<void>>();
  private readonly lastFetch = new Map<string, number>();
  private readonly negative = new Map<string, number>();

  private readonly signer: () => RequestSigner | null;

  constructor(db: Db, http: HttpClient, discovery: Discovery, log: Logger, signer: () => RequestSigner | null = () => null) {
    this.signer = signer;
    this.db = db;
    this.http = http;
    this.discovery = discovery;
    this.log = log;
    this.getStmt = db.prepare<[string, string], ServerKeyRow>('SELECT * FROM federation_server_keys WHERE server_name = ? AND key_id = ?');
  }

  /** Key rows are read for every signed request and event; cached, dropped on every write. */
  private readonly cache = new Map<string, ServerKeyRow | undefined>();

  get(serverName: string, keyId: string): ServerKeyRow | undefined {
    const key = `${serverName} ${keyId}`;
    if (this.cache.has(key)) return this.cache.get(key);
    const row = this.getStmt.get(serverName, keyId);
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

  /** Pins a key the owner gave us (admin POST /peers, invite links). */
  pin(serverName: string, keyId: string, publicKey: string, now = Date.now()): void {
    this.forget(serverName);
    this.db
      .prepare(
        `INSERT INTO federation_server_keys (server_name, key_id, public_key, valid_until, expired_at, source, fetched_at)
         VALUES (?, ?, ?, ?, NULL, 'pinned', ?)
         ON CONFLICT (server_name, key_id) DO UPDATE SET public_key = excluded.public_key, source = 'pinned', fetched_at = excluded.fetched_at`,
      )
      .run(serverName, keyId, publicKey, Number.MAX_SAFE_INTEGER, now);
  }

  /** Finds a usable key, fetching the origin's keys document once when the id is unknown. */
  async lookup(serverName: string, keyId: string, use: KeyUse, options: { via?: string } = {}, now = Date.now()): Promise<KeyLookup> {
    let key = this.get(serverName, keyId);
    if (!key) {
      const negativeUntil = this.negative.get(`${serverName} ${keyId}`);
      if (negativeUntil === undefined || negativeUntil <= now) {
        // With a relaying host to fall back on, the origin gets a short deadline: an unreachable
        // origin (no address, a DNS name that never answers) must not hold the event for long.
        await this.refresh(serverName, now, options.via ? ORIGIN_DEADLINE_WITH_FALLBACK_MS : undefined).catch((error: Error) => {
          this.log.warn({ event: 'keys_fetch_failed', server: serverName, error: error.message }, 'could not fetch keys');
        });
        key = this.get(serverName, keyId);
        if (!key && options.via && options.via !== serverName) {
          await this.fetchFromCache(serverName, options.via, now).catch((error: Error) => {
            this.log.warn({ event: 'keys_cache_fetch_failed', server: serverName, via: options.via, error: error.message }, 'could not fetch keys from the relaying host');
          });
          key = this.get(serverName, keyId);
        }
        if (!key) this.negative.set(`${serverName} ${keyId}`, now + NEGATIVE_TTL_MS);
      }
    }
    if (!key) return { ok: false, code: 'unknown_key', message: `${serverName} does not publish key ${keyId}` };
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

  /** Fetches the keys document of a server (single-flight, rate limited per server). */
  refresh(serverName: string, now = Date.now(), deadlineMs?: number): Promise<void> {
    const running = this.inFlight.get(serverName);
    if (running) return running;
    const last = this.lastFetch.get(serverName);
    if (last !== undefined && now - last < MIN_REFETCH_MS) return Promise.resolve();
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
    if (!check.ok) throw new Error(`keys of ${serverName}: ${check.reason}`);
    this.store(check.document, now, response.json);
    return check.document;
  }

  /** Fetches `serverName`'s keys document from the cache of `via` (a room host). */
  private async fetchFromCache(serverName: string, via: string, now: number): Promise<void> {
    const signer = this.signer();
    if (!signer) return;
    const endpoint = await this.discovery.endpointOf(via);
    const response = await this.http.signed(signer, 'GET', endpoint, `${KEY_CACHE_PATH}?server_name=${encodeURIComponent(serverName)}`);
    if (response.status !== 200) throw new Error(`HTTP ${response.status}`);
    const check = checkKeysDocument(response.json, serverName);
    if (!check.ok) throw new Error(check.reason);
    this.store(check.document, now, response.json, 'relayed');
    this.log.info({ event: 'keys_from_cache', server: serverName, via }, 'keys fetched from the relaying host');
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
   * current again.
   */
  store(document: RemoteKeysDocument, now = Date.now(), raw?: unknown, source: 'fetched' | 'relayed' = 'fetched'): void {
    const server = document.server_name;
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
      if (raw !== undefined && source === 'fetched') {
        this.db
          .prepare('INSERT INTO federation_key_documents (server_name, document, fetched_at) VALUES (?, ?, ?) ON CONFLICT (server_name) DO UPDATE SET document = excluded.document, fetched_at = excluded.fetched_at')
          .run(server, JSON.stringify(raw), now);
      }
    })();
    for (const key of this.negative.keys()) if (key.startsWith(`${server} `)) this.negative.delete(key);
  }
}
