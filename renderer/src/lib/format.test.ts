import { describe, expect, it } from 'vitest';
import { ago, clock, fromNow, plural, when } from './format.ts';

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
    expect(fromNow(now + 86_400_000, now)).toBe('in 1 day');
    expect(fromNow(now + 3_580_000, now)).toBe('in 1 h');
    expect(fromNow(now + 3_560_000, now)).toBe('in 59 min');
    expect(ago(now - 85_000_000, now)).toBe('1 day ago');
    expect(ago(now - 84_000_000, now)).toBe('23 h ago');
    expect(fromNow(now + 3 * 86_400_000, now)).toBe('in 3 days');
    expect(ago(now - 30 * 3600_000, now)).toBe('1 day ago');
    expect(ago(now - 50 * 3600_000, now)).toBe('2 days ago');
    expect(plural(1, 'message')).toBe('1 message');
    expect(plural(12, 'message')).toBe('12 messages');
  });
});

describe('clock and when', () => {
  it('say what the locale functions say: the time today, the weekday this week, the date before', () => {
    const now = new Date(2026, 10, 23, 18, 30).getTime();
    const t = (d: Date) => d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const today = new Date(2026, 10, 23, 9, 5);
    expect(clock(today.getTime(), now)).toBe(t(today));
    const monday = new Date(2026, 10, 20, 23, 59);
    expect(clock(monday.getTime(), now)).toBe(`${monday.toLocaleDateString([], { weekday: 'short' })} ${t(monday)}`);
    const before = new Date(2026, 0, 2, 7, 0);
    expect(clock(before.getTime(), now)).toBe(`${before.toLocaleDateString([], { day: 'numeric', month: 'short' })} ${t(before)}`);
    // Yesterday late evening is not "today", whatever the hours between.
    const lateYesterday = new Date(2026, 10, 22, 23, 50);
    expect(clock(lateYesterday.getTime(), now)).not.toBe(t(lateYesterday));
    expect(when(before.getTime())).toBe(before.toLocaleString());
  });
});
