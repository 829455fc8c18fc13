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
        : `Waiting: new messages from ${wait.server} are held back — your node stores only so much from one server a day, and today's share is used up. ${arrive} To let more in, raise the daily limit (serve --peer-quota-day, or the environment variable PARACORD_PEER_QUOTA_DAY_BYTES for the desktop app) and restart the node.`;
    }
    const messages = wait.messages > 0 ? plural(wait.messages, 'message') : 'messages';
    return `Waiting: ${wait.server} limits how fast we may send; ${messages} will go out shortly${when ? ` (the next ${when})` : ''}.`;
  });
}

/**
 * The room list's few words for what a room waits on (its full line is the room's own, above):
 * "messages from X held back", "sending slowed by X"; null when nothing waits.
 */
export function roomWaitShort(waits: readonly RoomWait[] | undefined): string | null {
  if (!waits || waits.length === 0) return null;
  const held = waits.filter((w) => w.reason === 'storage_quota').map((w) => w.server);
  const slowed = waits.filter((w) => w.reason !== 'storage_quota').map((w) => w.server);
  const parts = [
    ...(held.length > 0 ? [`messages from ${held.join(', ')} held back`] : []),
    ...(slowed.length > 0 ? [`sending slowed by ${slowed.join(', ')}`] : []),
  ];
  return `waiting: ${parts.join('; ')}`;
}
