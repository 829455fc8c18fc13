import { describe, expect, it } from 'vitest';
import { hasHiddenCharacters, nameWarning, visible } from './display.ts';

describe('visible', () => {
  it('writes out a right-to-left override instead of letting it reorder the name', () => {
    const spoof = '@\u202Erenwo:x'; // displays as "@x:owner" when rendered raw
    expect(visible(spoof)).toBe('@⟨U+202E⟩renwo:x');
    expect(hasHiddenCharacters(spoof)).toBe(true);
  });

  it('writes out every bidi control, zero-width and control character', () => {
    for (const ch of ['\u200B', '\u200D', '\u200E', '\u200F', '\u061C', '\u202A', '\u202D', '\u2066', '\u2069', '\uFEFF', '\u0000', '\u001B', '\u0085', '\u{E0041}']) {
      const shown = visible(`a${ch}b`);
      expect(shown).toMatch(/^a⟨U\+[0-9A-F]{4,5}⟩b$/);
    }
  });

  it('cuts a stack of combining marks ("Zalgo", drawn over the page around it) to four, the rest written out; the stacks scripts write are left alone', () => {
    const zalgo = `A${'\u0489\u0336'.repeat(48)}`;
    expect(visible(zalgo)).toBe(`A\u0489\u0336\u0489\u0336⟨+92 marks⟩`);
    expect(hasHiddenCharacters(zalgo)).toBe(true);
    expect(nameWarning(zalgo)).toMatch(/^Careful: this name stacks more marks on a letter than any script writes\. It is: /);
    for (const name of ['Nguyễn Thị Ánh', 'ก่ำ', 'בְּרֵאשִׁ֖ית', 'e\u0301\u0302\u0303\u0304']) {
      expect(visible(name)).toBe(name);
      expect(hasHiddenCharacters(name)).toBe(false);
    }
  });

  it('leaves ordinary names and other scripts alone', () => {
    for (const name of ['@alice:alpha.example.org', 'Café 😀', 'שלום', 'مرحبا', '日本語の部屋']) {
      expect(visible(name)).toBe(name);
      expect(hasHiddenCharacters(name)).toBe(false);
    }
    expect(visible(null)).toBe('');
  });

  it('leaves emoji sequences alone but writes out other invisible format characters', () => {
    for (const name of ['❤️ Family', '👨‍👩‍👧', '❤️‍🔥', '👍🏽']) expect(visible(name)).toBe(name);
    expect(visible('Fam\u{1D173}ily')).toBe('Fam⟨U+1D173⟩ily');
    expect(visible('a\uFE0Fb')).toBe('a⟨U+FE0F⟩b');
    expect(visible('a\u200D👍')).toBe('a⟨U+200D⟩👍');
    expect(visible('1\u200D👍')).toBe('1⟨U+200D⟩👍');
  });

  it("leaves a subdivision flag's tags alone (England, Scotland, Wales) but writes out tags anywhere else", () => {
    const england = '\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F}';
    expect(visible(england)).toBe(england);
    expect(hasHiddenCharacters(england)).toBe(false);
    expect(visible('a\u{E0067}\u{E007F}')).toBe('a⟨U+E0067⟩⟨U+E007F⟩');
    expect(visible('\u{1F3F4}\u{E0041}')).toBe('\u{1F3F4}⟨U+E0041⟩');
    // Flag after flag with made-up tags would carry text nobody sees: only the three real flags are left whole.
    const fake = '\u{1F3F4}\u{E0069}\u{E0067}\u{E006E}\u{E007F}\u{1F3F4}\u{E006F}\u{E0072}\u{E0065}\u{E007F}';
    expect(hasHiddenCharacters(fake)).toBe(true);
    expect(visible(fake)).toBe('\u{1F3F4}⟨U+E0069⟩⟨U+E0067⟩⟨U+E006E⟩⟨U+E007F⟩\u{1F3F4}⟨U+E006F⟩⟨U+E0072⟩⟨U+E0065⟩⟨U+E007F⟩');
    expect(visible(`ok ${england}${england} ok`)).toBe(`ok ${england}${england} ok`);
    expect(hasHiddenCharacters(`a\u202E${england}`)).toBe(true);
  });

  it('is stable when called repeatedly (no regex state carried over)', () => {
    expect(hasHiddenCharacters('x\u202E')).toBe(true);
    expect(hasHiddenCharacters('x\u202E')).toBe(true);
    expect(visible('\u202E\u202E')).toBe('⟨U+202E⟩⟨U+202E⟩');
  });
});

describe('nameWarning', () => {
  it('marks confusable names and names with hidden characters, saying what they are made of', () => {
    expect(nameWarning('\u0410dmins')).toBe('Careful: this name mixes scripts (Cyrillic, Latin) and looks like “Admins”. It is: ⟨U+0410⟩dmins');
    expect(nameWarning('@\u043Ewner:ref.test')).toContain('@⟨U+043E⟩wner:ref.test');
    expect(nameWarning('\u0441\u043E\u0440')).toContain('look-alikes of Latin letters');
    expect(nameWarning('@\u202Erenwo:x')).toBe('Careful: this name holds hidden characters. It is: @⟨U+202E⟩renwo:x');
  });

  it('leaves ordinary names unmarked', () => {
    for (const name of ['@alice:alpha.example.org', 'Admins', 'Привет', '日本語の部屋', 'alpha.test', '', null]) expect(nameWarning(name), String(name)).toBeNull();
  });
});
