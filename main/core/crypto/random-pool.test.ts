import { describe, expect, it } from 'vitest';
import { randomBase64url, randomUint } from './random-pool.ts';

describe('pooled random identifiers', () => {
  it('hands out distinct values of the asked size, across many pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 2000; i++) seen.add(randomBase64url(18)); // ~9 refills of the 4 KiB pool
    expect(seen.size).toBe(2000);
    for (const id of seen) expect(id).toMatch(/^[A-Za-z0-9_-]{24}$/);
    const numbers = Array.from({ length: 1000 }, () => randomUint(3));
    expect(Math.max(...numbers)).toBeLessThan(2 ** 24);
    expect(new Set(numbers).size).toBeGreaterThan(900); // 24 bits: a few collisions at most
  });
  it('refuses more than the pool holds', () => {
    expect(() => randomBase64url(5000)).toThrow(RangeError);
  });
});
