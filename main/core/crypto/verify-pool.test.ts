import { afterAll, describe, expect, it, vi } from 'vitest';
import { createHash } from 'node:crypto';
import { keyPairFromSeed, randomSeed, sign, verify } from './ed25519.ts';
import { VerifyPool, type VerifyPoolOptions } from './verify-pool.ts';

const pools: VerifyPool[] = [];
afterAll(async () => Promise.all(pools.map((p) => p.close())));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
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

function newPool(size: number, options: VerifyPoolOptions = {}): VerifyPool {
  const pool = new VerifyPool(size, options);
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

  it('verifies a lone item here while the workers are idle (no thread round trip), and sends a crowd to the workers', async () => {
    const pool = newPool(1);
    const [good, tampered] = items(2);
    expect(await pool.verify(good!.signature, good!.message, good!.publicKey)).toBe(true);
    expect(await pool.verify(tampered!.signature, tampered!.message, tampered!.publicKey)).toBe(false);
    expect(pool.stats).toEqual({ inline: 2, chunks: 0, whileStarting: 0 });
    const crowd = items(30);
    expect(await Promise.all(crowd.map((it) => pool.verify(it.signature, it.message, it.publicKey)))).toEqual(crowd.map((it) => it.expected));
    expect(pool.stats.inline).toBe(2);
    expect(pool.starts).toBe(1); // the crowd started the workers (and was verified here meanwhile)
    await expect.poll(() => (pool as unknown as { workers: Array<{ ready: boolean }> }).workers[0]?.ready).toBe(true);
    expect(await Promise.all(crowd.map((it) => pool.verify(it.signature, it.message, it.publicKey)))).toEqual(crowd.map((it) => it.expected));
    expect(pool.stats.inline).toBe(2);
    expect(pool.stats.chunks).toBeGreaterThanOrEqual(1);
  });

  it('sends the items asked for in one turn of the event loop in one chunk, however many separate callbacks asked', async () => {
    const pool = newPool(1);
    const warm = items(30);
    await Promise.all(warm.map((it) => pool.verify(it.signature, it.message, it.publicKey)));
    await expect.poll(() => (pool as unknown as { workers: Array<{ ready: boolean }> }).workers[0]?.ready).toBe(true);
    const chunksBefore = pool.stats.chunks;
    // Fifteen callbacks of one turn, as fifteen requests read in one poll of the sockets: each
    // asks for two verifications, and the microtasks between them run (each request's own awaits).
    const asked = items(30);
    const answers: Array<Promise<boolean>> = [];
    for (let r = 0; r < 15; r++) {
      for (const it of asked.slice(r * 2, r * 2 + 2)) answers.push(pool.verify(it.signature, it.message, it.publicKey));
      await Promise.resolve();
    }
    expect(await Promise.all(answers)).toEqual(asked.map((it) => it.expected));
    expect(pool.stats.chunks - chunksBefore).toBe(1);
  });

  it('sends lone items to the workers too once many arrive in a short time (the main thread is not turned into the verifier)', async () => {
    const pool = newPool(1);
    const all = items(60).filter((it) => it.expected);
    // One at a time, each awaited: every dispatch holds one item and finds the workers idle. The
    // items that come while the worker starts are verified here; once it is ready, it gets them.
    let sent = 0;
    const deadline = Date.now() + 10_000;
    while (pool.stats.chunks === 0 && Date.now() < deadline) {
      const it = all[sent++ % all.length]!;
      expect(await pool.verify(it.signature, it.message, it.publicKey)).toBe(true);
      if (pool.stats.inline + pool.stats.whileStarting === sent) await new Promise((resolve) => setImmediate(resolve));
    }
    expect(pool.stats.inline).toBeLessThan(sent);
    expect(pool.stats.chunks).toBeGreaterThan(0);
  });

  it('does not hold a load for the workers\' start-up: it is verified here until a worker says it is ready, then goes to the workers', async () => {
    const pool = newPool(1);
    const crowd = items(120);
    const results = await Promise.all(crowd.map((it) => pool.verify(it.signature, it.message, it.publicKey)));
    expect(results).toEqual(crowd.map((it) => it.expected));
    // Answered while the worker was still starting (a thread's start-up takes far longer than 120
    // verifications), and in slices of 50 with I/O between them.
    const workers = (pool as unknown as { workers: Array<{ ready: boolean }> }).workers;
    expect(workers.map((w) => w.ready)).toEqual([false]);
    expect(pool.stats).toMatchObject({ whileStarting: 120, chunks: 0 });
    await expect.poll(() => workers[0]?.ready).toBe(true);
    const next = items(90);
    expect(await Promise.all(next.map((it) => pool.verify(it.signature, it.message, it.publicKey)))).toEqual(next.map((it) => it.expected));
    expect(pool.stats.whileStarting).toBe(120);
    expect(pool.stats.chunks).toBeGreaterThanOrEqual(2);
  });

  it('verifies a trickle inline without starting a worker (an idle node keeps none)', async () => {
    const pool = newPool(2);
    for (const it of items(12)) {
      expect(await pool.verify(it.signature, it.message, it.publicKey)).toBe(it.expected);
      await sleep(15); // an event now and then
    }
    expect(pool.size).toBe(0);
    expect(pool.starts).toBe(0);
  });

  it('verifies a chat\'s rate here without starting a worker: small batches, a few requests read together now and then', async () => {
    const pool = newPool(1);
    const all = items(40);
    // 200 messages/s for 2 s: a request's signature and its event every 5 ms, and every tenth
    // time three requests read in one turn (six items).
    for (let tick = 0; tick < 400; tick++) {
      const batch = all.slice(tick % 30, (tick % 30) + (tick % 10 === 9 ? 6 : 2));
      expect(await Promise.all(batch.map((it) => pool.verify(it.signature, it.message, it.publicKey)))).toEqual(batch.map((it) => it.expected));
      await sleep(5);
    }
    expect(pool.starts).toBe(0);
    expect(pool.stats.chunks).toBe(0);
    // A batch larger than a chat's (a catch-up) starts the workers at once.
    expect(await Promise.all(all.map((it) => pool.verify(it.signature, it.message, it.publicKey)))).toEqual(all.map((it) => it.expected));
    expect(pool.starts).toBe(1);
  });

  it('sends a few long messages to the workers: the budget counts what hashing them costs, not how many they are', async () => {
    const pool = newPool(1);
    const long = Array.from({ length: 3 }, (_, i) => {
      const message = Buffer.alloc(64 * 1024, i + 1);
      return { message, signature: sign(message, pair.secretKey) };
    });
    expect(await Promise.all(long.map((it) => pool.verify(it.signature, it.message, pair.publicKey)))).toEqual([true, true, true]);
    expect(pool.starts).toBe(1);
    expect(pool.stats.inline).toBe(0);
  });

  it('lets its workers stop after a catch-up when only a chat\'s rate follows (that is not counted as their use)', async () => {
    const pool = newPool(1, { idleStopMs: 1000 });
    const catchUp = items(200);
    const check = async () => expect(await Promise.all(catchUp.map((it) => pool.verify(it.signature, it.message, it.publicKey)))).toEqual(catchUp.map((it) => it.expected));
    await check(); // starts the worker (verified here meanwhile)
    await expect.poll(() => (pool as unknown as { workers: Array<{ ready: boolean }> }).workers[0]?.ready).toBe(true);
    await check(); // the catch-up, by the worker
    const chunks = pool.stats.chunks;
    expect(chunks).toBeGreaterThan(0);
    const chat = items(6);
    for (let tick = 0; tick < 600 && pool.size > 0; tick++) {
      const batch = chat.slice(0, tick % 10 === 9 ? 6 : 2);
      expect(await Promise.all(batch.map((it) => pool.verify(it.signature, it.message, it.publicKey)))).toEqual(batch.map((it) => it.expected));
      await sleep(5);
    }
    expect(pool.size).toBe(0);
    expect(pool.starts).toBe(1);
    // From then on a chat's rate is verified here.
    const inline = pool.stats.inline;
    for (const it of chat) expect(await pool.verify(it.signature, it.message, it.publicKey)).toBe(it.expected);
    expect(pool.stats.inline).toBe(inline + chat.length);
    expect(pool.starts).toBe(1);
  });

  it('starts its workers for a sustained rate of small batches above a chat\'s', async () => {
    const pool = newPool(1);
    const all = items(8);
    // Eight items per turn, turn after turn (~a thousand messages a second and more).
    for (let turn = 0; turn < 200 && pool.starts === 0; turn++) {
      expect(await Promise.all(all.map((it) => pool.verify(it.signature, it.message, it.publicKey)))).toEqual(all.map((it) => it.expected));
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(pool.starts).toBe(1);
  });

  it('stops its workers when idle and starts them again on the next load, answering correctly after the restart', async () => {
    const pool = newPool(2, { idleStopMs: 50 });
    const all = items(600);
    const check = async () => expect(await Promise.all(all.map((it) => pool.verify(it.signature, it.message, it.publicKey)))).toEqual(all.map((it) => it.expected));
    await check();
    expect(pool.size).toBe(2);
    expect(pool.starts).toBe(1);
    const stopped = async () => {
      for (let i = 0; i < 200 && pool.size > 0; i++) await sleep(25);
      return pool.size;
    };
    expect(await stopped()).toBe(0);
    // The next load starts them again, and they answer each item correctly.
    await check();
    expect(pool.starts).toBe(2);
    expect(pool.size).toBe(2);
    expect(await stopped()).toBe(0);
    // A trickle after that is verified inline, with no worker started.
    for (const it of all.slice(0, 6)) {
      expect(await pool.verify(it.signature, it.message, it.publicKey)).toBe(it.expected);
      await sleep(15);
    }
    expect(pool.starts).toBe(2);
  });

  it('keeps its workers while they are busy, however long that takes', async () => {
    const pool = newPool(1, { idleStopMs: 1 });
    const all = items(3000);
    expect(await Promise.all(all.map((it) => pool.verify(it.signature, it.message, it.publicKey)))).toEqual(all.map((it) => it.expected));
    expect(pool.starts).toBe(1);
  });
});

