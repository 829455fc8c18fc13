/**
 * A batch refused as a whole (delivery-batches.ts `wholeBatchRefused`): smaller batches for a while,
 * the entries left pending with no attempt counted, and words that say who refused it — the
 * destination, or the friend's mailbox the batch was left at (shared/mailbox-answer.ts), which the
 * UI then does not read as the destination's answer. A real outbox on a real database.
 */
import { pino } from 'pino';
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { parseMailboxAnswer } from '../../../shared/mailbox-answer.ts';
import type { FederationResponse } from '../federation/http-client.ts';
import { wholeBatchRefused, type Prepared } from './delivery-batches.ts';
import type { DeliveryDeps } from './delivery-deps.ts';
import { newDestinationState } from './destination-state.ts';
import { Outbox } from './outbox.ts';

const log = pino({ level: 'silent' });
const answer = (status: number) => ({ status, json: undefined, headers: {} }) as unknown as FederationResponse;

describe('wholeBatchRefused', () => {
  it('says which mailbox refused a batch left there (not the destination), keeps the entries pending and untried, and halves the next batches', ({ tempDb }) => {
    const outbox = new Outbox(tempDb.db);
    const deps = { outbox, log } as Pick<DeliveryDeps, 'outbox' | 'log'> as DeliveryDeps;
    const now = Date.now();
    const rows = Array.from({ length: 4 }, (_, i) => outbox.enqueue('beta.test', `$e${i}:alpha.test`, '!r:alpha.test', now)!);
    const prepared: Prepared = { sendable: rows.map((row) => ({ row, wire: '{}' })), useBatch: true };

    const state = newDestinationState();
    expect(wholeBatchRefused(deps, 'beta.test', state, prepared, answer(413), 5, now, 'carol.test')).toBe(true);
    const left = outbox.head('beta.test', 10);
    expect(left.map((r) => [r.state, r.attempts])).toEqual(rows.map(() => ['pending', 0]));
    for (const row of left) {
      expect(row.last_error).toBe('the mailbox at carol.test answered batch refused (4 events): HTTP 413; sending batches of at most 2 events for a while');
      expect(parseMailboxAnswer(row.last_error)).toEqual({ mailbox: 'carol.test', answer: 'batch refused (4 events): HTTP 413; sending batches of at most 2 events for a while' });
    }
    expect(state.batchCap).toBe(2);
    expect(state.batchCapUntil).toBeGreaterThan(now);

    // Refused straight by the destination: its own words, no mailbox named.
    const direct = newDestinationState();
    expect(wholeBatchRefused(deps, 'beta.test', direct, { ...prepared, sendable: prepared.sendable.slice(0, 2) }, answer(400), 5, now)).toBe(true);
    expect(outbox.head('beta.test', 1)[0]!.last_error).toBe('batch refused (2 events): HTTP 400; sending single events for a while');
    expect(direct.noBatchUntil).toBeGreaterThan(now);

    // Not a batch, or not such an answer: not this.
    expect(wholeBatchRefused(deps, 'beta.test', newDestinationState(), { ...prepared, useBatch: false }, answer(413), 5, now, 'carol.test')).toBe(false);
    expect(wholeBatchRefused(deps, 'beta.test', newDestinationState(), prepared, answer(503), 5, now, 'carol.test')).toBe(false);
  });
});
