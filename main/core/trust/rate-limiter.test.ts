import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limiter.ts';

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
