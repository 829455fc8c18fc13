/**
 * Expiry of waiting entries (a helper's audit, 2026-11-28): an entry untouched since the node
 * started (it waited while the node was off or paused) is tried once before it can expire, and
 * an expiry is told like an attempt's outcome (onSettled: an open room showed "next try in …").
 */
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { Outbox } from './outbox.ts';

describe('Outbox expiry', () => {
  it('expires only entries touched in this run, and tells which', ({ tempDb }) => {
    const told: string[] = [];
    const outbox = new Outbox(tempDb.db, { onSettled: (rows) => told.push(...rows.map((r) => r.event_id)) });
    const now = Date.now();
    // Queued ten seconds before this outbox was made (a previous run): past a 5 s age, never tried since.
    const old = outbox.enqueue('beta.test', '$before', '!r:alpha.test', now - 10_000)!;
    expect(outbox.expireOlderThan(5_000, now).count).toBe(0);
    expect(outbox.get(old.id)!.state).toBe('pending');
    // Tried once (it failed): now it may expire, and its screens are told.
    outbox.settle('beta.test', [{ row: old, outcome: { kind: 'retry', status: null, error: 'connection refused', nextAttemptAt: now + 1_000 } }], 1, now);
    told.length = 0;
    const expired = outbox.expireOlderThan(5_000, now + 1);
    expect([expired.count, [...expired.ids], expired.destinations]).toEqual([1, [old.id], ['beta.test']]);
    expect(outbox.get(old.id)!.state).toBe('expired');
    expect(told).toEqual(['$before']);
  });

  it('once its destination was tried in this run, all its old entries may expire at once, not one per attempt (a review, 2026-11-28)', ({ tempDb }) => {
    const outbox = new Outbox(tempDb.db);
    const now = Date.now();
    const rows = ['$a', '$b', '$c'].map((id) => outbox.enqueue('gone.test', id, '!r:alpha.test', now - 10_000)!);
    const other = outbox.enqueue('elsewhere.test', '$d', '!r:alpha.test', now - 10_000)!;
    outbox.settle('gone.test', [{ row: rows[0]!, outcome: { kind: 'retry', status: null, error: 'connection refused', nextAttemptAt: now + 1_000 } }], 1, now);
    expect(outbox.expireOlderThan(5_000, now + 1).count).toBe(3);
    // Another destination not tried yet keeps its old entry until it is.
    expect(outbox.get(other.id)!.state).toBe('pending');
  });
});
