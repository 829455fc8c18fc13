/** atMostCodePoints: the limit every message body and reaction key is held to, counted without an array. */
import { describe, expect, it } from 'vitest';
import { adminOperations } from './contract/admin-operations.ts';
import { atMostCodePoints } from './identifiers.ts';

describe('atMostCodePoints', () => {
  it('answers as [...s].length <= max does, for pairs, lone surrogates and plain text', () => {
    const pieces = ['a', 'é', '😀', '\uD83D', '\uDE00', '👨‍👩‍👧', '\uFFFF', '𝄞'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    for (let n = 0; n < 500; n++) {
      let s = '';
      const parts = next() % 12;
      for (let k = 0; k < parts; k++) s += pieces[next() % pieces.length];
      const codePoints = [...s].length;
      for (const max of [0, 1, codePoints - 1, codePoints, codePoints + 1, s.length]) {
        if (max < 0) continue;
        expect(atMostCodePoints(s, max), `${JSON.stringify(s)} max ${max}`).toBe(codePoints <= max);
      }
    }
  });

  it('holds a message body to 4000 characters, an emoji counting as one', () => {
    const input = (body: string) => adminOperations.sendMessage.input.safeParse({ room_id: '!r:a.test', body }).success;
    expect(input('😀'.repeat(4000))).toBe(true); // 8000 UTF-16 units
    expect(input('😀'.repeat(4001))).toBe(false);
    expect(input('x'.repeat(4000))).toBe(true);
    expect(input('x'.repeat(4001))).toBe(false);
  });
});
