import { describe, expect, it } from 'vitest';
import { serialLoads } from './serial-loads.ts';

/** A load the test ends by hand, recording what ran and whether two ever overlapped. */
function harness() {
  const runs: boolean[] = [];
  const ends: Array<() => void> = [];
  let active = 0;
  let overlapped = false;
  const load = serialLoads(async (full) => {
    runs.push(full);
    active++;
    if (active > 1) overlapped = true;
    await new Promise<void>((resolve) => ends.push(resolve));
    active--;
  });
  const endNext = async () => {
    ends.shift()!();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { load, runs, endNext, overlapped: () => overlapped };
}

describe('serialLoads', () => {
  it('runs one load at a time; those asked for meanwhile run once after it, whole if any asked for that', async () => {
    const h = harness();
    const first = h.load(false);
    const second = h.load(false);
    const third = h.load(true);
    expect(second).toBe(third);
    expect(h.runs).toEqual([false]);
    await h.endNext();
    await first;
    expect(h.runs).toEqual([false, true]);
    await h.endNext();
    await third;
    expect(h.overlapped()).toBe(false);
  });

  it("a caller's promise ends only after a load that started after its call", async () => {
    const h = harness();
    void h.load(true);
    let done = false;
    void h.load(false).then(() => (done = true));
    await h.endNext(); // the load that was running at the call
    expect(done).toBe(false);
    await h.endNext();
    expect(done).toBe(true);
    // Idle again: the next call starts at once.
    void h.load(false);
    expect(h.runs).toEqual([true, false, false]);
  });

  it('a failed load does not stop the ones queued behind it', async () => {
    const runs: boolean[] = [];
    const load = serialLoads(async (full) => {
      runs.push(full);
      if (runs.length === 1) throw new Error('no answer');
    });
    const failed = load(true);
    const after = load(false);
    await expect(failed).rejects.toThrow('no answer');
    await after;
    expect(runs).toEqual([true, false]);
  });
});

describe('serialLoads idle', () => {
  it('resolves at once when nothing runs, and otherwise only after the load running and the one waiting behind it', async () => {
    const h = harness();
    let idle = false;
    await h.load.idle();
    expect(h.runs).toEqual([]);
    void h.load(false);
    void h.load(true);
    void h.load.idle().then(() => (idle = true));
    await h.endNext();
    expect(idle).toBe(false);
    expect(h.runs).toEqual([false, true]);
    await h.endNext();
    expect(idle).toBe(true);
    // It started nothing of its own.
    expect(h.runs).toEqual([false, true]);
  });
});
