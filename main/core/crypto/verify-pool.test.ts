import { afterAll, describe, expect, it } from 'vitest';
import { keyPairFromSeed, randomSeed, sign } from './ed25519.ts';
import { VerifyPool } from './verify-pool.ts';

const pools: VerifyPool[] = [];
afterAll(async () => Promise.all(pools.map((p) => p.close())));

describe('VerifyPool', () => {
  for (const size of [0, 2]) {
    it(`verifies good and refuses bad signatures, in order (${size} workers)`, async () => {
      const pool = new VerifyPool(size);
      pools.push(pool);
      const pair = keyPairFromSeed(randomSeed());
      const other = keyPairFromSeed(randomSeed());
      const items = Array.from({ length: 300 }, (_, i) => {
        const message = Buffer.from(`message ${i}`);
        const signature = sign(message, pair.secretKey);
        if (i % 3 === 1) signature[5]! ^= 1; // tampered
        return { message, signature, publicKey: i % 3 === 2 ? other.publicKey : pair.publicKey, expected: i % 3 === 0 };
      });
      const results = await Promise.all(items.map((it) => pool.verify(it.signature, it.message, it.publicKey)));
      expect(results).toEqual(items.map((it) => it.expected));
      expect(pool.size).toBe(size);
      // Wrong lengths are refused, not thrown.
      expect(await pool.verify(Buffer.alloc(3), Buffer.from('x'), pair.publicKey)).toBe(false);
    });
  }
});
