import { describe, expect, it } from 'vitest';
import type { PeerView, QueueEntry } from '../../shared/contract/admin-operations.ts';
import { LONG_FAILURE_MS, initialNotifyState, notificationsFor, waitingOf } from './notifications-model.ts';

const peer = (server_name: string, trust: PeerView['trust'] = 'allow'): PeerView => ({
  server_name, trust, endpoint: null, tls_fingerprint: null, reason: null, until_ms: null, rate_limit: null, added_at: 0, last_seen_at: null, keys: [],
});
const entry = (destination: string, created_at: number, attempts = 3): QueueEntry => ({
  id: created_at, destination, event_id: `$e${created_at}:x`, room_id: '!r:x', state: 'pending', attempts, next_attempt_at: 0, last_error: 'ECONNREFUSED', created_at, delivery: 'push', waiting: 'waiting to be sent to x again',
});

describe('desktop notifications', () => {
  it('announces a new peer once, not the ones known at start or blocked ones', () => {
    const state = initialNotifyState([peer('old.test')]);
    expect(notificationsFor(state, [peer('old.test'), peer('new.test'), peer('bad.test', 'block')], [])).toEqual([
      { title: 'New peer', body: 'You are now peered with new.test.' },
    ]);
    expect(notificationsFor(state, [peer('old.test'), peer('new.test')], [])).toEqual([]);
  });

  it('reads a peer\'s failing delivery from what listPeers says of it (no outbox rows)', () => {
    const now = Date.now();
    const failing: PeerView = { ...peer('dead.test'), delivery: { mode: 'push', last_pull_at: null, waiting: 2, paced: false, retrying_since: now - LONG_FAILURE_MS - 1, next_attempt_at: now + 1000, last_error: 'ECONNREFUSED', via_mailbox: null } };
    const sending: PeerView = { ...peer('busy.test'), delivery: { ...failing.delivery!, retrying_since: null, last_error: null } };
    expect(waitingOf([failing, sending, peer('quiet.test')])).toEqual([{ destination: 'dead.test', attempts: 1, created_at: now - LONG_FAILURE_MS - 1, last_error: 'ECONNREFUSED' }]);
    const state = initialNotifyState([failing, sending]);
    expect(notificationsFor(state, [failing, sending], waitingOf([failing, sending]), now)).toEqual([
      { title: 'dead.test is unreachable', body: 'Messages for dead.test have waited 1 h. They will be sent when it is back; the dashboard says why they wait.' },
    ]);
  });

  it('does not call a server the owner blocked or quarantined unreachable, nor promise its messages go when it is back: they are held', () => {
    const now = Date.now();
    const failing: PeerView = { ...peer('dead.test'), delivery: { mode: 'push', last_pull_at: null, waiting: 2, paced: false, retrying_since: now - LONG_FAILURE_MS - 1, next_attempt_at: now + 1000, last_error: 'ECONNREFUSED', via_mailbox: null } };
    const held = [{ ...failing, server_name: 'blocked.test', trust: 'block' as const }, { ...failing, server_name: 'held.test', trust: 'quarantine' as const }];
    expect(waitingOf(held)).toEqual([]);
    expect(notificationsFor(initialNotifyState(held), held, waitingOf(held), now)).toEqual([]);
  });

  it('never shows the raw error (a desktop notification has no "details"): the dashboard says why, in words', () => {
    const now = Date.now();
    const failing: PeerView = { ...peer('dead.test'), delivery: { mode: 'push', last_pull_at: null, waiting: 2, paced: false, retrying_since: now - LONG_FAILURE_MS - 1, next_attempt_at: now + 1000, last_error: 'ECONNREFUSED', via_mailbox: null } };
    const raw = { ...failing, delivery: { ...failing.delivery!, last_error: 'connect ECONNREFUSED 127.0.0.1:9' } };
    const [note] = notificationsFor(initialNotifyState([raw]), [raw], waitingOf([raw]), now);
    expect(note!.body).not.toMatch(/ECONNREFUSED|127\.0\.0\.1/);
    expect(note!.body).toContain('the dashboard says why');
  });

  it('warns once about a peer failing for an hour, and again only after it recovered and failed again', () => {
    const now = Date.now();
    const state = initialNotifyState([]);
    expect(notificationsFor(state, [], [entry('slow.test', now - 10 * 60_000)], now)).toEqual([]);
    const warned = notificationsFor(state, [], [entry('dead.test', now - LONG_FAILURE_MS - 1), entry('dead.test', now - 1000)], now);
    expect(warned).toHaveLength(1);
    expect(warned[0]!.title).toBe('dead.test is unreachable');
    expect(warned[0]!.body).not.toContain('ECONNREFUSED');
    expect(notificationsFor(state, [], [entry('dead.test', now - LONG_FAILURE_MS - 1)], now)).toEqual([]);
    expect(notificationsFor(state, [], [], now)).toEqual([]);
    expect(notificationsFor(state, [], [entry('dead.test', now - LONG_FAILURE_MS - 5)], now)).toHaveLength(1);
    // Entries never tried (attempts 0) are just waiting, not failing.
    expect(notificationsFor(initialNotifyState([]), [], [entry('quiet.test', now - 2 * LONG_FAILURE_MS, 0)], now)).toEqual([]);
  });
});
