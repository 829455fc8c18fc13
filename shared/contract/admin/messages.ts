/**
 * Messages in a room: reading, sending, editing, deleting, reactions, search.
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';
import { wholeNumber } from '../whole-number.ts';
import { atMostCodePoints, isSafeReactionKey } from '../../identifiers.ts';
import { actingUser, eventId, roomId, type MemberUse } from './schemas.ts';

const asUser: MemberUse = { acting: 'user_id' };

/** Messages one `POST /rooms/:room_id/messages/batch` may carry. */
export const MAX_MESSAGES_PER_BATCH = 100;

/**
 * A client's own id for one send (docs/ARCHITECTURE.md "Admin stream"): the same id again within a
 * day answers the message stored the first time and stores nothing new, so a send can be
 * repeated safely after a connection closed before its answer.
 */
const txnId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1-64 letters, digits, - or _');

/** The most characters (code points: an emoji is one) a message body may hold; the UI says so before sending. */
export const MAX_MESSAGE_CHARS = 4000;

// Counted without an array of its characters (issue #17: `[...s]` built one per message sent).
const messageBody = z.string().min(1, 'must not be empty').refine((s) => atMostCodePoints(s, MAX_MESSAGE_CHARS), `must be at most ${MAX_MESSAGE_CHARS} characters`);

/**
 * The most characters a reaction key of ours may hold (a reference server's reaction may hold more:
 * its custom emoji; the UI then shows it without "react too", which would be refused).
 */
export const MAX_REACTION_KEY_CHARS = 32;

const reactionKey = z
  .string()
  .min(1, 'must not be empty')
  .refine((s) => atMostCodePoints(s, MAX_REACTION_KEY_CHARS), `must be at most ${MAX_REACTION_KEY_CHARS} characters`)
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f\u007f]/.test(s), 'must not contain control characters')
  .refine(isSafeReactionKey, 'must not contain bidi control or invisible characters');

export const messageOperations = {
  listMessages: {
    method: 'GET',
    path: '/rooms/:room_id/messages',
    // A member who left, was removed or banned reads it too, up to then (MemberUse 'read').
    member: { acting: 'user_id', room: 'read' } satisfies MemberUse,
    input: z.strictObject({
      room_id: roomId,
      limit: wholeNumber(1, 500).default(50),
      /** Only messages before this one (display order): the page above it, for scrolling up. */
      before: eventId.optional(),
      /**
       * Only the messages that changed after this `cursor` of an earlier answer (new ones, and those
       * an edit, delete or reaction named since): the answer then says `changes: true`. When that
       * cannot be told (an old cursor, more than `limit` changes, a membership or role changed) the
       * answer is the newest page, without `changes`.
       */
      since: z.string().regex(/^\d{1,15}-\d{1,10}$/, 'must be a cursor from an earlier answer').optional(),
      /**
       * With `since`: these messages are in the answer too, changed or not (own messages whose
       * delivery changed: the `delivery` notification names them). At most 100; in a query string,
       * separated by commas.
       */
      also: z.preprocess((v) => (typeof v === 'string' ? v.split(',') : v), z.array(eventId).max(100, 'at most 100 ids')).optional(),
      ...actingUser,
    })
      .refine((x) => !(x.since !== undefined && x.before !== undefined), { message: 'give either before or since, not both', path: ['since'] })
      .refine((x) => x.also === undefined || x.since !== undefined, { message: 'also needs since', path: ['also'] }),
  },
  sendMessage: { method: 'POST', path: '/rooms/:room_id/messages', member: asUser, input: z.strictObject({ room_id: roomId, body: messageBody, txn_id: txnId.optional(), ...actingUser }) },
  /**
   * Several messages in one request and one transaction (issue #17: a client that has more than
   * one message to send — a paste of lines, a queue flushed after reconnecting, a pipelining
   * client — pays one request, not one each). All are stored, in order, or none.
   */
  sendMessages: {
    method: 'POST',
    path: '/rooms/:room_id/messages/batch',
    member: asUser,
    input: z.strictObject({ room_id: roomId, messages: z.array(z.strictObject({ body: messageBody, txn_id: txnId.optional() })).min(1).max(MAX_MESSAGES_PER_BATCH), ...actingUser }),
  },
  editMessage: {
    method: 'PATCH',
    path: '/rooms/:room_id/messages/:event_id',
    member: asUser,
    input: z.strictObject({ room_id: roomId, event_id: eventId, body: messageBody, ...actingUser }),
  },
  deleteMessage: {
    method: 'DELETE',
    path: '/rooms/:room_id/messages/:event_id',
    member: asUser,
    input: z.strictObject({ room_id: roomId, event_id: eventId, reason: z.string().max(500).optional(), ...actingUser }),
  },
  addReaction: {
    method: 'PUT',
    path: '/rooms/:room_id/messages/:event_id/reactions/:key',
    member: asUser,
    input: z.strictObject({ room_id: roomId, event_id: eventId, key: reactionKey, ...actingUser }),
  },
  removeReaction: {
    method: 'DELETE',
    path: '/rooms/:room_id/messages/:event_id/reactions/:key',
    member: asUser,
    input: z.strictObject({ room_id: roomId, event_id: eventId, key: reactionKey, ...actingUser }),
  },
  searchMessages: {
    method: 'GET',
    path: '/search',
    member: asUser,
    input: z.strictObject({
      q: z.string().max(500, 'must be at most 500 characters').default(''),
      room_id: roomId.optional(),
      limit: wholeNumber(1, 200).default(50),
      ...actingUser,
    }),
  },
} as const;

