/**
 * Per-server trust (DESIGN.md §5): the owner's decision about each remote server, and the
 * default policy for servers the owner never mentioned.
 */
import { transactionWithoutFsync, type Db } from '../store/database.ts';
import type { Settings } from '../store/settings.ts';
import { DEFAULT_RATE_LIMIT, type RateLimit } from './rate-limiter.ts';
import { DEFAULT_AUTO_QUARANTINE, type AutoQuarantinePolicy } from './abuse-monitor.ts';

export type TrustMode = 'allow' | 'block' | 'quarantine';
export type DefaultPolicy = 'allowlist' | 'open';

export interface FederationServer {
  server_name: string;
  trust: TrustMode;
  endpoint: string | null;
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

export class TrustStore {
  private readonly db: Db;
  private readonly settings: Settings;
  private readonly getStmt;
  private readonly touchStmt;
  private readonly lastSeenWrites = new Map<string, number>();

  constructor(db: Db, settings: Settings) {
    this.db = db;
    this.settings = settings;
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
    this.rateCache.set(serverName, { at: now, limit });
    return limit;
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

  /** Adds or updates a peer. Fields left undefined keep their stored value. */
  upsert(
    serverName: string,
    fields: Partial<Omit<FederationServer, 'server_name' | 'added_at' | 'updated_at' | 'last_seen_at'>>,
    now = Date.now(),
  ): FederationServer {
    const existing = this.get(serverName);
    const merged: FederationServer = {
      server_name: serverName,
      trust: fields.trust ?? existing?.trust ?? 'allow',
      endpoint: fields.endpoint !== undefined ? fields.endpoint : (existing?.endpoint ?? null),
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
        `INSERT INTO federation_servers (server_name, trust, endpoint, tls_fingerprint, reason, until_ms, rate_per_second, rate_burst, added_at, updated_at, last_seen_at)
         VALUES (@server_name, @trust, @endpoint, @tls_fingerprint, @reason, @until_ms, @rate_per_second, @rate_burst, @added_at, @updated_at, @last_seen_at)
         ON CONFLICT (server_name) DO UPDATE SET trust = excluded.trust, endpoint = excluded.endpoint, tls_fingerprint = excluded.tls_fingerprint,
           reason = excluded.reason, until_ms = excluded.until_ms, rate_per_second = excluded.rate_per_second, rate_burst = excluded.rate_burst,
           updated_at = excluded.updated_at`,
      )
      .run(merged);
    return merged;
  }

  /** Records that a server talked to us; written at most every 10 s per server (no fsync per request). */
  /** The pinned certificate fingerprint for an endpoint URL (peers added with one). */
  pinnedFingerprintFor(url: URL): string | null {
    const origin = url.origin;
    for (const server of this.pinnedEndpoints()) {
      if (server.origin === origin) return server.fingerprint;
    }
    return null;
  }

  private pinnedCache: { at: number; rows: Array<{ origin: string; fingerprint: string }> } | null = null;
  private endpointCache: { at: number; origins: Set<string> } | null = null;

  /**
   * Whether an origin (`scheme://host[:port]`) is the explicit endpoint of a peer row — one the
   * owner gave (admin POST /peers, a redeemed link) or a friend named when redeeming the owner's
   * invite. The outbound address policy lets such endpoints be LAN/loopback addresses.
   */
  isExplicitEndpoint(origin: string): boolean {
    if (!this.endpointCache || Date.now() - this.endpointCache.at >= 1_000) {
      const origins = new Set<string>();
      for (const r of this.db.prepare<[], { endpoint: string }>("SELECT endpoint FROM federation_servers WHERE endpoint IS NOT NULL AND trust != 'block'").all()) {
        try {
          origins.add(new URL(r.endpoint).origin);
        } catch {
          // not a URL: never vouched for
        }
      }
      this.endpointCache = { at: Date.now(), origins };
    }
    return this.endpointCache.origins.has(origin);
  }

  private pinnedEndpoints(): Array<{ origin: string; fingerprint: string }> {
    if (this.pinnedCache && Date.now() - this.pinnedCache.at < 1_000) return this.pinnedCache.rows;
    const rows = this.db
      .prepare<[], { endpoint: string; tls_fingerprint: string }>('SELECT endpoint, tls_fingerprint FROM federation_servers WHERE endpoint IS NOT NULL AND tls_fingerprint IS NOT NULL')
      .all()
      .flatMap((r) => {
        try {
          return [{ origin: new URL(r.endpoint).origin, fingerprint: r.tls_fingerprint }];
        } catch {
          return [];
        }
      });
    this.pinnedCache = { at: Date.now(), rows };
    return rows;
  }

  markSeen(serverName: string, now = Date.now()): void {
    const last = this.lastSeenWrites.get(serverName) ?? 0;
    if (now - last < 10_000) return;
    this.lastSeenWrites.set(serverName, now);
    // A hint for the owner, not worth an fsync on the event loop (issue #17: each one stopped it).
    transactionWithoutFsync(this.db, () => this.touchStmt.run(now, serverName));
    this.rowCache.delete(serverName);
  }
}
