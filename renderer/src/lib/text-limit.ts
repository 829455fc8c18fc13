/**
 * Text over the length the node takes (a message, a room's name) is kept whole in its box, never
 * cut by a `maxlength`: the box says by how much it is over, in words, and it is not sent until it
 * fits (a tester's trial: a pasted 70,000-character text was cut to 4,000 and the cut one sent).
 * The node counts characters as code points (an emoji is one), of the trimmed text, and so does
 * this. Pure: text-limit.test.ts.
 */
import { MAX_MESSAGE_CHARS, MAX_ROOM_NAME_LENGTH } from '../../../shared/contract/admin-operations.ts';

const number = (n: number) => n.toLocaleString('en-US');

function codePoints(s: string): number {
  let count = 0;
  for (const _ of s) count++;
  return count;
}

/** How many characters `text` (as sent: trimmed) is over what a message may hold; 0 when it fits. */
export function messageOver(text: string): number {
  return Math.max(0, codePoints(text.trim()) - MAX_MESSAGE_CHARS);
}

/** How many characters a room name (trimmed, as the node reads it) is over its limit; 0 when it fits. */
export function roomNameOver(name: string): number {
  return Math.max(0, codePoints(name.trim()) - MAX_ROOM_NAME_LENGTH);
}

/** The words beside a message box whose text is too long; '' when it fits. */
export function messageOverWords(text: string): string {
  const over = messageOver(text);
  return over === 0 ? '' : `${number(over)} ${over === 1 ? 'character' : 'characters'} over the ${number(MAX_MESSAGE_CHARS)} a message may hold: split it into shorter messages.`;
}

/** The words beside a room name that is too long; '' when it fits. */
export function roomNameOverWords(name: string): string {
  const over = roomNameOver(name);
  return over === 0 ? '' : `${number(over)} ${over === 1 ? 'character' : 'characters'} over the ${number(MAX_ROOM_NAME_LENGTH)} a room name may have: shorten it.`;
}