export interface MessageOutputs {
  listMessages: {
    room_id: string;
    messages: MessageView[];
    /** Whether older messages exist before the first one (a page, not changes). */
    has_more?: boolean;
    /** Where this answer stands in the node's events: `since` of the next request. */
    cursor: string;
    /** The answer holds only the messages that changed after `since` (merge them); absent: the newest page. */
    changes?: true;
    /**
     * This server's federation is paused by its owner: nothing waiting is sent until it resumes
     * (a message's `next_attempt_at` is not a time anything happens). Absent when it runs.
     */
    sending_paused?: true;
  };
  sendMessage: { event_id: string };
  /** In the order of the request's `messages`. */
  sendMessages: { event_ids: string[] };
  editMessage: { event_id: string };
  deleteMessage: { event_id: string };
  addReaction: { event_id: string };
  removeReaction: { event_id: string };
  searchMessages: {
    results: SearchResult[];
    /**
     * Messages (and edits, deletes) of the searched rooms the index has not taken in yet — it is
     * being built, as after an upgrade or a long catch-up: the results may miss them. Counted up
     * to UNINDEXED_COUNT_CAP. Absent when the answer covers all.
     */
    unindexed?: number;
  };
}

export { UNINDEXED_COUNT_CAP } from './search-limits.ts';

export interface SearchResult {
  room_id: string;
  event_id: string;
  sender: string;
  /** The sender's display name in that room, as in MessageView: shown beside `sender`, never instead. Absent when none. */
  sender_display_name?: string;
  body: string;
  origin_ts: number;
  /** The body HTML-escaped, its matches in <mark>…</mark> (at most 100 a hit; a search's later hits past 40,000 words read are unmarked). */
  highlight: string;
}

export interface MessageView {
  event_id: string;
  sender: string;
  /**
   * The sender's display name in this room (their latest join's, as its origin signed it): shown
   * beside `sender`, never instead of it (any server may name its user anything). Absent when none.
   */
  sender_display_name?: string;
  origin_server: string;
  origin_ts: number;
  depth: number;
  body?: string;
  edited: boolean;
  deleted: boolean;
  /** Who deleted the message, when it was not its sender (a moderator). */
  deleted_by?: string;
  /**
   * Reaction key → users who have it, sorted: the message's 20 most used keys (and the viewing
   * user's own), at most 10 users named per key (the viewing user among them when it reacted).
   */
  reactions: Record<string, string[]>;
  /** Reaction key → how many users have it, for every key in `reactions`. */
  reaction_counts: Record<string, number>;
  /** What the acting user may do with it, by the same rules the node enforces (issue #16 item 7). */
  can_edit?: boolean;
  can_delete?: boolean;
  /** Delivery of a message sent from this server, from its outbox rows (issue #16 item 5). */
  delivery?: MessageDelivery;
  /**
   * This server's own changes of the message (an edit, a delete, a reaction added or taken back)
   * that some server of the room has not taken yet, refused, or holds for review: the message itself may be
   * delivered to all while its edit still waits. Oldest first; absent when none.
   */
  changes_not_delivered?: ChangeDelivery[];
}

export interface ChangeDelivery {
  event_id: string;
  kind: 'edit' | 'delete' | 'reaction' | 'reaction_removed';
  delivery: MessageDelivery;
}

export interface MessageDelivery {
  /** delivered: no server left to reach; waiting: some still to reach; refused: a server refused it for good. */
  state: 'delivered' | 'waiting' | 'refused';
  /** Servers still to reach (pending), and those that refused it, with their reason ('expired': it waited too long; 'dropped': the owner dropped it from the queue). */
  pending_servers: string[];
  refused: Array<{ server: string; reason: string }>;
  /** The soonest next try among the pending ones, and the last error seen. */
  next_attempt_at: number | null;
  last_error: string | null;
  /**
   * Left at a friend's mailbox for a server nobody reaches, and not yet fetched by it (issue #32);
   * `taken`: fetched, but that server keeps it to take in later (its limit, a failure there).
   */
  at_mailbox?: Array<{ server: string; mailbox: string; taken?: true }>;
  /**
   * Of `pending_servers`, those this server sends nothing to while its owner blocks them or keeps
   * them in quarantine: the message waits here, untried, until the owner allows them.
   */
  held?: string[];
  /**
   * Servers that took it and hold it for review: their owner keeps this server in quarantine, and
   * decides whether it is shown there (their receipt said `held: true`). Whatever `state` says, it
   * is not shown there yet as far as this server knows; absent when none.
   */
  held_there?: string[];
  /**
   * Sent to no other server: none was to receive it when it was stored (a room of this server's
   * own users; a server joining later reads it with the room's history). Shown "Sent", not
   * "Delivered to all". Only with `delivered`; absent otherwise.
   */
  to_nobody?: true;
  /**
   * The room's server, when it is another server: this server sends its messages to it alone, and
   * it passes them on to the room's other servers (which this server does not see). `delivered`
   * then means that server took it: shown "Delivered to <host>, the room's server", not "to all"
   * (a helper's audit, 2026-11-28). Only with `delivered`; absent otherwise.
   */
  via_host?: string;
}
