/**
 * Whether a failed call means this device is offline (issue #34 item 5): the browser says it has no
 * network, or the request got no answer at all (fetch's TypeError) — not an error answer of the
 * node, which is there. Tested in offline.test.ts.
 */
import { AdminError } from '../../../shared/contract/client.ts';

export function isOfflineFailure(error: unknown, online: boolean): boolean {
  if (error instanceof AdminError) return false;
  return !online || error instanceof TypeError;
}

/**
 * What waits and what does not (a helper's UI check: an edit or a reaction made meanwhile was lost
 * without a word). Messages wait in this tab (lib/unsent.svelte.ts), whatever room or page is
 * opened in it, and across a reload; closing it loses them (the browser asks first).
 */
const KEPT = 'Messages wait in this tab, also while you open other rooms or reload it, not if you close it; edits and reactions are not kept: make them again then.';

/** The member's banner while calls get no answer: the device's network is gone, or (it has one) the server does not answer. */
export function offlineWords(online: boolean): { title: string; detail: string } {
  // With a network, the device is not offline: the server does not answer (a helper's UI check:
  // it said "You are offline" above "This device has a network").
  return online
    ? {
        title: 'The server does not answer — messages you send now go out when it is back.',
        detail: `This device has a network, so the server may be down or unreachable from here. This page reconnects by itself. ${KEPT}`,
      }
    : { title: 'You are offline — messages you send now go out when you are back.', detail: `This page reconnects by itself when this device is online again. ${KEPT}` };
}

/**
 * A member's own message that got no answer, under it: `unknown` when the connection closed under
 * it (the server may have it), else not sent. With a network the server is what does not answer:
 * not "there is no connection" (a helper's UI check of the members' app).
 */
export function unsentWords(state: 'unknown' | 'failed', online: boolean): string {
  const when = online ? 'when the server answers again' : 'when you are back';
  if (state === 'unknown') return `Maybe not sent: the connection closed before the server answered. It is sent again by itself ${when} (never twice).`;
  return online ? `Not sent yet: the server does not answer. It is sent by itself ${when} (never twice).` : `Not sent yet: there is no connection. It is sent by itself ${when} (never twice).`;
}

/** A message written over a day ago (lib/unsent-kept.ts): the node no longer tells a copy apart, so it is not sent again by itself. */
export function tooOldWords(maybeStored: boolean): string {
  return maybeStored
    ? 'Maybe not sent, and written over a day ago: too long to be sent again by itself. If it is not in the room above, send it again.'
    : 'Not sent, and written over a day ago: too long to be sent by itself. Send it again if it still matters.';
}

/** On the sign-in page once the session ended under the page: what happened to the messages that waited (kept in this tab). */
export function signedOutUnsentWords(count: number, member: boolean): string {
  const what = count === 1 ? 'A message you wrote was not sent. It is' : `${count} messages you wrote were not sent. They are`;
  const signIn = member ? 'sign in again in this tab' : 'open a new login link in this tab';
  return `${what} kept in this tab: ${signIn} within a day of writing ${count === 1 ? 'it, and it is' : 'them, and they are'} sent by ${count === 1 ? 'itself' : 'themselves'} (never twice).`;
}
