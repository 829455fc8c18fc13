import { describe, expect, it } from 'vitest';
import type { RoomMember, RoomSummary } from '../../../shared/contract/admin-operations.ts';
import { chatCandidates, isChatWith } from './chat-room.ts';

const room = (room_id: string, host_server: string, joined_members: number, membership: RoomSummary['membership'] = 'join'): RoomSummary => ({ room_id, name: room_id, host_server, membership, joined_members });
const member = (user_id: string, membership: RoomMember['membership']): RoomMember => ({ user_id, membership, role: 'member' });

describe('"Chat with …" opens the chat the two owners already share', () => {
  it('looks only at rooms we are in, on either server, with two members at most', () => {
    const rooms = [room('!a', 'alpha.test', 2), room('!b', 'beta.test', 2), room('!c', 'gamma.test', 2), room('!d', 'alpha.test', 3), room('!e', 'alpha.test', 1), room('!f', 'alpha.test', 2, 'invite')];
    expect(chatCandidates(rooms, 'alpha.test', 'beta.test').map((r) => r.room_id)).toEqual(['!a', '!b', '!e']);
  });

  it('is the two owners\' chat when both are in, or the friend is invited, and nobody else is in or invited', () => {
    const me = member('@owner:alpha.test', 'join');
    expect(isChatWith([me, member('@owner:beta.test', 'join')], 'alpha.test', 'beta.test')).toBe(true);
    expect(isChatWith([me, member('@owner:beta.test', 'invite')], 'alpha.test', 'beta.test')).toBe(true);
    expect(isChatWith([me, member('@owner:beta.test', 'join'), member('@carol:beta.test', 'leave')], 'alpha.test', 'beta.test')).toBe(true);
    expect(isChatWith([me, member('@owner:beta.test', 'leave')], 'alpha.test', 'beta.test')).toBe(false);
    expect(isChatWith([me, member('@owner:beta.test', 'join'), member('@bob:beta.test', 'invite')], 'alpha.test', 'beta.test')).toBe(false);
    expect(isChatWith([me, member('@bob:beta.test', 'join')], 'alpha.test', 'beta.test')).toBe(false);
    expect(isChatWith([me], 'alpha.test', 'beta.test')).toBe(false);
  });
});
