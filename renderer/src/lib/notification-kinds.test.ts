import { describe, expect, it } from 'vitest';
import { kindsOf } from './notification-kinds.ts';

describe('kindsOf', () => {
  it('a read marker refreshes the rooms list only, not the room it was set in', () => {
    expect(kindsOf({ type: 'room', event_type: 'm.read' })).toEqual(['room']);
  });

  it('messages, edits, deletes and reactions refresh the rooms list and the changed messages, not the whole page, members or bans', () => {
    for (const type of ['m.message', 'm.message.edit', 'm.message.delete', 'm.reaction.add', 'm.reaction.remove']) {
      expect(kindsOf({ type: 'room', event_type: type }), type).toEqual(['room', 'messages']);
    }
  });

  it('membership, bans and roles refresh members too', () => {
    for (const type of ['m.member.invite', 'm.member.join', 'm.member.leave', 'm.member.ban', 'm.member.unban', 'm.room.role']) {
      expect(kindsOf({ type: 'room', event_type: type }), type).toEqual(['room', 'timeline', 'members']);
    }
  });

  it('an event type it does not know, or none, refreshes everything a room shows', () => {
    expect(kindsOf({ type: 'room', event_type: 'm.something.new' })).toEqual(['room', 'timeline', 'members']);
    expect(kindsOf({ type: 'room' })).toEqual(['room', 'timeline', 'members']);
    expect(kindsOf({ type: 'room', event_type: 42 })).toEqual(['room', 'timeline', 'members']);
  });

  it('an invitation refreshes the invitations and everything a room shows; status is status, the queue included', () => {
    expect(kindsOf({ type: 'invite' })).toEqual(['invites', 'room', 'timeline', 'members']);
    expect(kindsOf({ type: 'status' })).toEqual(['status', 'queue']);
    expect(kindsOf({ type: 'delivery' })).toEqual(['deliveries']);
    expect(kindsOf({ type: 'open-link' })).toEqual([]);
  });

  it('a delivery attempt (status scoped to the queue) refreshes only the screens that show the queue', () => {
    expect(kindsOf({ type: 'status', scope: 'queue' })).toEqual(['queue']);
    // A scope this UI does not know counts as the whole status.
    expect(kindsOf({ type: 'status', scope: 'keys' })).toEqual(['status', 'queue']);
  });

  it('federation paused or resumed also reloads the open room: its waiting messages say so', () => {
    expect(kindsOf({ type: 'status', scope: 'federation' })).toEqual(['status', 'queue', 'timeline']);
  });

  it('what members may do changed: a member\'s app reads its account again (the owner\'s shows the status)', () => {
    expect(kindsOf({ type: 'status', scope: 'members' })).toEqual(['status', 'account']);
  });
});
