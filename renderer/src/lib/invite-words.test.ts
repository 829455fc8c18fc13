import { describe, expect, it } from 'vitest';
import { AdminError } from '../../../shared/contract/client.ts';
import { inviteRefusal } from './invite-words.ts';

describe('inviteRefusal', () => {
  it('speaks of the person invited, not of the viewer', () => {
    expect(inviteRefusal(new AdminError(409, 'already_joined', 'x'), '@bob:friend.example')?.text).toBe('@bob:friend.example is already in this room.');
    expect(inviteRefusal(new AdminError(404, 'unknown_user', 'x'), '@bob:friend.example')?.text).toBe('friend.example has no user @bob:friend.example.');
    expect(inviteRefusal(new AdminError(404, 'unknown_user', 'x'), 'bob')?.text).toBe('There is no user bob.');
    // Anything else: the general words.
    expect(inviteRefusal(new AdminError(403, 'peer_held', 'x'), '@bob:friend.example')).toBeNull();
    expect(inviteRefusal(new TypeError('Failed to fetch'), '@bob:friend.example')).toBeNull();
  });
});
