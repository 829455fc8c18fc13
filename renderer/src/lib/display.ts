/**
 * Showing names peers choose (issue #14 item 10). The node refuses bidi controls, control and
 * invisible characters in user ids and room names, but the UI does not rely on that alone
 * (older data, relayed data, message bodies): every peer-chosen string is shown through
 * `visible()` inside a `<bdi>` (bidi isolation), so `@\u202Erenwo:x` can never reorder the
 * text around it, and any such character shows as a visible `⟨U+202E⟩` instead of acting.
 * Names that deceive by look (`@оwner` with a Cyrillic о) are shown marked (nameWarning,
 * components/Name.svelte).
 */
import { confusableName, escapedCodePoints } from '../../../shared/confusables.ts';

/**
 * The node's classes (shared/identifiers.ts UNSAFE_DISPLAY): controls, format characters,
 * private-use, unassigned, separators, default-ignorables and variation selectors — except
 * VS15/VS16 right after an emoji and U+200D between emoji (emoji sequences such as ❤️ or 👨‍👩‍👧);
 * the three subdivision flags are left whole (FLAG_OR_HIDDEN, as isSafeReactionKey allows them).
 */
const HIDDEN = /(?!(?<=\p{Emoji})[\uFE0E\uFE0F])(?!(?<=\p{Extended_Pictographic}(?:\uFE0F|\p{Emoji_Modifier})?)\u200D(?=\p{Extended_Pictographic}))[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}\p{Variation_Selector}]/gu;
/** The three subdivision flags (England, Scotland, Wales) as whole sequences: their tags are shown as they are. */
const FLAG_OR_HIDDEN = new RegExp(`(\u{1F3F4}\u{E0067}\u{E0062}(?:\u{E0065}\u{E006E}\u{E0067}|\u{E0073}\u{E0063}\u{E0074}|\u{E0077}\u{E006C}\u{E0073})\u{E007F})|${HIDDEN.source}`, 'gu');

/**
 * Combining marks shown on one character. A name of one letter and a hundred marks ("Zalgo") is
 * drawn as a tall stack that paints over the messages, the room list and the header around it (a
 * red-team review, 2026-11-30): past this many in a row the rest are written out as ⟨+N marks⟩.
 * Four covers the stacks scripts write (Vietnamese, Thai, Hebrew points and cantillation).
 */
const MAX_MARKS = 4;
const MARKS_PAST_MAX = new RegExp(`(?<=\\p{M}{${MAX_MARKS}})\\p{M}+`, 'gu');

/** Control, bidi and invisible characters written out as ⟨U+XXXX⟩, stacks of marks cut; everything else unchanged. */
export function visible(text: string | null | undefined): string {
  if (!text) return '';
  return text
    .replace(FLAG_OR_HIDDEN, (ch, flag: string | undefined) => flag ?? `⟨U+${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}⟩`)
    .replace(MARKS_PAST_MAX, (marks) => `⟨+${[...marks].length} marks⟩`);
}

/** Whether `visible()` changed anything: the UI marks such a name as suspicious. */
export function hasHiddenCharacters(text: string | null | undefined): boolean {
  if (!text) return false;
  for (const match of text.matchAll(FLAG_OR_HIDDEN)) if (match[1] === undefined) return true;
  return hasStackedMarks(text);
}

function hasStackedMarks(text: string): boolean {
  MARKS_PAST_MAX.lastIndex = 0;
  return MARKS_PAST_MAX.test(text);
}

/**
 * Why a peer-chosen name (user id, server name, room name) should be shown marked, in words for a
 * tooltip, or null: hidden characters, or a confusable name (shared/confusables.ts: mixed scripts,
 * look-alikes that read as Latin), with every non-ASCII character written out as ⟨U+XXXX⟩.
 */
export function nameWarning(text: string | null | undefined): string | null {
  if (!text) return null;
  const confusable = confusableName(text);
  if (confusable) {
    const what = confusable.reason === 'mixed_scripts' ? `mixes scripts (${confusable.scripts.join(', ')})` : 'is written in look-alikes of Latin letters';
    return `Careful: this name ${what} and looks like “${confusable.skeleton}”. It is: ${confusable.escaped}`;
  }
  if (hasStackedMarks(text)) return `Careful: this name stacks more marks on a letter than any script writes. It is: ${escapedCodePoints(text)}`;
  if (hasHiddenCharacters(text)) return `Careful: this name holds hidden characters. It is: ${escapedCodePoints(text)}`;
  return null;
}
