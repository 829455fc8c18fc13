/**
 * Per-server trust (docs/PROTOCOL.md §Rate limits and trust): the owner's decision about each remote server, and the
 * default policy for servers the owner never mentioned.
 */
import { transactionWithoutFsync, type Db } from '../store/database.ts';
import type { Settings } from '../store/settings.ts';
import { DEFAULT_RATE_LIMIT, type RateLimit } from './rate-limiter.ts';
import { DEFAULT_AUTO_QUARANTINE, type AutoQuarantinePolicy } from './abuse-monitor.ts';
import { classifyAddress, type EndpointVouch } from '../federation/address-policy.ts';
import { isIP } from 'node:net';
import { MAX_SERVERS_REMEMBERED } from './servers-remembered.ts';

export type TrustMode = 'allow' | 'block' | 'quarantine';
export type DefaultPolicy = 'allowlist' | 'open';
/**
 * Who named a peer's endpoint (issue #14 item 8): the owner (admin `POST /peers` / CLI `peer add`
 * with an endpoint), the peer itself (its invite link, or its `POST /peering` when it redeemed
 * ours), or its discovery document (the owner gave only the server name).
 */
export type EndpointSource = 'owner' | 'peer' | 'discovery';

export interface FederationServer {
  server_name: string;
  trust: TrustMode;
  endpoint: string | null;
  /** Who named `endpoint` (null without one). */
  endpoint_source: EndpointSource | null;
  /**
   * JSON array of the non-public addresses the owner vouched for with an `owner` endpoint (what
   * its host name resolved to when the peer was added); null for none.
   */
  endpoint_addresses: string | null;
  tls_fingerprint: string | null;
  reason: string | null;
  until_ms: number | null;
  rate_per_second: number | null;
  rate_burst: number | null;
  added_at: number;
  updated_at: number;
  last_seen_at: number | null;
}

/** What the trust layer says about a request from a server. */
export type OriginDecision =
  | { allowed: true; quarantined: boolean }
  | { allowed: false; code: 'origin_blocked' | 'origin_not_allowed'; message: string };

/** Peer rows auto-quarantine writes for strangers (TrustStore.quarantineAbuser), at most. */
export const MAX_STRANGERS_QUARANTINED = 1_000;

/** A server's last_seen_at is written at most once per this gap. */
const SEEN_WRITE_GAP_MS = 10_000;

export class TrustStore {
  private readonly db: Db;
  private readonly settings: Settings;
  private readonly getStmt;
  private readonly touchStmt;
  private readonly lastSeenWrites = new Map<string, number>();

  /** Told when a server's trust or quarantine end changes (QuarantineLapses re-arms its timer). */
  private readonly onQuarantineChange: (() => void) | undefined;
  private readonly peerListeners = new Set<() => void>();
  private readonly seenListeners = new Set<(serverName: string) => void>();

  constructor(db: Db, settings: Settings, options: { onQuarantineChange?: () => void } = {}) {
    this.db = db;
    this.settings = settings;
    this.onQuarantineChange = options.onQuarantineChange;
    this.getStmt = db.prepare<[string], FederationServer>('SELECT * FROM federation_servers WHERE server_name = ?');
    this.touchStmt = db.prepare('UPDATE federation_servers SET last_seen_at = ? WHERE server_name = ?');
  }

  get defaultPolicy(): DefaultPolicy {
    return this.settings.get('default_policy') === 'open' ? 'open' : 'allowlist';
  }

  setDefaultPolicy(policy: DefaultPolicy): void {
    this.settings.set('default_policy', policy);
  }

  /** The default rate limit for servers without their own. */
  get defaultRateLimit(): RateLimit {
    const stored = this.settings.get('default_rate_limit');
    return stored ? (JSON.parse(stored) as RateLimit) : DEFAULT_RATE_LIMIT;
  }

  setDefaultRateLimit(limit: RateLimit): void {
    this.settings.set('default_rate_limit', JSON.stringify(limit));
    this.rateCache.clear();
  }

