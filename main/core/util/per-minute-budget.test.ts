import { describe, expect, it } from 'vitest';
import { PerMinuteBudget } from './per-minute-budget.ts';

describe('PerMinuteBudget', () => {
  it('gives each key at most its requests a minute, and them again once a minute has passed', () => {
    const budget = new PerMinuteBudget(() => 2);
    expect([budget.take('a', 0), budget.take('a', 10), budget.take('a', 20), budget.take('b', 20)]).toEqual([true, true, false, true]);
    // At 60,001 ms the one taken at 0 is over a minute old, the one at 10 ms is not: one more.
    expect([budget.take('a', 60_001), budget.take('a', 60_002)]).toEqual([true, false]);
    expect(budget.take('a', 60_011)).toBe(true);
  });

  it('forgets every key past maxKeys', () => {
    const budget = new PerMinuteBudget(() => 1, 2);
    expect([budget.take('a', 0), budget.take('b', 0), budget.take('c', 0), budget.take('a', 0)]).toEqual([true, true, true, true]);
  });
});
