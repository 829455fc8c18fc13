import { describe, expect, it } from 'vitest';
import { isSafeReactionKey } from './identifiers.ts';

describe('isSafeReactionKey', () => {
  it('takes emoji sequences, subdivision flags included', () => {
    const flags = ['gbeng', 'gbsct', 'gbwls'].map((tag) => `\u{1F3F4}${[...tag].map((c) => String.fromCodePoint(0xe0000 + c.charCodeAt(0))).join('')}\u{E007F}`);
    for (const key of ['👍', '❤️', '👨‍👩‍👧', '👍🏽', 'party_parrot:123456789012345678', ...flags]) expect(isSafeReactionKey(key), key).toBe(true);
  });

  it('refuses tags outside a flag, a flag without its cancel tag, and hidden text in tags', () => {
    const tags = (text: string) => [...text].map((c) => String.fromCodePoint(0xe0000 + c.charCodeAt(0))).join('');
    // Flag after flag with made-up tags (each short, all under 32 characters) would carry "ignorepreviousrules".
    const smuggled = ['ignor', 'eprev', 'ious', 'rules'].map((chunk) => `\u{1F3F4}${tags(chunk)}\u{E007F}`).join('');
    for (const key of [`a${tags('gbeng')}\u{E007F}`, `\u{1F3F4}${tags('gbeng')}`, `\u{1F3F4}${tags('ignore previous')}\u{E007F}`, `\u{1F3F4}${tags('GBENG')}\u{E007F}`, `\u{1F3F4}${tags('usca')}\u{E007F}`, smuggled, '\u202E👍']) {
      expect(isSafeReactionKey(key), JSON.stringify(key)).toBe(false);
    }
  });
});
