/**
 * Token bucket per remote server (DESIGN.md §5): each signed request takes one token; tokens
 * refill at `per_second` up to `burst`. An empty bucket answers 429 with Retry-After. Buckets
 * are separate, so one flooding server never slows another.
 */
export interface RateLimit {
  per_second: number;
  burst: number;
}

export const DEFAULT_RATE_LIMIT: RateLimit = { per_second: 200, burst: 1000 };

interface Bucket {
  tokens: number;
  updated: number;
  limit: RateLimit;
}

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  /** Takes a token for `server`; returns how long to wait when there is none. */
  take(server: string, limit: RateLimit, now = Date.now()): { ok: true } | { ok: false; retryAfterMs: number } {
    let bucket = this.buckets.get(server);
    if (!bucket || bucket.limit.per_second !== limit.per_second || bucket.limit.burst !== limit.burst) {
      bucket = { tokens: limit.burst, updated: now, limit };
      this.buckets.set(server, bucket);
    }
    bucket.tokens = Math.min(limit.burst, bucket.tokens + ((now - bucket.updated) / 1000) * limit.per_second);
    bucket.updated = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return { ok: false, retryAfterMs: Math.ceil(((1 - bucket.tokens) / limit.per_second) * 1000) };
  }
}
