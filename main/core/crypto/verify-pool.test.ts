import { afterAll, describe, expect, it } from 'vitest';
import { keyPairFromSeed, randomSeed, sign } from './ed25519.ts';
import { VerifyPool } from './verify-pool.ts';

const pools: VerifyPool[] = [];
afterAll(async () => Promise.all(pools.map((p) => p.close())));

const pair = keyPairFromSeed(randomSeed());
const other = keyPairFromSeed(randomSeed());

/** Every third good, every third tampered, every third under the wrong key; messages of varied length. */
function items(count: number) {
  return Array.from({ length: count }, (_, i) => {
    const message = Buffer.from(`message ${i} ${'x'.repeat(i % 700)}`);
    const signature = sign(message, pair.secretKey);
    if (i % 3 === 1) signature[5]! ^= 1;
    return { message, signature, publicKey: i % 3 === 2 ? other.publicKey : pair.publicKey, expected: i % 3 === 0 };
  });
}

function newPool(size: number): VerifyPool {
  const pool = new VerifyPool(size);
  pools.push(pool);
  return pool;
}

describe('VerifyPool', () => {
  for (const size of [0, 1, 2]) {
    it(`verifies good and refuses bad signatures, each answer to its own item (${size} workers)`, async () => {
      const pool = newPool(size);
      const all = items(1000);
      const results = await Promise.all(all.map((it) => pool.verify(it.signature, it.message, it.publicKey)));
      expect(results).toEqual(all.map((it) => it.expected));
      expect(pool.size).toBe(size);
      // Wrong lengths are refused, not thrown.
      expect(await pool.verify(Buffer.alloc(3), Buffer.from('x'), pair.publicKey)).toBe(false);
      expect(await pool.verify(all[0]!.signature, all[0]!.message, Buffer.alloc(31))).toBe(false);
    });
  }

  it('verifies an urgent item before the queue it was added behind', async () => {
    const pool = newPool(1);
    const queued = items(3000).filter((it) => it.expected);
    const order: string[] = [];
    const normal = queued.map((it, i) => pool.verify(it.signature, it.message, it.publicKey).then(() => order.push(`n${i}`)));
    await new Promise((resolve) => setImmediate(resolve)); // the queue is dispatched and waiting
    const urgent = pool.verify(queued[0]!.signature, queued[0]!.message, queued[0]!.publicKey, { urgent: true }).then((ok) => {
      order.push('urgent');
      return ok;
    });
    expect(await urgent).toBe(true);
    await Promise.all(normal);
    // It waits for what the worker already holds (4 chunks of 50, and what was answered before
    // it was added), not behind the 1,000 queued items as a plain queue would have it.
    expect(order.indexOf('urgent')).toBeLessThan(600);
  });

  it('answers every item when a worker dies mid-way (the rest goes elsewhere or is verified inline)', async () => {
    const pool = newPool(2);
    const all = items(600);
    const pending = all.map((it) => pool.verify(it.signature, it.message, it.publicKey));
    await new Promise((resolve) => setImmediate(resolve));
    await (pool as unknown as { workers: Array<{ worker: { terminate(): Promise<number> } }> }).workers[0]!.worker.terminate();
    expect(await Promise.all(pending)).toEqual(all.map((it) => it.expected));
    expect(pool.size).toBe(1);
  });
});