  get autoQuarantine(): AutoQuarantinePolicy {
    const stored = this.settings.get('auto_quarantine');
    return stored ? (JSON.parse(stored) as AutoQuarantinePolicy) : DEFAULT_AUTO_QUARANTINE;
  }

  setAutoQuarantine(policy: AutoQuarantinePolicy): void {
    this.settings.set('auto_quarantine', JSON.stringify(policy));
  }

  private readonly rateCache = new Map<string, { at: number; limit: RateLimit }>();

  /** The rate limit of a server (its own, or the default); cached for a second. */
  rateLimitFor(serverName: string, now = Date.now()): RateLimit {
    const cached = this.rateCache.get(serverName);
    if (cached && now - cached.at < 1_000) return cached.limit;
    const row = this.get(serverName);
    const limit = row?.rate_per_second != null && row.rate_burst != null ? { per_second: row.rate_per_second, burst: row.rate_burst } : this.defaultRateLimit;
    // Under an open policy any server that signs is asked here, each new name an entry: bounded.
    if (this.rateCache.size >= MAX_SERVERS_REMEMBERED && !this.rateCache.has(serverName)) this.rateCache.clear();
    this.rateCache.set(serverName, { at: now, limit });
    return limit;
  }

  /** The soonest end of a quarantine that has one (null: none). */
  nextQuarantineEnd(): number | null {
    return this.db
      .prepare<[], { next: number | null }>("SELECT MIN(until_ms) AS next FROM federation_servers WHERE trust = 'quarantine' AND until_ms IS NOT NULL")
      .get()!.next;
  }

  /** Quarantines whose end time has passed. */
  lapsedQuarantines(now = Date.now()): string[] {
    return this.db
      .prepare<[number], { server_name: string }>("SELECT server_name FROM federation_servers WHERE trust = 'quarantine' AND until_ms IS NOT NULL AND until_ms <= ?")
      .all(now)
      .map((r) => r.server_name);
  }

  /** Rows are cached (the hot path asks for every event); every write goes through upsert/markSeen. */
  private readonly rowCache = new Map<string, FederationServer | undefined>();

  get(serverName: string): FederationServer | undefined {
    if (this.rowCache.has(serverName)) return this.rowCache.get(serverName);
    const row = this.getStmt.get(serverName);
    if (this.rowCache.size > 10_000) this.rowCache.clear();
    this.rowCache.set(serverName, row);
    return row;
  }

  list(): FederationServer[] {
    return this.db.prepare<[], FederationServer>('SELECT * FROM federation_servers ORDER BY server_name').all();
  }

  /**
   * Whether nothing is sent to `server`: the owner blocked it or keeps it in quarantine. What waits
   * for it is held (the delivery worker), and every place that words the queue says so.
   */
  holdsDeliveryTo(server: string, now = Date.now()): boolean {
    const decision = this.decide(server, now);
    return decision.allowed ? decision.quarantined : decision.code === 'origin_blocked';
  }

  /** Whether requests (and events) from `origin` may be processed at all. */
  decide(origin: string, now = Date.now()): OriginDecision {
    const server = this.get(origin);
    if (!server) {
      return this.defaultPolicy === 'open'
        ? { allowed: true, quarantined: false }
        : { allowed: false, code: 'origin_not_allowed', message: `${origin} is not an allowed peer of this server` };
    }
    if (server.trust === 'block') {
      return { allowed: false, code: 'origin_blocked', message: `${origin} is blocked by this server` };
    }
    const quarantined = server.trust === 'quarantine' && (server.until_ms === null || server.until_ms > now);
    return { allowed: true, quarantined };
  }

