/**
 * When a waiting message is tried next (`MessageDelivery.next_attempt_at`, worded "next try in …"
 * under it): a destination is tried when its oldest waiting row is due, so a message queued behind
 * one being retried says when that is, not "now" (the UI check of 2026-11-27: a second message to
 * an offline friend said only "Waiting for …", while the first said "next try in 40 s").
 */
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { Outbox } from '../outbox/outbox.ts';
import { FederationEvents } from '../store/federation-events.ts';
import { changesNotDelivered, messageDeliveries } from './message-delivery.ts';
import type { Db } from '../store/database.ts';

/** A stored event row, as much of it as these reads look at. */
function storeEvent(db: Db, eventId: string, type: string, origin: string, relatesTo: string | null, depth: number, sender = `@owner:${origin}`, content: Record<string, unknown> = {}): void {
  db.prepare(`INSERT INTO federation_events (event_id, room_id, event_type, sender, origin_server, origin_ts, depth, state_key, content, signatures, content_hash, received_from, received_at, relates_to)
    VALUES (?, '!r:alpha.test', ?, ?, ?, ?, ?, NULL, ?, '{}', 'h', NULL, 0, ?)`).run(eventId, type, sender, origin, depth, depth, JSON.stringify(content), relatesTo);
}

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

describe('own changes of a message that a server has not taken', () => {
  it('an edit, deletion or reaction of the viewer\'s still queued, or refused, is named on the message it changes; delivered ones, another user\'s and other servers\' are not', ({ tempDb }) => {
    const db = tempDb.db;
    const outbox = new Outbox(db);
    storeEvent(db, '$mine', 'm.message', 'alpha.test', null, 1);
    storeEvent(db, '$theirs', 'm.message', 'beta.test', null, 2);
    storeEvent(db, '$edit', 'm.message.edit', 'alpha.test', '$mine', 3);
    storeEvent(db, '$react', 'm.reaction.add', 'alpha.test', '$theirs', 4, undefined, { key: '👍' });
    storeEvent(db, '$unreact', 'm.reaction.remove', 'alpha.test', '$theirs', 5, undefined, { key: '🎉' });
    storeEvent(db, '$bobs', 'm.reaction.add', 'alpha.test', '$theirs', 8, '@bob:alpha.test', { key: '👍' });
    storeEvent(db, '$delivered', 'm.reaction.add', 'alpha.test', '$mine', 6);
    storeEvent(db, '$their-edit', 'm.message.edit', 'beta.test', '$theirs', 7);
    outbox.enqueue('beta.test', '$edit', '!r:alpha.test', 1_000);
    const react = outbox.enqueue('beta.test', '$react', '!r:alpha.test', 1_000)!;
    outbox.enqueue('gamma.test', '$their-edit', '!r:alpha.test', 1_000); // we relay it: not ours to show
    outbox.enqueue('beta.test', '$bobs', '!r:alpha.test', 1_000); // bob's, a user of ours: not the owner's to show
    outbox.settle('beta.test', [{ row: react, outcome: { kind: 'failed', status: 403, error: 'HTTP 403 origin_blocked: alpha.test is blocked' } }], 5, 2_000);
    db.prepare("INSERT INTO mailbox_deposits (destination, mailbox, deposit_id, event_id, deposited_at) VALUES ('beta.test', 'carol.test', 1, '$unreact', 1000)").run();
    const changes = changesNotDelivered(db, 'alpha.test', '@owner:alpha.test', ['$mine', '$theirs']);
    expect(changes.get('$mine')).toEqual([{ event_id: '$edit', kind: 'edit', delivery: expect.objectContaining({ state: 'waiting', pending_servers: ['beta.test'] }) }]);
    expect(changes.get('$theirs')).toEqual([
      { event_id: '$react', kind: 'reaction', delivery: expect.objectContaining({ state: 'refused', refused: [{ server: 'beta.test', reason: 'HTTP 403 origin_blocked: alpha.test is blocked' }] }) },
      { event_id: '$unreact', kind: 'reaction_removed', delivery: expect.objectContaining({ state: 'waiting', at_mailbox: [{ server: 'beta.test', mailbox: 'carol.test' }] }) },
    ]);
    expect(changesNotDelivered(db, 'alpha.test', '@owner:alpha.test', ['$nothing']).size).toBe(0);
    // A delivery notice of a change also names the message it changes (rooms/inbound-events.ts): the open room asks for that message.
    expect(new FederationEvents(db).relationTargets(['$edit', '$react', '$mine', '$unknown']).sort()).toEqual(['$mine', '$theirs']);
    expect(new FederationEvents(db).relationTargets([])).toEqual([]);
    expect(changesNotDelivered(db, 'alpha.test', '@bob:alpha.test', ['$theirs']).get('$theirs')).toEqual([{ event_id: '$bobs', kind: 'reaction', delivery: expect.objectContaining({ state: 'waiting' }) }]);
  });

  it('says only the latest change of each thing: a reaction toggled while a friend is offline is one line', ({ tempDb }) => {
    const db = tempDb.db;
    const outbox = new Outbox(db);
    storeEvent(db, '$m', 'm.message', 'beta.test', null, 1);
    for (let i = 0; i < 10; i++) {
      storeEvent(db, `$r${i}`, i % 2 === 0 ? 'm.reaction.add' : 'm.reaction.remove', 'alpha.test', '$m', 10 + i, undefined, { key: '👍' });
      outbox.enqueue('beta.test', `$r${i}`, '!r:alpha.test', 1_000 + i);
    }
    for (let i = 0; i < 3; i++) {
      storeEvent(db, `$e${i}`, 'm.message.edit', 'alpha.test', '$m', 30 + i);
      outbox.enqueue('beta.test', `$e${i}`, '!r:alpha.test', 2_000 + i);
    }
    expect(changesNotDelivered(db, 'alpha.test', '@owner:alpha.test', ['$m']).get('$m')!.map((c) => [c.event_id, c.kind])).toEqual([['$r9', 'reaction_removed'], ['$e2', 'edit']]);
    // A later change that was delivered ends the line of an earlier one refused: a 🎉 added and
    // refused, then taken back (delivered: no row left) says nothing.
    storeEvent(db, '$party', 'm.reaction.add', 'alpha.test', '$m', 40, undefined, { key: '🎉' });
    const party = outbox.enqueue('beta.test', '$party', '!r:alpha.test', 3_000)!;
    outbox.settle('beta.test', [{ row: party, outcome: { kind: 'failed', status: 403, error: 'HTTP 403 origin_blocked' } }], 5, 3_000);
    expect(changesNotDelivered(db, 'alpha.test', '@owner:alpha.test', ['$m']).get('$m')!.map((c) => c.event_id)).toContain('$party');
    storeEvent(db, '$unparty', 'm.reaction.remove', 'alpha.test', '$m', 41, undefined, { key: '🎉' });
    expect(changesNotDelivered(db, 'alpha.test', '@owner:alpha.test', ['$m']).get('$m')!.map((c) => c.event_id)).not.toContain('$party');
  });
});

