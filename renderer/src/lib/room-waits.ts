/**
 * What a room waits for on another server's limit (RoomSummary `waits`), in words: polled messages
 * held back by this node's daily storage quota for that server, or our messages going out only
 * as fast as that server takes them. Neither is a failure: each goes on by itself, and the words
 * say when. Pure: lib/room-waits.test.ts.
 */
import type { RoomWait } from '../../../shared/contract/admin-operations.ts';
import { fromNow, plural } from './format.ts';

export function roomWaitLines(waits: readonly RoomWait[] | undefined, opts: { member: boolean; now?: number }): string[] {
  const now = opts.now ?? Date.now();
  return (waits ?? []).map((wait) => {
    const when = wait.until !== null && wait.until > now + 1000 ? fromNow(wait.until, now) : '';
    if (wait.reason === 'storage_quota') {
      const arrive = when ? `They arrive ${when}, by themselves.` : 'They arrive later, by themselves.';
      return opts.member
        ? `Waiting: new messages from ${wait.server} are held back — this server stores only so much from another server a day, and today's share is used up. ${arrive}`
        : `Waiting: new messages from ${wait.server} are held back — your node stores only so much from one server a day, and today's share is used up. ${arrive} To let more in, raise the daily limit (--peer-quota-day) and restart the node.`;
    }
    const messages = wait.messages > 0 ? plural(wait.messages, 'message') : 'messages';
    return `Waiting: ${wait.server} limits how fast we may send; ${messages} will go out shortly${when ? ` (the next ${when})` : ''}.`;
  });
}
