import { describe, expect, it } from 'vitest';
import { adminOperations } from '../../../shared/contract/admin-operations.ts';
import { messageOver, messageOverWords, roomNameOver, roomNameOverWords } from './text-limit.ts';

describe('text over its limit', () => {
  it('counts a message as the node does: code points of the trimmed text, an emoji as one', () => {
    const takes = (body: string) => adminOperations.sendMessage.input.safeParse({ room_id: '!r:a.test', body: body.trim() }).success;
    for (const body of ['x'.repeat(4000), 'x'.repeat(4001), '😀'.repeat(4000), '😀'.repeat(4001), `  ${'y'.repeat(4000)}  `]) {
      expect(messageOver(body) === 0, body.slice(0, 8)).toBe(takes(body));
    }
    expect(messageOver('😀'.repeat(4003))).toBe(3);
  });

  it('says by how much a message is over, in words, and nothing when it fits', () => {
    expect(messageOverWords('x'.repeat(4000))).toBe('');
    expect(messageOverWords('x'.repeat(4001))).toBe('1 character over the 4,000 a message may hold: split it into shorter messages.');
    expect(messageOverWords('x'.repeat(8321))).toBe('4,321 characters over the 4,000 a message may hold: split it into shorter messages.');
  });

  it('counts a room name as the node does (trimmed code points) and says it is too long', () => {
    const takes = (name: string) => adminOperations.createRoom.input.safeParse({ name }).success;
    for (const name of ['n'.repeat(100), 'n'.repeat(101), '😀'.repeat(100), '😀'.repeat(101), ` ${'n'.repeat(100)} `]) {
      expect(roomNameOver(name) === 0, name.slice(0, 8)).toBe(takes(name));
    }
    expect(roomNameOverWords('n'.repeat(100))).toBe('');
    expect(roomNameOverWords('n'.repeat(560))).toBe('460 characters over the 100 a room name may have: shorten it.');
  });
});
