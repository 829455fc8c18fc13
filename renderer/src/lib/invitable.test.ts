import { describe, expect, it } from 'vitest';
import { invitableOwners } from './invitable.ts';

describe('invitableOwners', () => {
  it('offers the friends\' owners not in the room, not invited and not banned', () => {
    const members = [
      { user_id: '@owner:b.test', membership: 'join' },
      { user_id: '@owner:c.test', membership: 'invite' },
      { user_id: '@owner:d.test', membership: 'leave' },
      { user_id: '@owner:e.test', membership: 'leave' },
    ];
    // e.test's owner left after a ban: not offered, the node would refuse.
    expect(invitableOwners(['b.test', 'c.test', 'd.test', 'e.test', 'f.test'], members, [{ user_id: '@owner:e.test' }])).toEqual(['@owner:d.test', '@owner:f.test']);
    expect(invitableOwners(['f.test'], [], [{ user_id: '@owner:f.test' }])).toEqual([]);
  });
});
