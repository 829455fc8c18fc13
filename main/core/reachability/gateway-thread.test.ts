import { describe, expect, it } from 'vitest';
import { plain } from './gateway-thread.ts';

describe('plain (the words of a failed gateway call: much of it a LAN device\'s own text)', () => {
  it('escapes control and bidi characters, cuts at 200 characters, and says a timeout in words', () => {
    expect(plain(new Error('Bad content type \u001b[2J\u202egnp.exe'))).toBe('Bad content type \\x1b[2J\\u202egnp.exe');
    expect(plain(new Error('x'.repeat(300)))).toHaveLength(201);
    expect(plain(Object.assign(new Error('aborted'), { name: 'TimeoutError' }))).toBe('no answer in time');
    expect(plain('a plain string\r\nOK')).toBe('a plain string\\x0d\\x0aOK');
  });
});
