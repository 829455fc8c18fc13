import { describe, expect, it } from 'vitest';
import { cleanText, peerCode, terminalJson } from './untrusted-text.ts';

describe('untrusted text', () => {
  it('escapes what a terminal acts on, keeps ordinary text (accents, emoji) as it is, and cuts', () => {
    expect(cleanText('\u001b]52;c;aGk=\u0007\u001b[2J\rOK\n\u202eevil\u0085\u009b1m\u2028')).toBe('\\x1b]52;c;aGk=\\x07\\x1b[2J\\x0dOK\\x0a\\u202eevil\\x85\\x9b1m\\u2028');
    expect(cleanText('café — ça va ? 🎉 日本')).toBe('café — ça va ? 🎉 日本');
    expect(cleanText('x'.repeat(20), 5)).toBe('xxxxx…');
    expect(cleanText('a\ud800b')).toBe('a\ufffdb');
  });

  it('JSON for a terminal is the same JSON, with C1 and bidi controls escaped', () => {
    const value = { message: '\u001b[31m\u202e\u0085red\u2029', emoji: '🎉' };
    const text = terminalJson(value);
    expect(JSON.parse(text)).toEqual(value);
    expect(text).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2028\u2029]/); // eslint-disable-line no-control-regex
  });

  it('a peer code is a short snake_case word, or nothing', () => {
    expect(peerCode('link_used')).toBe('link_used');
    for (const value of ['Link_used', 'a b', '\u001b[2J', 'x'.repeat(65), 42, null]) expect(peerCode(value)).toBeNull();
  });
});
