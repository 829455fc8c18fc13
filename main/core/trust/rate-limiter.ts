/**
 * Token bucket per remote server (docs/PROTOCOL.md §Rate limits and trust): each signed request takes one token; tokens
 * refill at `per_second` up to `burst`. An empty bucket answers 429 with Retry-After. Buckets
 * are separate, so one flooding server never slows another.
 *
 * The buckets live in a bounded LRU (issue #14, item 11): a sender rotating through many source
 * addresses cannot grow the map without bound; the least recently used bucket is dropped first.
 * A dropped bucket is full again when its key comes back — the same as a key idle for `burst /
 * per_second` seconds — so the bound only costs precision for keys nobody has used lately.
 *
 * Each kind of key has an LRU of its own (RateLimiters): per client address (anybody can make
 * new ones, one unsigned request each), per authenticated server (only after its signature
 * verified), per signed-in member of this server (only after its session cookie checked; issue
 * #34), and global buckets (a fixed set named in code). So a flood of cheap requests from many
 * addresses only pushes out other addresses' buckets, never a server's or a member's own limit or
 * a global one.
 */
import { LRUCache } from 'lru-cache';

export interface RateLimit {
  per_second: number;
  burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { per_second: 200, burst: 1000 };

/** How many buckets are kept (≈ 100 bytes each): 10,000 is about a megabyte. */
export const DEFAULT_MAX_BUCKETS = 10_000;
/** Per-address buckets kept (NodeConfig `maxAddressBuckets`, `serve --max-address-buckets`). */
export const DEFAULT_MAX_ADDRESS_BUCKETS = 10_000;
/** Per-server buckets kept: a server's general allowance and its per-endpoint ones. */
export const DEFAULT_MAX_SERVER_BUCKETS = 10_000;
/** Per-member buckets kept: members are the people the owner invited, far fewer than this. */
export const DEFAULT_MAX_MEMBER_BUCKETS = 10_000;
/** Global buckets have fixed names (one per limited route), so they are never pushed out. */
const MAX_GLOBAL_BUCKETS = 100;

interface Bucket {
  tokens: number;
  updated: number;
  limit: RateLimit;
}

export class RateLimiter {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(options: { maxBuckets?: number } = {}) {
    this.buckets = new LRUCache<string, Bucket>({ max: Math.max(1, Math.floor(options.maxBuckets ?? DEFAULT_MAX_BUCKETS)) });
  }

  /** How many buckets are held now (bounded by `maxBuckets`). */
  get size(): number {
    return this.buckets.size;
  }

  /**
   * Takes `cost` tokens for `key` (one request; more for a request that weighs several); returns
   * how long to wait when there are not enough. A cost above the burst is taken as the burst
   * (callers refuse such requests before: see verify-signed-request.ts `chargeMore`).
   */
  take(key: string, limit: RateLimit, now = Date.now(), cost = 1): { ok: true } | { ok: false; retryAfterMs: number } {
    const need = Math.max(1, Math.min(cost, limit.burst));
    let bucket = this.buckets.get(key);
    if (!bucket || bucket.limit.per_second !== limit.per_second || bucket.limit.burst !== limit.burst) {
      bucket = { tokens: limit.burst, updated: now, limit };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(limit.burst, bucket.tokens + (Math.max(0, now - bucket.updated) / 1000) * limit.per_second);
    bucket.updated = now;
    if (bucket.tokens >= need) {
      bucket.tokens -= need;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((need - bucket.tokens) / limit.per_second) * 1000) };
  }
}

/** The node's rate limits, one bounded bucket cache per kind of key (see the top of this file). */
export class RateLimiters {
  /** Keyed by client address (or IPv6 /64), before anything is authenticated. */
  readonly address: RateLimiter;
  /** Keyed by authenticated origin server, taken only after its signature verified. */
  readonly server: RateLimiter;
  /** Keyed by signed-in member (client/member-limits.ts), taken only after its session checked: as many as the owner let in. */
  readonly member: RateLimiter;
  /** A few fixed keys, for limits on everybody together. */
  readonly global: RateLimiter;

  constructor(options: { maxAddressBuckets?: number; maxServerBuckets?: number } = {}) {
    this.address = new RateLimiter({ maxBuckets: options.maxAddressBuckets ?? DEFAULT_MAX_ADDRESS_BUCKETS });
    this.server = new RateLimiter({ maxBuckets: options.maxServerBuckets ?? DEFAULT_MAX_SERVER_BUCKETS });
    this.member = new RateLimiter({ maxBuckets: DEFAULT_MAX_MEMBER_BUCKETS });
    this.global = new RateLimiter({ maxBuckets: MAX_GLOBAL_BUCKETS });
  }
}
