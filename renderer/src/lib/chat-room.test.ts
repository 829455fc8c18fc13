import { describe, expect, it } from 'vitest';
import type { RoomInvite, RoomMember, RoomSummary } from '../../../shared/contract/admin-operations.ts';
import { chatCandidates, chatInvite, isChatWith } from './chat-room.ts';

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
    // Someone else was in it, or invited and declined: a group's room, not the chat.
    expect(isChatWith([me, member('@owner:beta.test', 'join'), member('@carol:beta.test', 'leave')], 'alpha.test', 'beta.test')).toBe(false);
    expect(isChatWith([me, member('@owner:beta.test', 'leave')], 'alpha.test', 'beta.test')).toBe(false);
    expect(isChatWith([me, member('@owner:beta.test', 'join'), member('@bob:beta.test', 'invite')], 'alpha.test', 'beta.test')).toBe(false);
    expect(isChatWith([me, member('@bob:beta.test', 'join')], 'alpha.test', 'beta.test')).toBe(false);
    expect(isChatWith([me], 'alpha.test', 'beta.test')).toBe(false);
  });

  it('takes the friend\'s invitation to the chat its own "Chat with …" made, not another of its rooms', () => {
    const invite = (over: Partial<RoomInvite>): RoomInvite => ({ invite_id: 'inv_1', room_id: '!c:beta.test', room_name: 'beta.test + alpha.test', host_server: 'beta.test', inviter: '@owner:beta.test', invitee: '@owner:alpha.test', expires_at: 0, ...over });
    expect(chatInvite([invite({})], 'alpha.test', 'beta.test')?.invite_id).toBe('inv_1');
    expect(chatInvite([invite({ room_name: 'Book club' })], 'alpha.test', 'beta.test')).toBeUndefined();
    expect(chatInvite([invite({ host_server: 'gamma.test' })], 'alpha.test', 'beta.test')).toBeUndefined();
    expect(chatInvite([invite({ inviter: '@bob:beta.test' })], 'alpha.test', 'beta.test')).toBeUndefined();
    // Accepted already, its join waiting or not answered: still the chat (not a reason for a second room); refused: not.
    expect(chatInvite([invite({ join: { state: 'unanswered', since: 1 } })], 'alpha.test', 'beta.test')?.invite_id).toBe('inv_1');
    expect(chatInvite([invite({ join: { state: 'waiting', since: 1, mailbox: 'carol.test' } })], 'alpha.test', 'beta.test')?.invite_id).toBe('inv_1');
    expect(chatInvite([invite({ join: { state: 'refused', since: 1, error: 'banned' } })], 'alpha.test', 'beta.test')).toBeUndefined();
  });
});
