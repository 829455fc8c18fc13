/**
 * Showing names peers choose (issue #14 item 10). The node refuses bidi controls, control and
 * invisible characters in user ids and room names, but the UI does not rely on that alone
 * (older data, relayed data, message bodies): every peer-chosen string is shown through
 * `visible()` inside a `<bdi>` (bidi isolation), so `@\u202Erenwo:x` can never reorder the
 * text around it, and any such character shows as a visible `⟨U+202E⟩` instead of acting.
 */

/**
 * The node's classes (shared/identifiers.ts UNSAFE_DISPLAY): controls, format characters,
 * private-use, unassigned, separators, default-ignorables and variation selectors — except
 * VS15/VS16 right after an emoji and U+200D between emoji (emoji sequences such as ❤️ or 👨‍👩‍👧).
 */
const HIDDEN = /(?!(?<=\p{Emoji})[\uFE0E\uFE0F])(?!(?<=\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier})?)\u200D(?=\p{Extended_Pictographic}))[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Variation_Selector}]/gu;

/** Control, bidi and invisible characters written out as ⟨U+XXXX⟩; everything else unchanged. */
export function visible(text: string | null | undefined): string {
  if (!text) return '';
  return text.replace(HIDDEN, (ch) => `⟨U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}⟩`);
}

/** Whether `visible()` changed anything: the UI marks such a name as suspicious. */
export function hasHiddenCharacters(text: string | null | undefined): boolean {
  if (!text) return false;
  HIDDEN.lastIndex = 0;
  const found = HIDDEN.test(text);
  HIDDEN.lastIndex = 0;
  return found;
}
