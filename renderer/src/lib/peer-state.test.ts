import { describe, expect, it } from 'vitest';
import { ONLINE_WINDOW_MS, peerLine } from './peer-state.ts';

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

  it('says online when nothing waits and it was heard from recently, and blocked when blocked', () => {
    const now = Date.now();
    expect(peerLine({ trust: 'allow', last_seen_at: now - 30_000 }, [], now)).toMatchObject({ state: 'online', text: 'Online · seen 30 s ago' });
    expect(peerLine({ trust: 'allow', last_seen_at: now - ONLINE_WINDOW_MS }, [], now).state).toBe('online');
    expect(peerLine({ trust: 'block', last_seen_at: null }, [], now).state).toBe('blocked');
    expect(peerLine({ trust: 'allow', last_seen_at: now }, [{ attempts: 0, created_at: now, next_attempt_at: 0, last_error: null }], now)).toMatchObject({ state: 'sending', text: 'Sending 1 message…' });
  });

  it('does not call a quiet friend online: nothing waits, not heard from for a while → "last seen …"', () => {
    const now = Date.now();
    const quiet = peerLine({ trust: 'allow', last_seen_at: now - 3 * 86_400_000 }, [], now);
    expect(quiet).toMatchObject({ state: 'idle', text: 'Last seen 3 days ago — nothing waiting to be sent' });
    expect(quiet.text).not.toMatch(/online/i);
    expect(peerLine({ trust: 'allow', last_seen_at: now - ONLINE_WINDOW_MS - 1_000 }, [], now).state).toBe('idle');
    expect(peerLine({ trust: 'allow', last_seen_at: null }, [], now)).toMatchObject({ state: 'unknown', text: 'Not heard from yet' });
    // A failed attempt says more than silence: offline, even when it was seen a moment ago.
    const failing = [{ attempts: 1, created_at: now - 5_000, next_attempt_at: now + 30_000, last_error: 'connect ECONNREFUSED 127.0.0.1:9' }];
    expect(peerLine({ trust: 'allow', last_seen_at: now - 1_000 }, failing, now).state).toBe('offline');
  });

  it('says a friend that receives by pull has messages waiting to be pulled, not that it is offline', () => {
    const now = Date.now();
    const queue = [{ attempts: 4, created_at: now - 60_000, next_attempt_at: now + 1_000, last_error: 'connect ECONNREFUSED 127.0.0.1:9' }];
    const pulled = { trust: 'allow', last_seen_at: now, delivery: { mode: 'pull' as const, last_pull_at: now - 5_000 } };
    expect(peerLine(pulled, queue, now)).toMatchObject({ state: 'sending', text: 'Receives by pull — 1 message waiting to be pulled (last fetched 5 s ago)' });
    expect(peerLine(pulled, [], now)).toMatchObject({ state: 'online', text: 'Receives by pull — nothing waiting (last fetched 5 s ago)' });
    const longAgo = { ...pulled, delivery: { mode: 'pull' as const, last_pull_at: now - 2 * 3600_000 } };
    expect(peerLine(longAgo, [], now)).toMatchObject({ state: 'idle', text: 'Receives by pull — nothing waiting (last fetched 2 h ago)' });
  });

  it('says a paced peer (its push limit) is sending slowly, not offline', () => {
    const now = Date.now();
    const paced = { trust: 'allow', last_seen_at: now, delivery: { mode: 'push' as const, last_pull_at: null, paced: true } };
    const queue = [{ attempts: 0, created_at: now - 60_000, next_attempt_at: 0, last_error: 'HTTP 429: paced, the peer takes at most its limit per minute; next attempt in 20 s' }];
    expect(peerLine(paced, queue, now)).toMatchObject({ state: 'sending', text: 'Paced — 1 message waiting: this server takes only so many a minute' });
  });
});
