/**
 * When a waiting message is tried next (`MessageDelivery.next_attempt_at`, worded "next try in …"
 * under it): a destination is tried when its oldest waiting row is due, so a message queued behind
 * one being retried says when that is, not "now" (the UI check of 2026-11-27: a second message to
 * an offline friend said only "Waiting for …", while the first said "next try in 40 s").
 */
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { Outbox } from '../outbox/outbox.ts';
import { messageDeliveries } from './message-delivery.ts';

describe('when a waiting message is tried next', () => {
  it('behind a retried message: at that message\'s next attempt; alone, or to a destination not retried: now (0)', ({ tempDb }) => {
    const outbox = new Outbox(tempDb.db);
    const first = outbox.enqueue('beta.test', '$first', '!r:alpha.test', 1_000)!;
    outbox.enqueue('beta.test', '$second', '!r:alpha.test', 2_000);
    outbox.enqueue('gamma.test', '$second', '!r:alpha.test', 2_000);
    outbox.enqueue('gamma.test', '$third', '!r:alpha.test', 3_000);
    outbox.settle('beta.test', [{ row: first, outcome: { kind: 'retry', status: null, error: 'connect ECONNREFUSED 127.0.0.1:9', nextAttemptAt: 40_000 } }], 5, 10_000);
    const deliveries = messageDeliveries(tempDb.db, ['$first', '$second', '$third']);
    expect(deliveries.get('$first')).toMatchObject({ state: 'waiting', pending_servers: ['beta.test'], next_attempt_at: 40_000 });
    // Its row for beta.test was never tried, but waits behind $first; gamma.test's is due now.
    expect(deliveries.get('$second')).toMatchObject({ state: 'waiting', pending_servers: ['beta.test', 'gamma.test'], next_attempt_at: 0 });
    expect(messageDeliveries(tempDb.db, ['$second'], (server) => server === 'gamma.test').get('$second')).toMatchObject({ held: ['gamma.test'], next_attempt_at: 40_000 });
    expect(deliveries.get('$third')).toMatchObject({ state: 'waiting', pending_servers: ['gamma.test'], next_attempt_at: 0 });
  });
});
