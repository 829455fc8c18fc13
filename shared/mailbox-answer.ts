/**
 * A delivery's error when a friend's mailbox answered instead of the destination (issue #32): the
 * mailbox did not take the request, the destination never saw it. The node stores it in these
 * words (outbox/delivery-outcomes.ts) and the UI recognizes them here (lib/errors.ts,
 * lib/peer-state.ts), so a mailbox's "paused" or "full" is never read as the friend's own answer.
 */
const PREFIX = 'the mailbox at ';
const MIDDLE = ' answered ';

/** "the mailbox at carol.test answered HTTP 503 federation_paused: …". */
export function mailboxAnswer(mailbox: string, answer: string): string {
  return `${PREFIX}${mailbox}${MIDDLE}${answer}`;
}

/** The mailbox and its answer, when `error` is such an error; else null. */
export function parseMailboxAnswer(error: string | null | undefined): { mailbox: string; answer: string } | null {
  if (!error?.startsWith(PREFIX)) return null;
  const end = error.indexOf(MIDDLE, PREFIX.length);
  if (end < 0) return null;
  return { mailbox: error.slice(PREFIX.length, end), answer: error.slice(end + MIDDLE.length) };
}