  /**
   * Adds or updates a peer. Fields left undefined keep their stored value. A new endpoint must say
   * who named it (`endpoint_source`); its vouched addresses are replaced with it.
   */
  upsert(
    serverName: string,
    fields: Partial<Omit<FederationServer, 'server_name' | 'added_at' | 'updated_at' | 'last_seen_at' | 'endpoint_addresses'>> & { endpoint_addresses?: readonly string[] },
    now = Date.now(),
  ): FederationServer {
    const existing = this.get(serverName);
    if (fields.endpoint && !fields.endpoint_source) throw new Error('an endpoint must be stored with who named it (endpoint_source)');
    const endpointGiven = fields.endpoint !== undefined;
    const merged: FederationServer = {
      server_name: serverName,
      trust: fields.trust ?? existing?.trust ?? 'allow',
      endpoint: endpointGiven ? fields.endpoint! : (existing?.endpoint ?? null),
      endpoint_source: endpointGiven ? (fields.endpoint === null ? null : fields.endpoint_source!) : (existing?.endpoint_source ?? null),
      endpoint_addresses: endpointGiven
        ? (fields.endpoint !== null && fields.endpoint_source === 'owner' && fields.endpoint_addresses?.length ? JSON.stringify([...fields.endpoint_addresses]) : null)
        : (existing?.endpoint_addresses ?? null),
      tls_fingerprint: fields.tls_fingerprint !== undefined ? fields.tls_fingerprint : (existing?.tls_fingerprint ?? null),
      reason: fields.reason !== undefined ? fields.reason : (existing?.reason ?? null),
      until_ms: fields.until_ms !== undefined ? fields.until_ms : (existing?.until_ms ?? null),
      rate_per_second: fields.rate_per_second !== undefined ? fields.rate_per_second : (existing?.rate_per_second ?? null),
      rate_burst: fields.rate_burst !== undefined ? fields.rate_burst : (existing?.rate_burst ?? null),
      added_at: existing?.added_at ?? now,
      updated_at: now,
      last_seen_at: existing?.last_seen_at ?? null,
    };
    this.pinnedCache = null;
    this.endpointCache = null;
    this.rateCache.delete(serverName);
    this.rowCache.delete(serverName);
    this.db
      .prepare(
        `INSERT INTO federation_servers (server_name, trust, endpoint, endpoint_source, endpoint_addresses, tls_fingerprint, reason, until_ms, rate_per_second, rate_burst, added_at, updated_at, last_seen_at)
         VALUES (@server_name, @trust, @endpoint, @endpoint_source, @endpoint_addresses, @tls_fingerprint, @reason, @until_ms, @rate_per_second, @rate_burst, @added_at, @updated_at, @last_seen_at)
         ON CONFLICT (server_name) DO UPDATE SET trust = excluded.trust, endpoint = excluded.endpoint, endpoint_source = excluded.endpoint_source,
           endpoint_addresses = excluded.endpoint_addresses, tls_fingerprint = excluded.tls_fingerprint,
           reason = excluded.reason, until_ms = excluded.until_ms, rate_per_second = excluded.rate_per_second, rate_burst = excluded.rate_burst,
           updated_at = excluded.updated_at, auto_stranger_at = NULL`,
      )
      .run(merged);
    if (fields.trust !== undefined || fields.until_ms !== undefined) this.onQuarantineChange?.();
    if (!existing || merged.trust !== existing.trust) for (const listener of this.peerListeners) listener();
    return merged;
  }

