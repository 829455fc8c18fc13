/**
 * An entry of the dashboard's "refused" list, in words. A friend's refusal (an HTTP answer) says so,
 * with its cause; an entry this node did not send (the event no longer stored here, or one a
 * Paracord reference 3.x drops: carry.ts `reference3Refusal`, our own sentence) is not the friend's
 * refusal (a helper's UI check: "bob refused something you sent: Something went wrong"), nor is an
 * event the friend gave up because it could not check it (`unchecked_given_up`).
 * Pure: failed-entry.test.ts.
 */
import { explainCause, isGivenUpUnchecked } from './errors.ts';

export function failedEntryWords(destination: string, lastError: string | null, when: string): { lead: string; cause: string } {
  const error = lastError ?? '';
  // Given up there unchecked: never judged, so not "refused".
  if (isGivenUpUnchecked(error)) return { lead: `${destination} could not check something you sent ${when}:`, cause: explainCause(error).text };
  if (/^HTTP \d{3}/.test(error)) return { lead: `${destination} refused something you sent ${when}:`, cause: explainCause(error).text };
  const notCarried = /^not carried to [^:]+: (.+)$/s.exec(error);
  if (notCarried) return { lead: `Not sent to ${destination} ${when}:`, cause: `${notCarried[1]}.` };
  if (error === 'event no longer stored') return { lead: `Not sent to ${destination} ${when}:`, cause: 'it is no longer stored on this node.' };
  return { lead: `Not sent to ${destination} ${when}:`, cause: explainCause(error).text };
}
