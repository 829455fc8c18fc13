import { describe, expect, it } from 'vitest';
import { RateLimiter, RateLimiters } from './rate-limiter.ts';

describe('RateLimiter', () => {
  it('keeps at most maxBuckets buckets however many keys it sees (100k distinct addresses)', () => {
    const limiter = new RateLimiter({ maxBuckets: 1_000 });
    const limit = { per_second: 1, burst: 2 };
    for (let i = 0; i < 100_000; i++) limiter.take(`ip 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, limit, 1_000);
    expect(limiter.size).toBe(1_000);
  });

  it('still limits a key that keeps being used while others churn through the cache', () => {
    const limiter = new RateLimiter({ maxBuckets: 100 });
    const limit = { per_second: 1, burst: 3 };
    const results: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      results.push(limiter.take('busy', limit, 1_000).ok);
      for (let j = 0; j < 50; j++) limiter.take(`other ${i} ${j}`, limit, 1_000);
    }
    expect(results).toEqual([true, true, true, false, false, false, false, false, false, false]);
    const refused = limiter.take('busy', limit, 1_000);
    expect(refused).toEqual({ ok: false, retryAfterMs: 1000 });
  });
});

describe('RateLimiters', () => {
  it('keeps per-server and global buckets apart from any number of per-address ones', () => {
    const limiters = new RateLimiters({ maxAddressBuckets: 100 });
    const limit = { per_second: 0.001, burst: 1 };
    expect(limiters.server.take('hostile.test', limit, 1_000).ok).toBe(true);
    expect(limiters.global.take('peering overall', limit, 1_000).ok).toBe(true);
    for (let i = 0; i < 10_000; i++) limiters.address.take(`ip 10.0.${i >> 8}.${i & 255}`, limit, 1_000);
    expect(limiters.address.size).toBe(100);
    // Still empty: not pushed out and refilled by the churn.
    expect(limiters.server.take('hostile.test', limit, 1_000).ok).toBe(false);
    expect(limiters.global.take('peering overall', limit, 1_000).ok).toBe(false);
  });

  it('takes a fractional bound as the whole number below it, and never less than one', () => {
    expect(() => new RateLimiters({ maxAddressBuckets: 0.5 })).not.toThrow();
    const limiters = new RateLimiters({ maxAddressBuckets: 2.7 });
    for (let i = 0; i < 10; i++) limiters.address.take(`ip ${i}`, { per_second: 1, burst: 1 }, 1_000);
    expect(limiters.address.size).toBe(2);
  });

  it('takes several tokens for a request that weighs more, and waits for all of them', () => {
    const limiter = new RateLimiter();
    const limit = { per_second: 2, burst: 5 };
    expect(limiter.take('heavy.test', limit, 1_000, 4).ok).toBe(true);
    const short = limiter.take('heavy.test', limit, 1_000, 3);
    // One token left, three wanted: two more at 2 per second.
    expect(short).toEqual({ ok: false, retryAfterMs: 1_000 });
    expect(limiter.take('heavy.test', limit, 2_000, 3).ok).toBe(true);
    // A weight above the burst is taken as the burst (callers refuse such requests before).
    expect(limiter.take('heavier.test', limit, 1_000, 50).ok).toBe(true);
    expect(limiter.take('heavier.test', limit, 1_000, 1).ok).toBe(false);
  });
});
