import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { cleanText, peerCode, schemaIssueText, terminalJson } from './untrusted-text.ts';

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

describe('schemaIssueText', () => {
  it('words a schema\'s first complaint as path: message, with a peer\'s key names cut and escaped (a strict object names unknown keys in its message; a record\'s keys are its path)', () => {
    const strict = z.strictObject({ a: z.string() });
    const hidden = `\u202E${'x'.repeat(100_000)}`;
    const unknown = strict.safeParse({ a: 'ok', [hidden]: 1 });
    expect(unknown.success).toBe(false);
    const words = schemaIssueText(unknown.error!.issues);
    expect(words.length).toBeLessThan(1_300); // 200 characters at most, each escaped to 6 at most
    expect(words).toContain('\\u202e');
    expect(words).not.toMatch(/\u202E/);
    const record = z.record(z.string(), z.number()).safeParse({ [`\u0007${'k'.repeat(500)}`]: 'not a number' });
    const inPath = schemaIssueText(record.error!.issues);
    expect(inPath.startsWith(`\\x07${'k'.repeat(39)}…: `)).toBe(true);
    expect(schemaIssueText(z.object({ a: z.string() }).safeParse({ a: 1 }).error!.issues)).toBe('a: Invalid input: expected string, received number');
    expect(schemaIssueText([], 'nothing said')).toBe('nothing said');
  });
});
