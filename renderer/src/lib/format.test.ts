import { describe, expect, it } from 'vitest';
import { ago } from './format.ts';

describe('ago', () => {
  it('says how long ago, in words a person reads at a glance', () => {
    const now = Date.now();
    expect(ago(null)).toBe('never');
    expect(ago(now - 1_000)).toBe('just now');
    expect(ago(now - 30_000)).toBe('30 s ago');
    expect(ago(now - 5 * 60_000)).toBe('5 min ago');
    expect(ago(now - 3 * 3600_000)).toBe('3 h ago');
    expect(ago(now - 2 * 86_400_000)).toBe('2 days ago');
  });
});
