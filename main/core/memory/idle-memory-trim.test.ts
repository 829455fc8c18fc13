import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IdleMemoryTrim, memoryReducingCollector } from './idle-memory-trim.ts';

const log = pino({ level: 'silent' });
const MB = 1024 * 1024;

afterEach(() => {
  vi.useRealTimers();
});

describe('IdleMemoryTrim', () => {
  it('collects after a busy spell that grew the process once a period is quiet, and not again until the next busy one', () => {
    const readings = [0.5, 0.2, 0.001, 0.001, 0.001, 0.3, 0.002, 0.0];
    const pending = [...readings];
    let collected = 0;
    // Each busy period grows the process by 20 MB; a collection gives it back.
    let resident = 100 * MB;
    const trim = new IdleMemoryTrim({
      log,
      utilization: () => {
        const share = pending.shift()!;
        if (share > 0.05) resident += 20 * MB;
        return share;
      },
      resident: () => resident,
      collect: () => {
        collected++;
        resident = 100 * MB;
      },
    });
    const trimsAfterEach = readings.map(() => {
      trim.check();
      return collected;
    });
    // Busy, busy, quiet → collect; quiet, quiet → nothing new; busy; quiet → collect; quiet.
    expect(trimsAfterEach).toEqual([0, 0, 1, 1, 1, 1, 2, 2]);
  });

  it('after a busy spell that did not grow the process, waits for ten quiet periods in a row', () => {
    let share = 0;
    let collected = 0;
    const trim = new IdleMemoryTrim({ log, utilization: () => share, resident: () => 100 * MB, collect: () => collected++ });
    trim.check(); // start-up: the first quiet period collects (the process grew from nothing)
    expect(collected).toBe(1);
    const quietThen = (periods: number) => {
      for (let i = 0; i < periods; i++) trim.check();
      return collected;
    };
    share = 0.3;
    trim.check(); // a message now and then
    share = 0;
    expect(quietThen(9)).toBe(1);
    share = 0.3;
    trim.check(); // another one before ten quiet periods: the count starts again
    share = 0;
    expect(quietThen(9)).toBe(1);
    expect(quietThen(1)).toBe(2);
    expect(quietThen(20)).toBe(2); // nothing happened since
  });

  it('gives the code pages back right after a burst, else only after a quiet idle look following the collection', () => {
    let share = 0;
    let resident = 100 * MB;
    let collected = 0;
    let released = 0;
    const trim = new IdleMemoryTrim({ log, utilization: () => share, resident: () => resident, collect: () => collected++, nativeTrim: null, releaseCleanPages: () => ++released });
    trim.check(); // start-up grew the process: collect and give the code back at once
    expect([collected, released]).toEqual([1, 1]);
    trim.check();
    expect(released).toBe(1); // nothing ran since: nothing to give back
    // A message now and then: the collection after ten quiet periods keeps the code mapped...
    share = 0.3;
    trim.check();
    share = 0;
    for (let i = 0; i < 10; i++) trim.check();
    expect([collected, released]).toEqual([2, 1]);
    // ...until the next look (30 s later) finds that whole period quiet too.
    trim.check();
    expect([collected, released]).toEqual([2, 2]);
    trim.check();
    expect(released).toBe(2);
    // Work between the collection and that look: the code stays, the next collection starts over.
    share = 0.3;
    trim.check();
    share = 0;
    for (let i = 0; i < 10; i++) trim.check();
    share = 0.3;
    trim.check();
    share = 0;
    expect([collected, released]).toEqual([3, 2]);
    // A burst that grew the process's own memory: collection and code at once.
    share = 0.9;
    resident += 200 * MB;
    trim.check();
    share = 0;
    trim.check();
    expect([collected, released]).toEqual([4, 3]);
  });

  it('counts a period with work (commits) as busy even when the event loop was mostly idle', () => {
    const commits = [0, 5, 5, 9, 9, 9];
    const pending = [...commits];
    let collected = 0;
    let resident = 0;
    // Every reading has grown (a busy exchange): each quiet period after work collects.
    const trim = new IdleMemoryTrim({ log, utilization: () => 0.01, activity: () => pending[0]!, resident: () => (resident += 20 * MB), collect: () => collected++ });
    const after = commits.slice(1).map(() => {
      pending.shift();
      trim.check();
      return collected;
    });
    // moved, still → collect; moved; still → collect; still.
    expect(after).toEqual([0, 1, 1, 2, 2]);
  });

  it('looks every period until memory is given back, then rarely (issue #36), and soon again once work happened', () => {
    vi.useFakeTimers();
    let work = 0;
    let looks = 0;
    let collected = 0;
    const trim = new IdleMemoryTrim({
      log,
      checkEveryMs: 1_000,
      idleCheckEveryMs: 30_000,
      activity: () => work,
      utilization: () => {
        looks++;
        return 0;
      },
      resident: () => 100 * MB,
      collect: () => collected++,
      nativeTrim: null,
    });
    trim.start();
    // Start-up counts as busy: a look a second until the collection (the first quiet one: the process grew).
    vi.advanceTimersByTime(10_000);
    expect(collected).toBe(1);
    const afterTrim = looks;
    // Then nothing happens: one look per 30 s, not 60 in a minute.
    vi.advanceTimersByTime(60_000);
    expect(looks - afterTrim).toBe(2);
    // Work done between two looks is seen at the next one: back to a look a second (ten quiet
    // ones before the next collection), where staying idle would have made one look.
    work++;
    const beforeWork = looks;
    vi.advanceTimersByTime(30_000);
    expect(looks - beforeWork).toBeGreaterThanOrEqual(5);
    const stoppedAt = looks;
    trim.stop();
    vi.advanceTimersByTime(120_000);
    expect(looks).toBe(stoppedAt);
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
