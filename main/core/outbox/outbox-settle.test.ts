/**
 * What must be written with a delivery's outcome or not at all (a helper's audit, 2026-11-29): a
 * deposit at a friend's mailbox was recorded after the rows' deletion, in a transaction of its
 * own; when that record failed, the events were nowhere (no row, no deposit) and read as delivered
 * for good. Real SQLite; the mailbox deposits' real table.
 */
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
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
});
