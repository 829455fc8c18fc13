import { describe, expect, it } from 'vitest';
import { ago, fromNow, plural } from './format.ts';

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

describe('fromNow and plural', () => {
  it('says when something happens next', () => {
    const now = 1_000_000;
    expect(fromNow(now + 40_000, now)).toBe('in 40 s');
    expect(fromNow(now + 5 * 60_000, now)).toBe('in 5 min');
    expect(fromNow(now - 5, now)).toBe('now');
    expect(plural(1, 'message')).toBe('1 message');
    expect(plural(12, 'message')).toBe('12 messages');
  });
});
