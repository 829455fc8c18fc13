/**
 * A pull ack's effects on the sender's queue and its listeners. With `held` (capability
 * `pull_held`): a pull ack that names what the puller holds for review (`held`, capability `pull_held`): what
 * the sender's queue tells its listeners and notes. Real SQLite; a review's points (2026-11-29):
 * the UI must hear of held rows too (the message changes from "waiting"), a held ban is not read
 * there yet, and only our own events decide the friend's line.
 */
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { storeBareEvent } from '../../../test/helpers/bare-events.ts';
import { HeldThere } from '../outbox/held-there.ts';
import { Outbox } from '../outbox/outbox.ts';
import { PullQueue } from './pull-queue.ts';

describe('PullQueue.ack with `held`', () => {
  it('tells the UI of every row it settles, the read ones as read and the held ones as held; notes only our own held events; only ours decide the line', ({ tempDb }) => {
    const { db } = tempDb;
    const store = (id: string, receivedFrom: string | null) => storeBareEvent(db, id, receivedFrom);
    for (const id of ['$a:alpha.test', '$b:alpha.test', '$c:alpha.test']) store(id, null);
    store('$relayed:beta.test', 'beta.test');
    const heldThere = new HeldThere(db);
    const outbox = new Outbox(db, {}, heldThere);
    const read: Array<[string, boolean]> = [];
    const settled: string[] = [];
    const pull = new PullQueue(db, {
      onRead: (_destination, rows, held) => read.push(...rows.map((r): [string, boolean] => [r.event_id, held === true])),
      onSettled: (rows) => settled.push(...rows.map((r) => r.event_id)),
    }, undefined, heldThere);
    const queue = (id: string, at: number) => outbox.enqueue('carol.test', id, '!r:alpha.test', at)!.id;

    // An ack naming one of ours and a relayed event held, and another of ours taken.
    queue('$a:alpha.test', 1_000);
    queue('$relayed:beta.test', 1_000);
    const cursor = queue('$b:alpha.test', 1_000);
    expect(pull.ack('carol.test', cursor, [], 2_000, ['$a:alpha.test', '$relayed:beta.test', '$unknown:alpha.test'])).toEqual({ acknowledged: 3, failed: 0, resent: [], requeued: [] });
    expect(settled).toEqual(['$a:alpha.test', '$relayed:beta.test', '$b:alpha.test']);
    expect(read).toEqual([['$b:alpha.test', false], ['$a:alpha.test', true], ['$relayed:beta.test', true]]);
    expect(db.prepare('SELECT event_id, destination, held_at FROM delivery_held_there').all()).toEqual([{ event_id: '$a:alpha.test', destination: 'carol.test', held_at: 2_000 }]);
    expect(outbox.holdsOursForReview('carol.test')).toEqual({ since: 2_000, last_at: 2_000 });

    // Only another server's event taken, ours held by none: says nothing of how it takes ours.
    const relayedAgain = queue('$relayed:beta.test', 3_000);
    pull.ack('carol.test', relayedAgain, [], 3_000, []);
    expect(outbox.holdsOursForReview('carol.test')).toEqual({ since: 2_000, last_at: 2_000 });
    // An ack without the field (an older puller): nothing either way.
    pull.ack('carol.test', queue('$c:alpha.test', 4_000), [], 4_000);
    expect(outbox.holdsOursForReview('carol.test')).toEqual({ since: 2_000, last_at: 2_000 });
    // One of ours taken, none held: the line goes; the held message's note stays (nothing says its owner released it).
    pull.ack('carol.test', queue('$b:alpha.test', 5_000), [], 5_000, []);
    expect(outbox.holdsOursForReview('carol.test')).toBeNull();
    expect(db.prepare('SELECT event_id FROM delivery_held_there').all()).toEqual([{ event_id: '$a:alpha.test' }]);
  });

  it('tells the delivery worker of each row it queues again (a refusal sent again, and what follows it), in its transaction', ({ tempDb }) => {
    const { db } = tempDb;
    for (const id of ['$a:alpha.test', '$b:alpha.test', '$c:alpha.test']) storeBareEvent(db, id, null);
    const outbox = new Outbox(db, {});
    const queued: string[] = [];
    let inTransaction = true;
    const pull = new PullQueue(db, { onQueued: (destination) => { queued.push(destination); inTransaction &&= db.inTransaction; } });
    outbox.enqueue('carol.test', '$a:alpha.test', '!r:alpha.test', 1_000);
    outbox.enqueue('carol.test', '$b:alpha.test', '!r:alpha.test', 1_000);
    const cursor = outbox.enqueue('carol.test', '$c:alpha.test', '!r:alpha.test', 1_000)!.id;
    const refused = [{ event_id: '$a:alpha.test', status: 409, error: 'depth_too_old' }, { event_id: '$b:alpha.test', status: 404, error: 'unknown_event' }];
    expect(pull.ack('carol.test', cursor, refused, 2_000, undefined, (row) => row.event_id === '$a:alpha.test')).toMatchObject({ resent: ['$a:alpha.test'], requeued: ['$b:alpha.test'] });
    expect(queued).toEqual(['carol.test', 'carol.test']);
    expect(inTransaction).toBe(true);
    expect(db.prepare("SELECT event_id FROM federation_outbox WHERE destination = 'carol.test' AND state = 'pending' ORDER BY id").all()).toEqual([{ event_id: '$a:alpha.test' }, { event_id: '$b:alpha.test' }]);
  });
});