describe('an entry the owner dropped', () => {
  it('is named on its message, unless an attempt under way delivered it after all, or it is queued there again', ({ tempDb }) => {
    const db = tempDb.db;
    const settled: string[] = [];
    const outbox = new Outbox(db, { onSettled: (rows) => settled.push(...rows.map((r) => r.event_id)) });
    const a = outbox.enqueue('beta.test', '$a', '!r:alpha.test', 1_000)!;
    const b = outbox.enqueue('beta.test', '$b', '!r:alpha.test', 1_000)!;
    outbox.enqueue('gamma.test', '$a', '!r:alpha.test', 1_000);
    expect(outbox.drop(a.id)).toBe(true);
    expect(outbox.drop(b.id)).toBe(true);
    expect(outbox.drop(b.id)).toBe(false);
    // An open room hears of it, as of an attempt's outcome.
    expect(settled).toEqual(['$a', '$b']);
    expect(messageDeliveries(db, ['$a']).get('$a')).toMatchObject({ state: 'refused', pending_servers: ['gamma.test'], refused: [{ server: 'beta.test', reason: 'dropped' }] });
    // $b's attempt was under way when it was dropped, and beta took it.
    outbox.settle('beta.test', [{ row: b, outcome: { kind: 'delivered', status: 202 } }], 5, 2_000);
    expect(messageDeliveries(db, ['$b']).get('$b')).toMatchObject({ state: 'delivered', refused: [] });
    // Queued for beta again (a re-issue): waiting, not dropped.
    outbox.enqueue('beta.test', '$a', '!r:alpha.test', 3_000);
    expect(messageDeliveries(db, ['$a']).get('$a')).toMatchObject({ state: 'waiting', pending_servers: ['beta.test', 'gamma.test'], refused: [] });
  });
});
