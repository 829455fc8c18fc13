import { describe, expect, it } from 'vitest';
import { wholeNumber } from './whole-number.ts';

describe('a whole number from a query, a path or a body', () => {
  const limit = wholeNumber(1, 500).default(50);
  it('takes digits and JSON numbers within bounds, and the default when absent', () => {
    expect(limit.parse('1')).toBe(1);
    expect(limit.parse('500')).toBe(500);
    expect(limit.parse(42)).toBe(42);
    expect(limit.parse(undefined)).toBe(50);
  });
  it('refuses every other spelling and type (what z.coerce.number() took)', () => {
    for (const bad of ['0x10', '1e2', ' 5', '5 ', '+5', '-1', '05', '5.0', '', 'Infinity', true, [5], null, {}, 5.5, 0, 501, '501', '0']) {
      expect(limit.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});