  /**
   * Auto-quarantine (abuse-monitor.ts): `server` is put in quarantine, with no end, unless the
   * owner already blocks or quarantines it; false then. A server with no row (a stranger, under an
   * open policy) gets one marked as auto-quarantine's (`auto_stranger_at`; any later write makes it
   * an ordinary row), and at most MAX_STRANGERS_QUARANTINED of those are kept: under an open
   * policy anybody with names to spare could otherwise add rows without end (~20 bad requests a
   * name). Past it the oldest goes: that server is a stranger again, as any new name of the same
   * sender already is, and is quarantined again by its next failures.
   */
  quarantineAbuser(server: string, reason: string, now = Date.now()): boolean {
    const current = this.get(server);
    if (current?.trust === 'block' || current?.trust === 'quarantine') return false;
    let removed = 0;
    this.db.transaction(() => {
      this.upsert(server, { trust: 'quarantine', reason, until_ms: null }, now);
      if (current) return;
      this.db.prepare('UPDATE federation_servers SET auto_stranger_at = ? WHERE server_name = ?').run(now, server);
      const { n } = this.db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM federation_servers WHERE auto_stranger_at IS NOT NULL').get()!;
      if (n <= MAX_STRANGERS_QUARANTINED) return;
      const oldest = this.db
        .prepare<[number], { server_name: string }>('SELECT server_name FROM federation_servers WHERE auto_stranger_at IS NOT NULL ORDER BY auto_stranger_at, server_name LIMIT ?')
        .all(n - MAX_STRANGERS_QUARANTINED)
        .map((r) => r.server_name);
      const remove = this.db.prepare('DELETE FROM federation_servers WHERE server_name = ? AND auto_stranger_at IS NOT NULL');
      for (const name of oldest) {
        removed += remove.run(name).changes;
        this.rowCache.delete(name);
        this.rateCache.delete(name);
      }
    })();
    if (removed > 0) for (const listener of this.peerListeners) listener();
    return true;
  }

  /**
   * Forgets what is decided about `serverName` (the admin API's DELETE /peers/:name/trust, for a
   * server never peered): it is then treated by the default policy, as one never named.
   */
  forget(serverName: string): void {
    this.pinnedCache = null;
    this.endpointCache = null;
    this.rateCache.delete(serverName);
    this.rowCache.delete(serverName);
    this.db.prepare('DELETE FROM federation_servers WHERE server_name = ?').run(serverName);
    this.onQuarantineChange?.();
    for (const listener of this.peerListeners) listener();
  }

  /**
   * Calls `listener` after a server is added or its trust changes (the loops per peer start or
   * stop then: util/peer-loops.ts); returns what unsubscribes. Called synchronously, possibly
   * inside the caller's transaction.
   */
  onPeersChange(listener: () => void): () => void {
    this.peerListeners.add(listener);
    return () => this.peerListeners.delete(listener);
  }

  /**
   * The certificate pinned for a request to `url`: with `server` (the server the request is for),
   * the one in that server's own row when the URL is at its stored endpoint, and no other. A pin
   * is a server's word about itself: one looked up by address across every row let a link holder,
   * redeeming under its own name with a friend's address and its own certificate, pin the friend's
   * address for every request to it (a red-team review, 2026-11-30). Without `server` (a request
   * for nobody named yet): only a pin the owner typed with its endpoint.
   */
  pinnedFingerprintFor(url: URL, server?: string): string | null {
    if (server !== undefined) {
      const row = this.get(server);
      if (!row?.endpoint || !row.tls_fingerprint) return null;
      return originOf(row.endpoint) === url.origin ? row.tls_fingerprint : null;
    }
    return this.pinnedEndpoints().find((r) => r.origin === url.origin && r.source === 'owner')?.fingerprint ?? null;
  }

  private pinnedCache: { at: number; rows: Array<{ origin: string; fingerprint: string; source: EndpointSource | null }> } | null = null;
  private endpointCache: { at: number; vouches: Map<string, EndpointVouch> } | null = null;

  /**
   * Who named an origin (`scheme://host[:port]`) stored as a peer's endpoint, for the outbound
   * address policy (address-policy.ts): the owner — with the non-public addresses vouched for (the
   * literal address of the endpoint, or what its name resolved to when the owner added it) — or a
   * peer. Endpoints learnt from discovery, and those of blocked peers, vouch for nothing.
   */
  endpointVouch(origin: string): EndpointVouch | undefined {
    if (!this.endpointCache || Date.now() - this.endpointCache.at >= 1_000) {
      const vouches = new Map<string, EndpointVouch>();
      const rows = this.db
        .prepare<[], { endpoint: string; endpoint_source: EndpointSource | null; endpoint_addresses: string | null }>(
          "SELECT endpoint, endpoint_source, endpoint_addresses FROM federation_servers WHERE endpoint IS NOT NULL AND trust != 'block'",
        )
        .all();
      for (const r of rows) {
        let url: URL;
        try {
          url = new URL(r.endpoint);
        } catch {
          continue; // not a URL: never vouched for
        }
        const previous = vouches.get(url.origin);
        if (r.endpoint_source === 'owner') {
          const addresses = new Set(previous?.vouch === 'owner' && previous.addresses !== 'any' ? previous.addresses : []);
          for (const a of parseAddresses(r.endpoint_addresses)) addresses.add(a);
          const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
          if (isIP(host) !== 0) addresses.add(classifyAddress(host).canonical);
          vouches.set(url.origin, { vouch: 'owner', addresses });
        } else if (r.endpoint_source === 'peer' && !previous) {
          vouches.set(url.origin, { vouch: 'peering' });
        }
      }
      this.endpointCache = { at: Date.now(), vouches };
    }
    return this.endpointCache.vouches.get(origin);
  }

