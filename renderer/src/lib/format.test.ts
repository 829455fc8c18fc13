import { describe, expect, it } from 'vitest';
import { ago, fromNow, plural } from './format.ts';
import { peerLine } from './peer-state.ts';

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

describe('peerLine', () => {
  it('calls an offline peer offline, in words, with what waits and when the next try is', () => {
    const now = new Date(2026, 0, 5, 14, 30).getTime();
    const since = new Date(2026, 0, 5, 14, 2).getTime();
    const queue = Array.from({ length: 12 }, (_, i) => ({ attempts: 3, created_at: since + i, next_attempt_at: now + 40_000, last_error: 'connect ECONNREFUSED 127.0.0.1:9' }));
    const line = peerLine({ trust: 'allow', last_seen_at: since - 1000 }, queue, now);
    expect(line.state).toBe('offline');
    expect(line.text).toMatch(/^Offline since \d\d:\d\d( [AP]M)? — 12 messages waiting, next try in 40 s$/);
    expect(line.cause.text).toBe('Their server is offline (it refused the connection).');
    expect(line.cause.details).toContain('ECONNREFUSED');
  });

  it('says online when nothing waits, and blocked when blocked', () => {
    const now = Date.now();
    expect(peerLine({ trust: 'allow', last_seen_at: now - 30_000 }, [], now)).toMatchObject({ state: 'online', text: 'Online · seen 30 s ago' });
    expect(peerLine({ trust: 'block', last_seen_at: null }, [], now).state).toBe('blocked');
    expect(peerLine({ trust: 'allow', last_seen_at: now }, [{ attempts: 0, created_at: now, next_attempt_at: 0, last_error: null }], now)).toMatchObject({ state: 'sending', text: 'Sending 1 message…' });
  });

  it('says a friend that receives by pull has messages waiting to be pulled, not that it is offline', () => {
    const now = Date.now();
    const queue = [{ attempts: 4, created_at: now - 60_000, next_attempt_at: now + 1_000, last_error: 'connect ECONNREFUSED 127.0.0.1:9' }];
    const pulled = { trust: 'allow', last_seen_at: now, delivery: { mode: 'pull' as const, last_pull_at: now - 5_000 } };
    expect(peerLine(pulled, queue, now)).toMatchObject({ state: 'sending', text: 'Receives by pull — 1 message waiting to be pulled (last fetched 5 s ago)' });
    expect(peerLine(pulled, [], now)).toMatchObject({ state: 'online', text: 'Receives by pull — nothing waiting (last fetched 5 s ago)' });
  });

  it('says a paced peer (its push limit) is sending slowly, not offline', () => {
    const now = Date.now();
    const paced = { trust: 'allow', last_seen_at: now, delivery: { mode: 'push' as const, last_pull_at: null, paced: true } };
    const queue = [{ attempts: 0, created_at: now - 60_000, next_attempt_at: 0, last_error: 'HTTP 429: paced, the peer takes at most its limit per minute; next attempt in 20 s' }];
    expect(peerLine(paced, queue, now)).toMatchObject({ state: 'sending', text: 'Paced — 1 message waiting: this server takes only so many a minute' });
  });
});
