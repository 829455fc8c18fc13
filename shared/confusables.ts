/**
 * Names that deceive by look (issue #14 item 10; Unicode TR39 "confusable detection", in small).
 * The node refuses characters that hide or reorder text (identifiers.ts); this flags names made of
 * visible characters that pass for other ones: `@оwner` with a Cyrillic о, a room "Аdmins" with a
 * Cyrillic А, "сорру" written entirely in Cyrillic look-alikes, or "𝐀𝐝𝐦𝐢𝐧" in mathematical bold.
 * The one place for this check: the renderer marks every user id, server name and room name it
 * flags (renderer/src/lib/display.ts, components/Name.svelte).
 *
 * Two rules, each on what a reader sees:
 *  - mixed scripts: a word (a run of letters, marks and digits) holds letters of more than one
 *    script — Common and Inherited characters count for none, and the combinations real writing
 *    uses are allowed (Latin with Han and Hiragana/Katakana, with Han and Hangul, with Han and
 *    Bopomofo);
 *  - reads as Latin: every letter of the name is Latin or a look-alike of a Latin letter, and at
 *    least one is a look-alike (a Cyrillic, Greek or Armenian letter in the table below, or a
 *    compatibility form whose NFKC form is a Latin letter: fullwidth, mathematical, ligatures).
 *
 * The skeleton (TR39's name for "what it looks like") maps the look-alikes to their Latin letter.
 */

/** A subset of TR39 confusables.txt: Cyrillic, Greek and Armenian letters that look like a Latin one. */
const LATIN_LOOKALIKES: Readonly<Record<string, string>> = {
  // Cyrillic
  а: 'a', е: 'e', о: 'o', р: 'p', с: 'c', у: 'y', х: 'x', і: 'i', ј: 'j', ѕ: 's', һ: 'h', ԁ: 'd', ԛ: 'q', ԝ: 'w', ӏ: 'l', ү: 'y',
  А: 'A', В: 'B', Е: 'E', К: 'K', М: 'M', Н: 'H', О: 'O', Р: 'P', С: 'C', Т: 'T', У: 'Y', Х: 'X', Ѕ: 'S', І: 'I', Ј: 'J', Ү: 'Y', Ԛ: 'Q', Ԝ: 'W', Ӏ: 'I',
  // Greek
  α: 'a', ο: 'o', ρ: 'p', ν: 'v', ι: 'i', κ: 'k', υ: 'u', χ: 'x', γ: 'y', ϲ: 'c', ϳ: 'j',
  Α: 'A', Β: 'B', Ε: 'E', Ζ: 'Z', Η: 'H', Ι: 'I', Κ: 'K', Μ: 'M', Ν: 'N', Ο: 'O', Ρ: 'P', Τ: 'T', Υ: 'Y', Χ: 'X', Ϲ: 'C',
  // Latin letters that pass for other Latin letters
  ɡ: 'g',
  // Armenian
  օ: 'o', ս: 'u', ց: 'g', զ: 'q', հ: 'h', ո: 'n',
};

/** Scripts told apart; a letter of none of these counts as "Other". */
const SCRIPTS: ReadonlyArray<[string, RegExp]> = [
  ['Latin', /\p{Script=Latin}/u], ['Cyrillic', /\p{Script=Cyrillic}/u], ['Greek', /\p{Script=Greek}/u], ['Armenian', /\p{Script=Armenian}/u],
  ['Georgian', /\p{Script=Georgian}/u], ['Cherokee', /\p{Script=Cherokee}/u], ['Coptic', /\p{Script=Coptic}/u], ['Arabic', /\p{Script=Arabic}/u],
  ['Hebrew', /\p{Script=Hebrew}/u], ['Devanagari', /\p{Script=Devanagari}/u], ['Thai', /\p{Script=Thai}/u], ['Ethiopic', /\p{Script=Ethiopic}/u],
  ['Han', /\p{Script=Han}/u], ['Hiragana', /\p{Script=Hiragana}/u], ['Katakana', /\p{Script=Katakana}/u], ['Hangul', /\p{Script=Hangul}/u],
  ['Bopomofo', /\p{Script=Bopomofo}/u],
];
const NEUTRAL = /[\p{Script=Common}\p{Script=Inherited}]/u;
const LETTER = /\p{L}/u;
const WORD = /[\p{L}\p{M}\p{N}]+/gu;
/** Script sets real writing mixes (TR39 "highly restrictive"). */
const ALLOWED_MIXES: ReadonlyArray<ReadonlySet<string>> = [
  new Set(['Latin', 'Han', 'Hiragana', 'Katakana']),
  new Set(['Latin', 'Han', 'Hangul']),
  new Set(['Latin', 'Han', 'Bopomofo']),
];
const ASCII_LETTERS = /^[A-Za-z]+$/;

function scriptOf(ch: string): string | null {
  if (!LETTER.test(ch) || NEUTRAL.test(ch)) return null;
  for (const [name, pattern] of SCRIPTS) if (pattern.test(ch)) return name;
  return 'Other';
}

/** The Latin letter(s) a character passes for, or null when it is not a look-alike. */
function lookalikeOf(ch: string): string | null {
  const mapped = LATIN_LOOKALIKES[ch];
  if (mapped !== undefined) return mapped;
  if (!LETTER.test(ch)) return null;
  const compatible = ch.normalize('NFKC');
  return compatible !== ch && ASCII_LETTERS.test(compatible) ? compatible : null;
}

/** What a name looks like: every look-alike replaced by the Latin letter it passes for. */
export function skeleton(text: string): string {
  let out = '';
  for (const ch of text) out += lookalikeOf(ch) ?? ch;
  return out;
}

/** Every character outside printable ASCII written as ⟨U+XXXX⟩ (for a tooltip that shows what a name is made of). */
export function escapedCodePoints(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    out += cp >= 0x20 && cp < 0x7f ? ch : `⟨U+${cp.toString(16).toUpperCase().padStart(4, '0')}⟩`;
  }
  return out;
}

export interface ConfusableName {
  reason: 'mixed_scripts' | 'reads_as_latin';
  /** The scripts of its letters, sorted. */
  scripts: string[];
  /** What it passes for (TR39 skeleton). */
  skeleton: string;
  /** The name with every non-ASCII character written out as ⟨U+XXXX⟩. */
  escaped: string;
}

/** Why a name may deceive a reader (mixed scripts, or look-alikes reading as Latin), or null when it does not. */
export function confusableName(text: string | null | undefined): ConfusableName | null {
  if (!text) return null;
  const all = new Set<string>();
  let mixed = false;
  for (const word of text.match(WORD) ?? []) {
    const scripts = new Set<string>();
    for (const ch of word) {
      const script = scriptOf(ch);
      if (script) scripts.add(script);
    }
    for (const s of scripts) all.add(s);
    if (scripts.size > 1 && !ALLOWED_MIXES.some((allowed) => [...scripts].every((s) => allowed.has(s)))) mixed = true;
  }
  let lookalikes = 0;
  let readsAsLatin = true;
  for (const ch of text) {
    if (!LETTER.test(ch)) continue;
    if (lookalikeOf(ch) !== null) lookalikes++;
    else if (!/\p{Script=Latin}/u.test(ch)) readsAsLatin = false;
  }
  if (!mixed && !(readsAsLatin && lookalikes > 0)) return null;
  return { reason: mixed ? 'mixed_scripts' : 'reads_as_latin', scripts: [...all].sort(), skeleton: skeleton(text), escaped: escapedCodePoints(text) };
}
