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

/** The member's banner while calls get no answer: the device's network is gone, or (it has one) the server does not answer. */
export function offlineWords(online: boolean): { title: string; detail: string } {
  return {
    title: 'You are offline — your message will be sent when you are back.',
    detail: online
      ? 'This device has a network, so the server may be down or unreachable from here. This page reconnects by itself.'
      : 'This page reconnects by itself when this device is online again.',
  };
}
