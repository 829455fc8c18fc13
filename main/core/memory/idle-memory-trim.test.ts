import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { IdleMemoryTrim, memoryReducingCollector } from './idle-memory-trim.ts';

const log = pino({ level: 'silent' });

describe('IdleMemoryTrim', () => {
  it('collects after a busy spell once a period is quiet, and not again until the next busy one', () => {
    const readings = [0.5, 0.2, 0.001, 0.001, 0.001, 0.3, 0.002, 0.0];
    const pending = [...readings];
    let collected = 0;
    const trim = new IdleMemoryTrim({ log, utilization: () => pending.shift()!, collect: () => collected++ });
    const trimsAfterEach = readings.map(() => {
      trim.check();
      return collected;
    });
    // Busy, busy, quiet → collect; quiet, quiet → nothing new; busy; quiet → collect; quiet.
    expect(trimsAfterEach).toEqual([0, 0, 1, 1, 1, 1, 2, 2]);
  });

  it('counts a period with work (commits) as busy even when the event loop was mostly idle', () => {
    const commits = [0, 5, 5, 9, 9, 9];
    const pending = [...commits];
    let collected = 0;
    const trim = new IdleMemoryTrim({ log, utilization: () => 0.01, activity: () => pending[0]!, collect: () => collected++ });
    const after = commits.slice(1).map(() => {
      pending.shift();
      trim.check();
      return collected;
    });
    // moved, still → collect; moved; still → collect; still.
    expect(after).toEqual([0, 1, 1, 2, 2]);
  });

  it('reaches the real collector, and it shrinks a heap full of garbage', () => {
    const collect = memoryReducingCollector();
    expect(collect).toBeTypeOf('function');
    const makeGarbage = () => Array.from({ length: 200_000 }, (_, i) => ({ i, s: `garbage ${i}` })).length;
    expect(makeGarbage()).toBe(200_000);
    const before = process.memoryUsage().heapUsed;
    collect!();
    expect(process.memoryUsage().heapUsed).toBeLessThan(before);
    // The flag was set only for that one context.
    expect((globalThis as { gc?: unknown }).gc).toBeUndefined();
  });
});
