/**
 * The notes of our events friends held for review stay bounded (HeldThere.prune, run by the
 * node's housekeeping): the oldest go first, whichever friend held them. Real SQLite.
 */
import { describe, expect, it } from '../../../test/helpers/fixtures.ts';
import { storeBareEvent } from '../../../test/helpers/bare-events.ts';
import { HeldThere } from './held-there.ts';

describe('HeldThere.prune', () => {
  it('keeps the newest notes up to the bound, across friends and a restart, and removes none under it', ({ tempDb }) => {
    const { db } = tempDb;
    const notes = () => db.prepare<[], { event_id: string; destination: string }>('SELECT event_id, destination FROM delivery_held_there ORDER BY held_at, event_id, destination').all();
    const held = new HeldThere(db);
    // A node no friend ever held: nothing to remove.
    expect(held.prune(0)).toBe(0);

    for (let i = 1; i <= 5; i++) storeBareEvent(db, `$e${i}:alpha.test`, null);
    db.transaction(() => {
      held.noteHeld('carol.test', '$e1:alpha.test', 1_000);
      held.noteHeld('dave.test', '$e1:alpha.test', 1_500);
      held.noteHeld('carol.test', '$e2:alpha.test', 2_000);
      held.noteHeld('dave.test', '$e3:alpha.test', 3_000);
      held.applied('carol.test', held.settleLine('carol.test', true, false, 2_000));
      held.applied('dave.test', held.settleLine('dave.test', true, false, 3_000));
    })();
    expect(notes()).toHaveLength(4);
    expect(held.prune(4)).toBe(0);
    expect(held.prune(2)).toBe(2);
    expect(notes()).toEqual([
      { event_id: '$e2:alpha.test', destination: 'carol.test' },
      { event_id: '$e3:alpha.test', destination: 'dave.test' },
    ]);

    // After a restart (the sets read from the table), the bound still holds.
    const again = new HeldThere(db);
    db.transaction(() => {
      again.noteHeld('carol.test', '$e4:alpha.test', 4_000);
      again.noteHeld('carol.test', '$e5:alpha.test', 5_000);
    })();
    expect(again.prune(3)).toBe(1);
    expect(notes().map((n) => n.event_id)).toEqual(['$e3:alpha.test', '$e4:alpha.test', '$e5:alpha.test']);
    // The friends' lines are not the notes: both still say they held ours.
    expect(again.holdsOursForReview('carol.test')).toEqual({ since: 2_000, last_at: 2_000 });
    expect(again.holdsOursForReview('dave.test')).toEqual({ since: 3_000, last_at: 3_000 });
  });
});