describe('VerifyPool.sign (a client batch signed off the main thread)', () => {
  const key = { keyId: 'ed25519:k1', secretKey: pair.secretKey };
  const otherKey = { keyId: 'ed25519:k2', secretKey: other.secretKey };
  const messages = (count: number, tag: string) => Array.from({ length: count }, (_, i) => Buffer.from(`${tag} ${i} ${'y'.repeat(i % 300)}`));
  const sha256 = (m: Buffer) => createHash('sha256').update(m).digest();

  for (const size of [0, 1, 2]) {
    it(`signs each message with the key it names and hashes it, mixed with verifications (${size} workers)`, async () => {
      const pool = newPool(size, { idleStopMs: 60_000 }); // (not stopped while it waits for the workers' start-up below)
      const first = messages(120, 'a');
      const second = messages(70, 'b');
      const checks = items(90);
      const [signedA, verified, signedB] = await Promise.all([
        pool.sign(key, first),
        Promise.all(checks.map((it) => pool.verify(it.signature, it.message, it.publicKey))),
        pool.sign(otherKey, second),
      ]);
      expect(verified).toEqual(checks.map((it) => it.expected));
      // The signatures are ed25519's (deterministic): the same bytes as signing here.
      expect(signedA.map((s) => Buffer.from(s.signature).toString('hex'))).toEqual(first.map((m) => sign(m, pair.secretKey).toString('hex')));
      expect(signedB.map((s) => Buffer.from(s.signature).toString('hex'))).toEqual(second.map((m) => sign(m, other.secretKey).toString('hex')));
      expect(signedA.map((s) => Buffer.from(s.hash).toString('hex'))).toEqual(first.map((m) => sha256(m).toString('hex')));
      expect(signedB.every((s, i) => verify(s.signature, second[i]!, other.publicKey))).toBe(true);
      // A worker that already holds the key signs again with it (the key is sent once per worker).
      // The workers' start-up (until then the pool signs here): waited for, not timed (a loaded machine takes seconds).
      await vi.waitFor(() => expect(pool.readyWorkers).toBe(size), { timeout: 20_000, interval: 20 });
      const chunksBefore = pool.stats.chunks;
      const again = await pool.sign(key, messages(60, 'c'));
      expect(again.every((s, i) => verify(s.signature, messages(60, 'c')[i]!, pair.publicKey))).toBe(true);
      // With workers (loaded by now) the batch went to them.
      expect(pool.stats.chunks > chunksBefore).toBe(size > 0);
    });
  }

  it('signs while the workers start, and after they were stopped when idle', async () => {
    const pool = newPool(1, { idleStopMs: 50 });
    const batch = messages(200, 'd');
    const signed = await pool.sign(key, batch);
    expect(signed.every((s, i) => verify(s.signature, batch[i]!, pair.publicKey))).toBe(true);
    await vi.waitFor(() => expect(pool.size).toBe(0), { timeout: 10_000, interval: 20 });
    const later = await pool.sign(key, batch);
    expect(later.map((s) => Buffer.from(s.signature).toString('hex'))).toEqual(signed.map((s) => Buffer.from(s.signature).toString('hex')));
  });
});
