import { describe, expect, it } from 'vitest';
import { heldWords } from './held-words.ts';

describe('heldWords', () => {
  it('says what a held event did in words, never its internal type', () => {
    expect(heldWords({ event_type: 'm.message', body: 'hello' })).toBe('hello');
    expect(heldWords({ event_type: 'm.message.edit', body: 'hello again' })).toBe('edited a message: hello again');
    expect(heldWords({ event_type: 'm.reaction.add', key: '👍' })).toBe('reacted 👍');
    expect(heldWords({ event_type: 'm.reaction.remove' })).toBe('took back a reaction');
    expect(heldWords({ event_type: 'm.member.join' })).toBe('joined the room');
    expect(heldWords({ event_type: 'm.message.delete' })).toBe('deleted a message');
    expect(heldWords({ event_type: 'x.something.new' })).toBe('sent something this node does not show');
    for (const type of ['m.member.leave', 'm.member.ban', 'm.member.unban', 'm.member.invite', 'm.room.role']) expect(heldWords({ event_type: type })).not.toMatch(/^m\./);
  });
});
