/**
 * Keys learnt from a relaying host's key cache (docs/SECURITY.md item 8, docs/PROTOCOL.md "Key
 * cache"), kept apart in `federation_relayed_keys`, attributed to that host:
 * - they never verify a signed request, and verify only events relayed by that very host;
 * - they are used and learnt only for a server we have no direct knowledge of (direct-keys.ts),
 *   so they can never add to, replace, expire or shadow such keys; direct knowledge, once we
 *   have it, supersedes them (they are dropped);
 * - a relayed document only ADDS key ids unknown from that host: it never changes a stored row;
 * - one host can make us look up keys (from the origin or from its cache) of at most
 *   `maxRelayedOriginsPerHost` servers we knew no key of (`introduce`).
 */
import type { Statement } from 'better-sqlite3';
import type { Logger } from 'pino';
import type { Db } from '../../store/database.ts';
import type { Discovery } from '../discovery.ts';
import type { HttpClient } from '../http-client.ts';
import { KEYS_DOCUMENT_MAX_BYTES, checkKeysDocument, type RemoteKeysDocument } from '../keys-document.ts';
import type { RequestSigner } from '../request-signature.ts';
import type { DirectKeys, ServerKeyRow } from './direct-keys.ts';
import { KEY_CACHE_PATH } from '../paths.ts';

/** Default bound on the servers (we knew no key of) one relaying host can make us look up keys of. */
export const DEFAULT_MAX_RELAYED_ORIGINS_PER_HOST = 100;
/** At most this many keys of one relayed document are learnt (active, next, then the newest old ones). */
const MAX_RELAYED_KEYS_PER_DOCUMENT = 32;
/**
 * At most one fetch of a server's keys from one host's cache at a time, and one per this long: a
 * batch relayed by a host makes every event's key lookup miss at once, each with a key id of the
 * host's choosing (up to 500 requests to the host per batch before).
 */
const CACHE_FETCH_GAP_MS = 10_000;
/** Fetches remembered for that gap (origins per host are bounded, hosts are peers). */
const MAX_REMEMBERED_CACHE_FETCHES = 1_000;

export interface RelayedKeyRow {
  relayed_by: string;
  server_name: string;
  key_id: string;
  public_key: string;
  valid_until: number;
  expired_at: number | null;
  fetched_at: number;
}

export interface RelayedKeysOptions {
  http: HttpClient;
  discovery: Discovery;
  log: Logger;
  signer: () => RequestSigner | null;
  direct: DirectKeys;
  /** How many servers one relaying host can make us look up keys of (ServerKeys.maxRelayedOriginsPerHost, read at each use). */
  maxOriginsPerHost: () => number;
  /** Called when keys of a server were stored (the look-ups' negative cache forgets that server). */
  learnt: (serverName: string) => void;
}

export class RelayedKeys {
  private readonly db: Db;
  private readonly http: HttpClient;
  private readonly discovery: Discovery;
  private readonly log: Logger;
  private readonly signer: () => RequestSigner | null;
  private readonly options: RelayedKeysOptions;
  /** The last fetch from each host's cache, by `origin host` (fetchFromCache). */
  private readonly cacheFetches = new Map<string, { at: number; fetch: Promise<void> }>();

  constructor(db: Db, options: RelayedKeysOptions) {
    this.db = db;
    this.http = options.http;
    this.discovery = options.discovery;
    this.log = options.log;
    this.signer = options.signer;
    this.options = options;
  }

  private hasDirectKeys(serverName: string): boolean {
    return this.options.direct.hasDirectKeys(serverName);
  }

  private get maxRelayedOriginsPerHost(): number {
    return this.options.maxOriginsPerHost();
  }

  private relayedStmt: Statement<[string, string, string], RelayedKeyRow> | undefined;

  /** A key of `serverName` that `host` served from its key cache, as a row usable for events of that host only. */
  getRelayed(serverName: string, keyId: string, host: string): ServerKeyRow | undefined {
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
  introduce(serverName: string, host: string, now: number): boolean {
    const known = this.db.prepare<[string, string], { one: number }>('SELECT 1 AS one FROM federation_relayed_origins WHERE relayed_by = ? AND server_name = ?').get(host, serverName);
    if (known) return true;
    if (this.relayedOriginCount(host) >= this.maxRelayedOriginsPerHost) return false;
    this.db.prepare('INSERT OR IGNORE INTO federation_relayed_origins (relayed_by, server_name, first_at) VALUES (?, ?, ?)').run(host, serverName, now);
    return true;
  }

  /**
   * Fetches `serverName`'s keys document from the cache of `via` (a room host) and learns the key
   * ids of it that `via` had not served before, attributed to `via`. Nothing for a server we know
   * directly (the caller counted `serverName` against `via`'s bound).
   */
  async fetchFromCache(serverName: string, via: string, now: number): Promise<void> {
    const key = `${serverName} ${via}`;
    const last = this.cacheFetches.get(key);
    if (last && now - last.at < CACHE_FETCH_GAP_MS) return last.fetch;
    if (this.cacheFetches.size >= MAX_REMEMBERED_CACHE_FETCHES) {
      for (const [k, v] of this.cacheFetches) if (now - v.at >= CACHE_FETCH_GAP_MS) this.cacheFetches.delete(k);
      if (this.cacheFetches.size >= MAX_REMEMBERED_CACHE_FETCHES) this.cacheFetches.clear();
    }
    const fetch = this.fetchFromCacheNow(serverName, via, now);
    this.cacheFetches.set(key, { at: now, fetch });
    return fetch;
  }

  private async fetchFromCacheNow(serverName: string, via: string, now: number): Promise<void> {
    const signer = this.signer();
    if (!signer || serverName === signer.serverName) return;
    if (this.hasDirectKeys(serverName)) return;
    const endpoint = await this.discovery.endpointOf(via);
    const response = await this.http.signed(signer, 'GET', endpoint, `${KEY_CACHE_PATH}?server_name=${encodeURIComponent(serverName)}`, undefined, { destination: via, maxResponseBytes: KEYS_DOCUMENT_MAX_BYTES });
    // 404: the host holds no keys of it (its cache was read): nothing learnt, and that is an answer,
    // not a failure to read (server-keys.ts answers a key id it could not check 503 keys_unavailable).
    if (response.status === 404) {
      this.log.info({ event: 'keys_not_in_cache', server: serverName, via }, 'the relaying host holds no keys of this server');
      return;
    }
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
    this.options.learnt(server);
  }
}
