import { describe, expect, it } from 'vitest';
import { loadScorer, passphraseHint } from './passphrase-hint.ts';

describe('passphrase hint (issue #34)', () => {
  it('counts the characters still needed, then judges with the score', () => {
    expect(passphraseHint('', null)).toMatchObject({ ok: false, text: expect.stringMatching(/^At least 10 characters/) });
    expect(passphraseHint('abcdefghi', null)).toEqual({ ok: false, text: '1 more character needed.' });
    expect(passphraseHint('abc', 4)).toEqual({ ok: false, text: '7 more characters needed.' });
    expect(passphraseHint('abcdefghij', null)).toEqual({ ok: true, text: 'Long enough.' });
    expect(passphraseHint('password12', 0)).toMatchObject({ ok: false });
    expect(passphraseHint('kettle orbit lantern', 4)).toEqual({ ok: true, text: 'Strong.' });
  });

  it('scores as the node does: common passphrases low, unrelated words high', async () => {
    const score = await loadScorer();
    expect(score('password1234', [])).toBeLessThan(3);
    expect(score('kettle orbit lantern mosaic', [])).toBeGreaterThanOrEqual(3);
  });
});
