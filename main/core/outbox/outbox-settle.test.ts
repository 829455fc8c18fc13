/**
 * What must be written with a delivery's outcome or not at all (a helper's audit, 2026-11-29): a
 * deposit at a friend's mailbox was recorded after the rows' deletion, in a transaction of its
 * own; when that record failed, the events were nowhere (no row, no deposit) and read as delivered
 * for good. Real SQLite; the mailbox deposits' real table.
 */
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { storeBareEvent } from '../../../test/helpers/bare-events.ts';
import { Outbox } from './outbox.ts';

describe('Outbox.settle', () => {
  it('writes `alsoWrite` in the rows\' transaction: when it fails, the rows stay as they were; when it succeeds, both are written', ({ tempDb }) => {
    const { db } = tempDb;
    const outbox = new Outbox(db);
    const now = Date.now();
    const row = outbox.enqueue('alpha.test', '$m:beta.test', '!r:alpha.test', now)!;
    const delivered = [{ row, outcome: { kind: 'delivered' as const, status: 202, atMailbox: true as const } }];
    const record = () => db.prepare('INSERT INTO mailbox_deposits (event_id, destination, mailbox, deposit_id, deposited_at) VALUES (?, ?, ?, ?, ?)').run(row.event_id, 'alpha.test', 'carol.test', 7, now);

    // The record fails (a full disk, a lock held too long): nothing of the outcome is written.
    expect(() => outbox.settle('alpha.test', delivered, 1, now, () => {
      record();
      throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' });
    })).toThrow('database or disk is full');
    expect(outbox.get(row.id)?.state).toBe('pending');
    expect(db.prepare('SELECT COUNT(*) AS n FROM mailbox_deposits').get()).toEqual({ n: 0 });

    outbox.settle('alpha.test', delivered, 1, now, record);
    expect(outbox.get(row.id)).toBeUndefined();
    expect(db.prepare('SELECT event_id, mailbox, deposit_id FROM mailbox_deposits').all()).toEqual([{ event_id: row.event_id, mailbox: 'carol.test', deposit_id: 7 }]);
  });

  it('notes our own event a destination holds for review, not another server\'s we relay; a later delivery that is not held clears it', ({ tempDb }) => {
    const { db } = tempDb;
    const store = (id: string, receivedFrom: string | null) => storeBareEvent(db, id, receivedFrom);
    store('$ours:alpha.test', null);
    store('$relayed:beta.test', 'beta.test');
    const outbox = new Outbox(db);
    const now = Date.now();
    const ours = outbox.enqueue('carol.test', '$ours:alpha.test', '!r:alpha.test', now)!;
    const relayed = outbox.enqueue('carol.test', '$relayed:beta.test', '!r:alpha.test', now)!;
    const held = { kind: 'delivered' as const, status: 200, heldThere: true as const };
    outbox.settle('carol.test', [{ row: ours, outcome: held }, { row: relayed, outcome: held }], 1, now);
    const notes = () => db.prepare('SELECT event_id, destination FROM delivery_held_there').all();
    expect(notes()).toEqual([{ event_id: '$ours:alpha.test', destination: 'carol.test' }]);
    // Sent there again (the owner's retry) and taken as any other: no longer said held, by a new outbox too (it knows which destinations have notes).
    const again = new Outbox(db).enqueue('carol.test', '$ours:alpha.test', '!r:alpha.test', now)!;
    new Outbox(db).settle('carol.test', [{ row: again, outcome: { kind: 'delivered', status: 200 } }], 1, now);
    expect(notes()).toEqual([]);
  });

  it('says a destination holds ours for review from our first own event it held until a direct delivery there is taken as any other (not a relayed event, not a mailbox\'s take)', ({ tempDb }) => {
    const { db } = tempDb;
    const store = (id: string, receivedFrom: string | null) => storeBareEvent(db, id, receivedFrom);
    for (const id of ['$a:alpha.test', '$b:alpha.test', '$c:alpha.test']) store(id, null);
    store('$relayed:beta.test', 'beta.test');
    const outbox = new Outbox(db);
    const held = { kind: 'delivered' as const, status: 200, heldThere: true as const };
    const settle = (id: string, outcome: Parameters<Outbox['settle']>[1][number]['outcome'], at: number) =>
      outbox.settle('carol.test', [{ row: outbox.enqueue('carol.test', id, '!r:alpha.test', at)!, outcome }], 1, at);
    // Another server's event it held (its origin in quarantine there): not ours held.
    settle('$relayed:beta.test', held, 1_000);
    expect(outbox.holdsOursForReview('carol.test')).toBeNull();
    settle('$a:alpha.test', held, 2_000);
    settle('$b:alpha.test', held, 3_000);
    expect(outbox.holdsOursForReview('carol.test')).toEqual({ since: 2_000, last_at: 3_000 });
    // Read again by a new outbox (a restart).
    expect(new Outbox(db).holdsOursForReview('carol.test')).toEqual({ since: 2_000, last_at: 3_000 });
    // A friend's mailbox took one: says nothing of the destination.
    settle('$c:alpha.test', { kind: 'delivered', status: 200, atMailbox: true }, 4_000);
    expect(outbox.holdsOursForReview('carol.test')).toEqual({ since: 2_000, last_at: 3_000 });
    // A copy of what it stored before it held us (not inserted, not held): says nothing of now.
    settle('$c:alpha.test', { kind: 'delivered', status: 202 }, 4_500);
    expect(outbox.holdsOursForReview('carol.test')).toEqual({ since: 2_000, last_at: 3_000 });
    // Stored there now as any other: let in.
    settle('$relayed:beta.test', { kind: 'delivered', status: 202, inserted: true }, 5_000);
    expect(outbox.holdsOursForReview('carol.test')).toBeNull();
    expect(db.prepare('SELECT COUNT(*) AS n FROM delivery_held_by').get()).toEqual({ n: 0 });
  });
});

