import { describe, expect, it } from 'vitest';
import { heldWords } from './held-words.ts';

const sender = '@eve:q.test';

describe('heldWords', () => {
  it('says what a held event did in words, never its internal type', () => {
    expect(heldWords({ event_type: 'm.message', sender, body: 'hello' })).toEqual({ words: 'hello' });
    expect(heldWords({ event_type: 'm.message.edit', sender, body: 'hello again' })).toEqual({ words: 'edited a message: hello again' });
    expect(heldWords({ event_type: 'm.reaction.add', sender, key: '👍' })).toEqual({ words: 'reacted 👍' });
    // A key is shown as keys are everywhere: a stack of marks cut, hidden characters written out.
    expect(heldWords({ event_type: 'm.reaction.add', sender, key: `a${'\u0336'.repeat(30)}\u202e` })).toEqual({ words: `reacted a${'\u0336'.repeat(4)}⟨+26 marks⟩⟨U+202E⟩` });
    expect(heldWords({ event_type: 'm.reaction.remove', sender })).toEqual({ words: 'took back a reaction' });
    expect(heldWords({ event_type: 'm.member.join', sender, subject: sender })).toEqual({ words: 'joined the room' });
    expect(heldWords({ event_type: 'm.message.delete', sender })).toEqual({ words: 'deleted a message' });
    expect(heldWords({ event_type: 'x.something.new', sender })).toEqual({ words: 'sent something this node does not show' });
    for (const type of ['m.member.leave', 'm.member.ban', 'm.member.unban', 'm.member.invite', 'm.room.role']) expect(heldWords({ event_type: type, sender }).words).not.toMatch(/^m\./);
  });

  it('names the user an event is about: a leave is "left the room" or "removed" someone', () => {
    expect(heldWords({ event_type: 'm.member.leave', sender, subject: sender })).toEqual({ words: 'left the room' });
    expect(heldWords({ event_type: 'm.member.leave', sender, subject: '@bob:b.test' })).toEqual({ words: 'removed', subject: '@bob:b.test' });
    expect(heldWords({ event_type: 'm.member.ban', sender, subject: '@bob:b.test' })).toEqual({ words: 'banned', subject: '@bob:b.test' });
    expect(heldWords({ event_type: 'm.member.unban', sender, subject: '@bob:b.test' })).toEqual({ words: 'let', subject: '@bob:b.test', after: ' back in' });
    expect(heldWords({ event_type: 'm.member.invite', sender, subject: '@bob:b.test' })).toEqual({ words: 'invited', subject: '@bob:b.test' });
    expect(heldWords({ event_type: 'm.room.role', sender, subject: '@bob:b.test' })).toEqual({ words: 'changed the role of', subject: '@bob:b.test' });
    // Without a subject (an event that names none), the words stay general.
    expect(heldWords({ event_type: 'm.member.leave', sender })).toEqual({ words: 'left the room, or removed someone' });
  });
});
