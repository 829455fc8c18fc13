/**
 * What a peer's waiting rows say of its delivery (`Outbox.pendingSummary`): the node computes the
 * peer's "offline since / next try / last error" and the UI only words it (issue #35 item 3).
 */
import { beforeEach, describe, expect, it } from '../../../test/helpers/fixtures.ts';
import type { Db } from '../store/database.ts';
import { Outbox, WAITING_BY_KIND_MAX, type OutboxRow } from './outbox.ts';
import { FederationEvents } from '../store/federation-events.ts';

let db: Db;
beforeEach(({ tempDb }) => {
  db = tempDb.db;
});

function outbox(): Outbox {
  return new Outbox(db);
}

const queue = (o: Outbox, destination: string, eventId: string, at: number): OutboxRow => o.enqueue(destination, eventId, '!room:alpha.test', at)!;

describe('a destination\'s waiting rows in short', () => {
  it('says nothing waits for a destination without rows', () => {
    expect(outbox().pendingSummary('beta.test')).toEqual({ waiting: 0, retrying_since: null, next_attempt_at: null, last_error: null });
  });

  it('counts what waits and is not retried yet (no attempt): sending, not offline', () => {
    const o = outbox();
    queue(o, 'beta.test', '$a', 1_000);
    queue(o, 'beta.test', '$b', 2_000);
    queue(o, 'gamma.test', '$c', 3_000);
    expect(o.pendingSummary('beta.test')).toEqual({ waiting: 2, retrying_since: null, next_attempt_at: 0, last_error: null });
  });

  it('retried since the oldest tried row was queued, the next attempt of its oldest row (the destination is tried when its head is due), the error of the oldest tried row', () => {
    const o = outbox();
    const a = queue(o, 'beta.test', '$a', 1_000);
    const b = queue(o, 'beta.test', '$b', 2_000);
    queue(o, 'beta.test', '$c', 3_000);
    o.settle('beta.test', [
      { row: a, outcome: { kind: 'retry', status: null, error: 'connect ECONNREFUSED 127.0.0.1:9', nextAttemptAt: 50_000 } },
      { row: b, outcome: { kind: 'retry', status: 503, error: 'HTTP 503', nextAttemptAt: 40_000 } },
    ], 5, 10_000);
    // $c was never tried (its own next attempt 0), but it waits behind $a: the destination is
    // tried again at $a's next attempt, not now (nor at $b's, sooner).
    expect(o.pendingSummary('beta.test')).toEqual({ waiting: 3, retrying_since: 1_000, next_attempt_at: 50_000, last_error: 'connect ECONNREFUSED 127.0.0.1:9' });
  });

  it('does not count a paced row as retried (its attempts stay as they were), nor failed rows as waiting', () => {
    const o = outbox();
    const a = queue(o, 'beta.test', '$a', 1_000);
    const b = queue(o, 'beta.test', '$b', 2_000);
    o.settle('beta.test', [
      { row: a, outcome: { kind: 'paced', status: 429, error: 'HTTP 429: paced' } },
      { row: b, outcome: { kind: 'failed', status: 403, error: 'HTTP 403: refused' } },
    ], 5, 10_000);
    expect(o.pendingSummary('beta.test')).toEqual({ waiting: 1, retrying_since: null, next_attempt_at: 0, last_error: null });
  });

  it('tells the messages among what waits from changes (edits, reactions), up to WAITING_BY_KIND_MAX (500) waiting', () => {
    const o = outbox();
    const events = new FederationEvents(db);
    const store = (id: string, type: string) => events.insert({ event_id: id, room_id: '!room:alpha.test', event_type: type, sender: '@owner:alpha.test', origin_server: 'alpha.test', origin_ts: 1, depth: 1, state_key: null, content: type === 'm.message' ? { body: 'hi', format: 'plain' } : { target: '$m1', key: '👍' }, signatures: {} }, `hash-${id}`, 'alpha.test');
    store('$m1', 'm.message');
    store('$m2', 'm.message');
    store('$r1', 'm.reaction.add');
    for (const id of ['$m1', '$m2', '$r1']) queue(o, 'beta.test', id, 1_000);
    queue(o, 'gamma.test', '$m1', 1_000);
    expect(o.waitingMessages('beta.test', 3)).toBe(2);
    expect(o.waitingMessages('gamma.test', 1)).toBe(1);
    expect(o.waitingMessages('delta.test', 0)).toBe(0);
    // Over the bound they are not told apart (each would be read).
    expect(o.waitingMessages('beta.test', WAITING_BY_KIND_MAX + 1)).toBeNull();
  });
});
