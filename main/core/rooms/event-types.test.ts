import { describe, expect, it } from 'vitest';
import { CONTENT_SCHEMAS, MAX_BODY_CHARS, MAX_REACTION_KEY_CHARS } from './event-types.ts';

const message = CONTENT_SCHEMAS['m.message'];
const reaction = CONTENT_SCHEMAS['m.reaction.add'];
const target = '$e:a.test';

describe('content length limits count characters (code points), not UTF-16 units', () => {
  it('a body of the maximum in astral characters is accepted, one more is refused', () => {
    expect(message.safeParse({ body: '😀'.repeat(MAX_BODY_CHARS) }).success).toBe(true);
    expect(message.safeParse({ body: '😀'.repeat(MAX_BODY_CHARS + 1) }).success).toBe(false);
    expect(message.safeParse({ body: 'x'.repeat(MAX_BODY_CHARS) }).success).toBe(true);
    expect(message.safeParse({ body: 'x'.repeat(MAX_BODY_CHARS + 1) }).success).toBe(false);
    expect(message.safeParse({ body: `${'x'.repeat(MAX_BODY_CHARS - 1)}😀` }).success).toBe(true);
  });

  it('lone surrogates count one each', () => {
    expect(message.safeParse({ body: '\ud800'.repeat(MAX_BODY_CHARS) }).success).toBe(true);
    expect(message.safeParse({ body: '\udc00'.repeat(MAX_BODY_CHARS + 1) }).success).toBe(false);
  });

  it('reaction keys likewise', () => {
    expect(reaction.safeParse({ target, key: '👍🏽'.repeat(MAX_REACTION_KEY_CHARS / 2) }).success).toBe(true);
    expect(reaction.safeParse({ target, key: '👍'.repeat(MAX_REACTION_KEY_CHARS + 1) }).success).toBe(false);
  });
});