  private pinnedEndpoints(): Array<{ origin: string; fingerprint: string; source: EndpointSource | null }> {
    if (this.pinnedCache && Date.now() - this.pinnedCache.at < 1_000) return this.pinnedCache.rows;
    const rows = this.db
      .prepare<[], { endpoint: string; tls_fingerprint: string; endpoint_source: EndpointSource | null }>(
        'SELECT endpoint, tls_fingerprint, endpoint_source FROM federation_servers WHERE endpoint IS NOT NULL AND tls_fingerprint IS NOT NULL',
      )
      .all()
      .flatMap((r) => {
        const origin = originOf(r.endpoint);
        return origin === null ? [] : [{ origin, fingerprint: r.tls_fingerprint, source: r.endpoint_source }];
      });
    this.pinnedCache = { at: Date.now(), rows };
    return rows;
  }

  /**
   * Records that a server talked to us, or answered us; written at most every 10 s per server (no
   * fsync per request). Each call is told to the `onSeen` listeners, which limit what it makes
   * them do themselves (a listener told only every 10 s dropped the calls in between).
   */
  markSeen(serverName: string, now = Date.now()): void {
    for (const listener of this.seenListeners) listener(serverName);
    const last = this.lastSeenWrites.get(serverName) ?? 0;
    if (now - last < SEEN_WRITE_GAP_MS) return;
    // One entry per server that signed a request lately (any server, under an open policy): an
    // entry older than the gap no longer changes anything, and those go first when it is full.
    if (this.lastSeenWrites.size >= MAX_SERVERS_REMEMBERED) {
      for (const [server, at] of this.lastSeenWrites) if (now - at >= SEEN_WRITE_GAP_MS) this.lastSeenWrites.delete(server);
      if (this.lastSeenWrites.size >= MAX_SERVERS_REMEMBERED) this.lastSeenWrites.clear();
    }
    this.lastSeenWrites.set(serverName, now);
    // A hint for the owner, not worth an fsync on the event loop (issue #17: each one stopped it).
    transactionWithoutFsync(this.db, () => this.touchStmt.run(now, serverName));
    this.rowCache.delete(serverName);
  }

  /**
   * Calls `listener` whenever a server is seen (markSeen: every request of it we verified, every
   * answer of it), synchronously: a loop waiting out failures to reach it asks again
   * (federation/signed-page-loop.ts), a failure to read its discovery is tried again
   * (discovery.ts); each at most once per 10 s per server. Returns what unsubscribes.
   */
  onSeen(listener: (serverName: string) => void): () => void {
    this.seenListeners.add(listener);
    return () => this.seenListeners.delete(listener);
  }
}

function parseAddresses(json: string | null): string[] {
  if (!json) return [];
  try {
    const parsed: unknown = JSON.parse(json);
    return Array.isArray(parsed) ? parsed.filter((a): a is string => typeof a === 'string') : [];
  } catch {
    return [];
  }
}

/** The origin (`scheme://host[:port]`) of a stored endpoint; null for one that is not a URL. */
function originOf(endpoint: string): string | null {
  try {
    return new URL(endpoint).origin;
  } catch {
    return null;
  }
}
