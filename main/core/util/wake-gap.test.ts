import { describe, expect, it } from 'vitest';
import { WakeGap } from './wake-gap.ts';

describe('WakeGap', () => {
  it('takes the first wake at once, makes one asked for within the gap due at its end, and starts the next gap when it is taken', () => {
    const gap = new WakeGap(10_000);
    expect(gap.due).toBe(false);
    expect(gap.dueIn(1_000)).toBe(Infinity);
    expect(gap.take(1_000)).toBe(0);
    // Within the gap: not taken, due when it ends; asking again changes nothing.
    expect(gap.take(4_000)).toBe(7_000);
    expect(gap.take(6_000)).toBe(5_000);
    expect(gap.due).toBe(true);
    expect(gap.dueIn(6_000)).toBe(5_000);
    expect(gap.dueIn(12_000)).toBe(0);
    // A due wake's timer fired (early by a little): taken then, the next gap starts there.
    gap.taken(10_999);
    expect(gap.due).toBe(false);
    expect(gap.take(15_000)).toBe(5_999);
    gap.cancel();
    expect(gap.due).toBe(false);
    expect(gap.dueIn(15_000)).toBe(Infinity);
    expect(gap.take(21_000)).toBe(0);
  });
});
