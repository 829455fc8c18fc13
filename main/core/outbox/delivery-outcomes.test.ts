import { describe, expect, it } from 'vitest';
import { batchOutcomes, refusalMeaning, requestOutcomes } from './delivery-outcomes.ts';
import type { OutboxRow } from './outbox.ts';
import type { FederationResponse } from '../federation/http-client.ts';
import { parseMailboxAnswer } from '../../../shared/mailbox-answer.ts';

const row = { id: 1, destination: 'beta.test', event_id: '$e:alpha.test', room_id: '!r:alpha.test', state: 'pending', attempts: 0, next_attempt_at: 0, last_error: null, created_at: 0 } as unknown as OutboxRow;
const answer = (status: number, error: string, message: string, headers: Record<string, string> = {}) => ({ status, json: { error, message }, headers }) as unknown as FederationResponse;
const backoff = { initialMs: 1000, maxMs: 60_000 };
const now = 1_000_000;

describe('requestOutcomes', () => {
  it('fails an entry the destination refused for good (its own 400, 409, 413)', () => {
    for (const status of [400, 409, 413]) {
      const [outcome] = requestOutcomes([{ row }], answer(status, 'invalid_event', 'no'), undefined, now, backoff);
      expect(outcome!.outcome).toEqual({ kind: 'failed', status, error: `HTTP ${status} invalid_event: no`, byDestination: true });
    }
    // A page without a federation error code (a proxy's 403 or 404 while a friend upgrades): retried
    // (a red team 2026-12-01: it failed the whole queue for good)…
    for (const status of [400, 403, 404, 409, 413]) {
      const [page] = requestOutcomes([{ row }], { status, json: undefined, headers: {} } as unknown as FederationResponse, undefined, now, backoff);
      expect(page!.outcome, String(status)).toMatchObject({ kind: 'retry', status, error: `HTTP ${status}: its address answered with a page, not a node's answer` });
    }
    // …except a Paracord reference's plain-text refusals (400, 413, 415, 422): failed, but not as a
    // node's JSON answer; its 403 or 404 page is a proxy's (its own are JSON): retried.
    for (const status of [400, 413, 415, 422]) {
      const [reference] = requestOutcomes([{ row }], { status, json: undefined, headers: {} } as unknown as FederationResponse, undefined, now, backoff, null, true);
      expect(reference!.outcome, String(status)).toEqual({ kind: 'failed', status, error: `HTTP ${status}` });
    }
    for (const status of [403, 404]) {
      const [reference] = requestOutcomes([{ row }], { status, json: undefined, headers: {} } as unknown as FederationResponse, undefined, now, backoff, null, true);
      expect(reference!.outcome, String(status)).toMatchObject({ kind: 'retry', status });
    }
  });

  it('never fails an entry for what a friend\'s mailbox answered: the destination did not see it; it is retried, its error naming the mailbox', () => {
    for (const status of [400, 409, 500, 503]) {
      const [outcome] = requestOutcomes([{ row }], answer(status, 'invalid_request', 'no'), undefined, now, backoff, 'carol.test');
      expect(outcome!.outcome.kind, String(status)).toBe('retry');
      const error = (outcome!.outcome as { error: string }).error;
      expect(parseMailboxAnswer(error)).toEqual({ mailbox: 'carol.test', answer: `HTTP ${status} invalid_request: no` });
    }
    // Its Retry-After (full) is kept, up to the longest back-off: a mailbox does not hold the destination's mail back for a day.
    const [full] = requestOutcomes([{ row }], answer(429, 'mailbox_full', 'full', { 'retry-after': '30' }), undefined, now, backoff, 'carol.test');
    expect(full!.outcome).toMatchObject({ kind: 'retry', nextAttemptAt: now + 30_000 });
    const [day] = requestOutcomes([{ row }], answer(503, 'federation_paused', 'paused', { 'retry-after': '86400' }), undefined, now, backoff, 'carol.test');
    expect(day!.outcome).toMatchObject({ kind: 'retry', nextAttemptAt: now + backoff.maxMs });
    // The destination's own Retry-After is kept as it says (up to a day).
    const [own] = requestOutcomes([{ row }], answer(503, 'federation_paused', 'paused', { 'retry-after': '86400' }), undefined, now, backoff);
    expect(own!.outcome).toMatchObject({ kind: 'retry', nextAttemptAt: now + 86_400_000 });
    // A lone event it refuses as too large (and the destination could not be reached directly:
    // delivery-route.ts) fails alone, in the mailbox's words, not as the destination's refusal;
    // retried, it held every entry behind it for good.
    const [tooLarge] = requestOutcomes([{ row }], answer(413, 'body_too_large', 'too large'), undefined, now, backoff, 'carol.test');
    expect(tooLarge!.outcome).toEqual({ kind: 'failed', status: 413, error: 'the mailbox at carol.test answered HTTP 413 body_too_large: too large' });
    // Several (a batch: delivery-batches.ts halves it first) are retried.
    const two = requestOutcomes([{ row }, { row: { ...row, id: 2 } }], answer(413, 'body_too_large', 'too large'), undefined, now, backoff, 'carol.test');
    expect(two.map((o) => o.outcome.kind)).toEqual(['retry', 'retry']);
    // Stored there: delivered as before.
    expect(requestOutcomes([{ row }], { status: 200, json: { id: '1' }, headers: {} } as unknown as FederationResponse, undefined, now, backoff, 'carol.test')[0]!.outcome.kind).toBe('delivered');
  });

  it('a mailbox\'s 2xx that names no item we can follow is no deposit: retried, not delivered (nothing could ask after it or queue it again after its week)', () => {
    for (const json of [undefined, {}, { id: 7 }, { id: 'x' }, { id: '1'.repeat(16) }, '<html>ok</html>']) {
      const [outcome] = requestOutcomes([{ row }], { status: 200, json, headers: {} } as unknown as FederationResponse, undefined, now, backoff, 'carol.test');
      expect(outcome!.outcome.kind, JSON.stringify(json)).toBe('retry');
      expect(parseMailboxAnswer((outcome!.outcome as { error: string }).error)?.mailbox).toBe('carol.test');
    }
    // The destination's own 2xx is read as before (its body is not a deposit's).
    expect(requestOutcomes([{ row }], { status: 202, json: { event_id: row.event_id, inserted: true }, headers: {} } as unknown as FederationResponse, undefined, now, backoff)[0]!.outcome.kind).toBe('delivered');
  });

  it('a direct 2xx counts as delivered only when it is the destination\'s receipt of that event (a proxy\'s page, a captive portal is not)', () => {
    for (const json of [undefined, null, '<html>maintenance</html>', {}, { ok: true }, { event_id: '$another:alpha.test', inserted: true }]) {
      const [outcome] = requestOutcomes([{ row }], { status: 200, json, headers: {} } as unknown as FederationResponse, undefined, now, backoff);
      expect(outcome!.outcome, JSON.stringify(json)).toMatchObject({ kind: 'retry', status: 200, error: 'HTTP 200: the answer was not its receipt of the event' });
      expect((outcome!.outcome as { nextAttemptAt: number }).nextAttemptAt).toBeGreaterThan(now);
    }
    // Ours and the reference's receipt (202 {event_id, inserted}), stored now or a copy (inserted: false: nothing said of now).
    const cases: Array<[unknown, object]> = [
      [{ event_id: row.event_id, inserted: true }, { inserted: true }],
      [{ event_id: row.event_id, inserted: false }, {}],
      [{ event_id: row.event_id, inserted: true, held: 'yes' }, { inserted: true }],
    ];
    for (const [json, said] of cases) {
      expect(requestOutcomes([{ row }], { status: 202, json, headers: {} } as unknown as FederationResponse, undefined, now, backoff)[0]!.outcome).toEqual({ kind: 'delivered', status: 202, ...said });
    }
  });

  it('a receipt saying the destination holds the event for review (held: true) is delivered and says so, alone or in a batch; a mailbox\'s answer never does', () => {
    for (const json of [{ event_id: row.event_id, inserted: true, held: true }, { event_id: row.event_id, inserted: false, held: true }]) {
      expect(requestOutcomes([{ row }], { status: 202, json, headers: {} } as unknown as FederationResponse, undefined, now, backoff)[0]!.outcome).toEqual({ kind: 'delivered', status: 202, heldThere: true });
    }
    expect(requestOutcomes([{ row }], { status: 200, json: { id: '1', held: true }, headers: {} } as unknown as FederationResponse, undefined, now, backoff, 'carol.test')[0]!.outcome).toEqual({ kind: 'delivered', status: 200, atMailbox: true });
    const rows = [{ row }, { row: { ...row, id: 2, event_id: '$f:alpha.test' } as OutboxRow }, { row: { ...row, id: 3, event_id: '$g:alpha.test' } as OutboxRow }];
    const results = [{ event_id: '$e:alpha.test', inserted: true, held: true }, { event_id: '$f:alpha.test', inserted: true }, { event_id: '$g:alpha.test', inserted: false, held: 1 }];
    const outcomes = batchOutcomes(rows, { status: 200, json: { results }, headers: {} } as unknown as FederationResponse, now, backoff);
    expect(outcomes.map((o) => o.outcome)).toEqual([{ kind: 'delivered', status: 200, heldThere: true }, { kind: 'delivered', status: 200, inserted: true }, { kind: 'delivered', status: 200 }]);
  });

  it('counts an event of ours the destination holds another version of (409 event_id_conflict) as delivered, alone or in a batch; through a mailbox it is retried as any mailbox answer', () => {
    expect(requestOutcomes([{ row }], answer(409, 'event_id_conflict', 'another version'), undefined, now, backoff)[0]!.outcome).toEqual({ kind: 'delivered', status: 409 });
    expect(requestOutcomes([{ row }], answer(409, 'event_id_conflict', 'x'), undefined, now, backoff, 'carol.test')[0]!.outcome.kind).toBe('retry');
    // The same code under another status is a refusal as any other.
    expect(requestOutcomes([{ row }], answer(400, 'event_id_conflict', 'x'), undefined, now, backoff)[0]!.outcome.kind).toBe('failed');
    const rows = [{ row }, { row: { ...row, id: 2, event_id: '$f:alpha.test' } as OutboxRow }, { row: { ...row, id: 3, event_id: '$g:alpha.test' } as OutboxRow }];
    const results = [
      { event_id: '$e:alpha.test', status: 409, error: 'event_id_conflict', message: 'another version' },
      { event_id: '$f:alpha.test', status: 409, error: 'already_joined', message: 'no' },
      { event_id: '$g:alpha.test', status: 400, error: 'event_id_conflict', message: 'no' },
    ];
    const outcomes = batchOutcomes(rows, { status: 200, json: { results }, headers: {} } as unknown as FederationResponse, now, backoff);
    expect(outcomes.map((o) => o.outcome.kind)).toEqual(['delivered', 'failed', 'failed']);
  });

  it('batchOutcomes takes a hostile batch answer apart without throwing: entries that are not objects naming an event are no result', () => {
    const rows = [{ row }, { row: { ...row, id: 2, event_id: '$f:alpha.test' } as OutboxRow }];
    const cases: Array<[unknown, string[]]> = [
      [[null], ['retry', 'retry']],
      [[null, 5, 'x', [], { event_id: 7 }], ['retry', 'retry']],
      [null, ['retry', 'retry']],
      ['x', ['retry', 'retry']],
      [[{ event_id: '$f:alpha.test', inserted: true }, null], ['retry', 'delivered']],
    ];
    for (const [results, kinds] of cases) {
      const outcomes = batchOutcomes(rows, { status: 200, json: { results }, headers: {} } as unknown as FederationResponse, now, backoff);
      expect(outcomes.map((o) => o.outcome.kind), JSON.stringify(results)).toEqual(kinds);
    }
  });
});

describe('refusalMeaning', () => {
  it.each([
    // Signed too long before the room's host took it: signed again and sent again.
    [409, 'depth_too_old', 'resend_late'],
    // The recipient holds another version of that event of ours: delivered.
    [409, 'event_id_conflict', 'delivered'],
    // Any other refusal for good fails, the same codes under another status too.
    [403, 'not_member', 'failed'],
    [409, 'already_joined', 'failed'],
    [400, 'depth_too_old', 'failed'],
    [403, 'event_id_conflict', 'failed'],
    // What a peer's answer may hold instead of a status and a code.
    ['409', 'depth_too_old', 'failed'],
    [409, undefined, 'failed'],
    [undefined, undefined, 'failed'],
  ])('a refusal %s %s means %s for its sender', (status, code, meaning) => {
    expect(refusalMeaning(status, code)).toBe(meaning);
  });
});
