import { describe, expect, it } from 'vitest';
import { SendOrder } from './send-order.ts';

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('SendOrder', () => {
  it('queues a send with nothing waiting at once, in the same turn of the event loop', () => {
    const order = new SendOrder();
    const submitted: string[] = [];
    void order.run('!r', () => 1, async () => void submitted.push('lone'));
    expect(submitted).toEqual(['lone']);
    expect(order.waiting).toBe(0);
  });

  it('a later send waits until every earlier send of the room is queued, even when it is ready first', async () => {
    const order = new SendOrder();
    const submitted: string[] = [];
    const prepared: string[] = [];
    const signing = deferred<string>();
    const batch = order.run('!r', () => (prepared.push('batch'), signing.promise), async (p) => void submitted.push(p));
    const lone = order.run('!r', () => void prepared.push('lone'), async () => void submitted.push('lone'));
    const other = order.run('!other', () => void prepared.push('other room'), async () => void submitted.push('other room'));
    // Every prepare ran on arrival, in order; the other room did not wait.
    expect(prepared).toEqual(['batch', 'lone', 'other room']);
    await other;
    expect(submitted).toEqual(['other room']);
    signing.resolve('batch');
    await Promise.all([batch, lone]);
    expect(submitted).toEqual(['other room', 'batch', 'lone']);
    expect(order.waiting).toBe(0);
  });

  it('a send whose prepare fails lets the ones after it go, and answers with its error', async () => {
    const order = new SendOrder();
    const submitted: string[] = [];
    const signing = deferred<string>();
    const failing = order.run('!r', () => signing.promise, async () => void submitted.push('never'));
    const after = order.run('!r', () => 1, async () => void submitted.push('after'));
    signing.reject(new Error('refused'));
    await expect(failing).rejects.toThrow('refused');
    await after;
    expect(submitted).toEqual(['after']);
    expect(order.waiting).toBe(0);
  });

  it('the next send goes once the earlier one is queued, not when its job ends', async () => {
    const order = new SendOrder();
    const job = deferred<void>();
    const submitted: string[] = [];
    const first = order.run('!r', () => Promise.resolve(1), () => (submitted.push('first'), job.promise));
    const second = order.run('!r', () => 2, async () => void submitted.push('second'));
    await second;
    expect(submitted).toEqual(['first', 'second']);
    job.resolve();
    await first;
  });
});
