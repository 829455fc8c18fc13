import { describe, expect, it } from 'vitest';
import { CONTENT_SCHEMAS, MAX_BODY_CHARS, MAX_REACTION_KEY_CHARS, isWellFormedMessageContent } from './event-types.ts';

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

describe('isWellFormedMessageContent (fast path of the m.message schema)', () => {
  const cases: Array<Record<string, unknown>> = [
    { body: 'hi' },
    { body: 'hi', format: 'plain' },
    { body: 'hi', extra: { nested: true } },
    { body: '' },
    { body: 5 },
    { body: 'hi', format: 'html' },
    { body: 'hi', format: null },
    { format: 'plain' },
    { body: 'x'.repeat(MAX_BODY_CHARS + 1) },
    { body: '😀'.repeat(MAX_BODY_CHARS) },
    { body: 'hi', constructor: 'x' },
    JSON.parse('{"body": "hi", "__proto__": {"format": "html"}}') as Record<string, unknown>,
  ];
  it.each(cases.map((c, i) => [i, c] as const))('case %i: never accepts what the schema refuses', (_i, content) => {
    const schema = message.safeParse(content).success;
    if (!schema) expect(isWellFormedMessageContent(content)).toBe(false);
  });
  it('accepts the ordinary shapes', () => {
    for (const content of cases.slice(0, 3)) expect(isWellFormedMessageContent(content)).toBe(true);
  });
});
