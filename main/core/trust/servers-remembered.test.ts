/**
 * Per-server memories any server can add itself to by signing requests (under an open trust
 * policy, every server with a name and a key): bounded by MAX_SERVERS_REMEMBERED (a helper's
 * review, 2026-11-29: each grew by one entry per new name, without end). Real SQLite.
 */
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { Settings } from '../store/settings.ts';
import { MailboxStore, CLIENT_STALE_MS } from '../mailbox/mailbox-store.ts';
import { PullQueue, PULL_STALE_MS } from '../pull/pull-queue.ts';
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

  it('failures toward auto-quarantine stay bounded, and a server near its threshold is not evicted by throwaway names', () => {
    const quarantined: string[] = [];
    const policy = { ...DEFAULT_AUTO_QUARANTINE, signature_failures: 50 };
    const monitor = new AbuseMonitor(() => policy, (server) => quarantined.push(server));
    const now = 5_000_000;
    // 40 failures, then 20,000 names failing once each (the abuser's own throwaway names): it fails no more meanwhile.
    monitor.record('abuser.example', 'signature_failures', 40, now);
    for (const name of names(MAX_SERVERS_REMEMBERED * 2)) monitor.record(name, 'signature_failures', 1, now);
    expect(sizeOf(monitor, 'hits')).toBeLessThanOrEqual(MAX_SERVERS_REMEMBERED);
    expect(quarantined).toEqual([]);
    // Its 40 failures were kept: ten more reach the threshold.
    monitor.record('abuser.example', 'signature_failures', 10, now);
    expect(quarantined).toEqual(['abuser.example']);
  });

  it('pull receivers, mailbox clients and their statements: those that stopped go first, then no new one is kept', ({ tempDb }) => {
    const rows = (table: string) => (tempDb.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
    // The owner allowed one server (a peer row that says so): it is remembered past the bound.
    const ownerAllowed = (server: string) => server === 'allowed.friend.example';
    const pull = new PullQueue(tempDb.db, { ownerAllowed });
    const box = new MailboxStore(tempDb.db, { ownerAllowed });
    const t0 = 10_000_000_000;
    const first = names(MAX_SERVERS_REMEMBERED);
    // Filled in one transaction (a commit each would be an fsync each: seconds of test).
    tempDb.db.transaction(() => {
      for (const name of first) {
        pull.touch(name, t0);
        box.touch(name, t0);
        box.choose(name, `{"who":"${name}"}`, t0 + 1_000, t0);
      }
    })();
    // Full, all of them current: a new one is not kept (and the others are).
    pull.touch('new.evil.example', t0 + 10);
    box.touch('new.evil.example', t0 + 10);
    box.choose('new.evil.example', '{}', t0 + 1_000, t0 + 10);
    expect(pull.pulledRecently('new.evil.example', t0 + 10)).toBe(false);
    expect(box.isClient('new.evil.example', t0 + 10)).toBe(false);
    expect(box.choiceOf('new.evil.example', t0 + 10)).toBeNull();
    expect([rows('pull_receivers'), rows('mailbox_clients'), rows('mailbox_choices')]).toEqual([MAX_SERVERS_REMEMBERED, MAX_SERVERS_REMEMBERED, MAX_SERVERS_REMEMBERED]);
    expect(pull.pulledRecently(first[0]!, t0 + 10)).toBe(true);
    expect(box.isClient(first[0]!, t0 + 10)).toBe(true);
    // A new friend the owner allowed is not kept out by a stranger that keeps them full (note 77).
    pull.touch('allowed.friend.example', t0 + 20);
    box.touch('allowed.friend.example', t0 + 20);
    box.choose('allowed.friend.example', '{"who":"allowed"}', t0 + 1_000, t0 + 20);
    expect(pull.pulledRecently('allowed.friend.example', t0 + 20)).toBe(true);
    expect(box.isClient('allowed.friend.example', t0 + 20)).toBe(true);
    expect(box.choiceOf('allowed.friend.example', t0 + 20)).toBe('{"who":"allowed"}');
    // One that still pulls and fetches keeps its place; once the rest stopped, a new one takes one of theirs.
    const later = t0 + Math.max(PULL_STALE_MS, CLIENT_STALE_MS) + 1;
    pull.touch(first[1]!, later - 1);
    box.touch(first[1]!, later - 1);
    pull.touch('friend.example', later);
    box.touch('friend.example', later);
    box.choose('friend.example', '{"who":"friend"}', later + 1_000, later);
    expect(pull.pulledRecently('friend.example', later)).toBe(true);
    expect(box.isClient('friend.example', later)).toBe(true);
    expect(box.choiceOf('friend.example', later)).toBe('{"who":"friend"}');
    expect(pull.pulledRecently(first[1]!, later)).toBe(true);
    expect(box.isClient(first[1]!, later)).toBe(true);
    // The allowed friend stopped pulling and its statement expired (gone with the others that had),
    // but it fetched within the week (a client still).
    expect(rows('pull_receivers')).toBe(2);
    expect(rows('mailbox_clients')).toBe(3);
    expect(rows('mailbox_choices')).toBe(1);
    // What is kept is what a restart reads.
    expect(new PullQueue(tempDb.db).pulledRecently('friend.example', later)).toBe(true);
    expect(new MailboxStore(tempDb.db).isClient('friend.example', later)).toBe(true);
  });
});
