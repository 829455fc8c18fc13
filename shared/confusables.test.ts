import { describe, expect, it } from 'vitest';
import { confusableName, escapedCodePoints, skeleton } from './confusables.ts';

describe('confusableName (issue #14 item 10)', () => {
  it('flags a Latin name with one Cyrillic or Greek look-alike (mixed scripts)', () => {
    const owner = confusableName('@\u043Ewner:ref.test'); // Cyrillic о
    expect(owner).toMatchObject({ reason: 'mixed_scripts', scripts: ['Cyrillic', 'Latin'], skeleton: '@owner:ref.test', escaped: '@⟨U+043E⟩wner:ref.test' });
    expect(confusableName('\u0410dmins')).toMatchObject({ reason: 'mixed_scripts', skeleton: 'Admins', escaped: '⟨U+0410⟩dmins' });
    expect(confusableName('p\u0430ypal')?.skeleton).toBe('paypal');
    expect(confusableName('\u039Fwner')?.reason).toBe('mixed_scripts'); // Greek Ο
    expect(confusableName('Привеt')?.reason).toBe('mixed_scripts'); // not a look-alike, still one word in two scripts
  });

  it('flags a name written entirely in look-alikes (reads as Latin), and compatibility forms', () => {
    expect(confusableName('\u0441\u043E\u0440')).toMatchObject({ reason: 'reads_as_latin', scripts: ['Cyrillic'], skeleton: 'cop' });
    expect(confusableName('@\u0430:x.test')).toMatchObject({ reason: 'reads_as_latin', skeleton: '@a:x.test' });
    expect(confusableName('\u0391\u0392\u0395')?.skeleton).toBe('ABE'); // Greek capitals
    expect(confusableName('\u{1D400}\u{1D41D}\u{1D426}\u{1D422}\u{1D427}')).toMatchObject({ reason: 'reads_as_latin', skeleton: 'Admin' }); // mathematical bold
    expect(confusableName('\uFF21dmin')?.skeleton).toBe('Admin'); // fullwidth Ａ
  });

  it('leaves ordinary names in one script, and the mixes real writing uses, alone', () => {
    for (const name of [
      '@alice:alpha.example.org', 'Admins', 'Café au lait', 'Işık', 'Ærøskøbing', 'Привет', 'Чат с друзьями', 'Привет club', 'Καλημέρα',
      'שלום', 'مرحبا', '日本語の部屋', 'Tokyo 東京 とうきょう', '한국어 Han 漢字', '😀 party 🎉', 'room-42', '', '@Σωκράτης:ref.test',
    ]) {
      expect(confusableName(name), name).toBeNull();
    }
    expect(confusableName(null)).toBeNull();
  });

  it('skeleton and escapes', () => {
    expect(skeleton('\u0410\u0412\u0421')).toBe('ABC');
    expect(skeleton('plain')).toBe('plain');
    expect(escapedCodePoints('a\u0430\u{1F600}')).toBe('a⟨U+0430⟩⟨U+1F600⟩');
  });
});
