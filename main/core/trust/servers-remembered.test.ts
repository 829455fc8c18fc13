/**
 * Per-server memories any server can add itself to by signing requests (under an open trust
 * policy, every server with a name and a key): bounded by MAX_SERVERS_REMEMBERED (a helper's
 * review, 2026-11-29: each grew by one entry per new name, without end). Real SQLite.
 */
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { Settings } from '../store/settings.ts';
import { AbuseMonitor, DEFAULT_AUTO_QUARANTINE } from './abuse-monitor.ts';
import { MAX_SERVERS_REMEMBERED } from './servers-remembered.ts';
import { TrustStore } from './trust-store.ts';

const sizeOf = (owner: object, field: string) => ((owner as Record<string, unknown>)[field] as Map<string, unknown>).size;
const names = (n: number) => Array.from({ length: n }, (_, i) => `s${i}.evil.example`);

describe('what a node remembers per server that signed', () => {
  it('rate limits read and last-seen writes stay bounded however many names sign, and keep working', ({ tempDb }) => {
    const trust = new TrustStore(tempDb.db, new Settings(tempDb.db));
    const now = 1_000_000;
    for (const name of names(MAX_SERVERS_REMEMBERED * 2 + 5)) {
      trust.rateLimitFor(name, now);
      trust.markSeen(name, now);
    }
    expect(sizeOf(trust, 'rateCache')).toBeLessThanOrEqual(MAX_SERVERS_REMEMBERED);
    expect(sizeOf(trust, 'lastSeenWrites')).toBeLessThanOrEqual(MAX_SERVERS_REMEMBERED);
    // A friend's own limit is read as before.
    trust.upsert('friend.example', { rate_per_second: 3, rate_burst: 7 });
    expect(trust.rateLimitFor('friend.example', now)).toEqual({ per_second: 3, burst: 7 });
  });

  it('failures toward auto-quarantine stay bounded, and a server that goes on failing is still counted whole', () => {
    const quarantined: string[] = [];
    const policy = { ...DEFAULT_AUTO_QUARANTINE, signature_failures: 50 };
    const monitor = new AbuseMonitor(() => policy, (server) => quarantined.push(server));
    const now = 5_000_000;
    monitor.record('abuser.example', 'signature_failures', 20, now);
    for (const [i, name] of names(MAX_SERVERS_REMEMBERED * 2).entries()) {
      monitor.record(name, 'signature_failures', 1, now);
      // The abuser goes on failing meanwhile (20 more, not past its threshold yet).
      if (i % 1_000 === 999) monitor.record('abuser.example', 'signature_failures', 1, now);
    }
    expect(sizeOf(monitor, 'hits')).toBeLessThanOrEqual(MAX_SERVERS_REMEMBERED);
    expect(quarantined).toEqual([]);
    // Its 40 failures were kept: ten more reach the threshold.
    monitor.record('abuser.example', 'signature_failures', 10, now);
    expect(quarantined).toEqual(['abuser.example']);
  });
});
