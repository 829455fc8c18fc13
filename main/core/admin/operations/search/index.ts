/**
 * Read markers and search (issue #20 items 4 and 5), for local users: what they have read,
 * and full-text search over the rooms they are in.
 */
import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import { badRequest, forbidden, notFound } from '../../../errors.ts';
import type { NodeContext } from '../../../node-context.ts';
import type { Running } from '../../../node/federation.ts';
import { queryWords } from '../../../rooms/search-words.ts';

/**
 * How long a search waits for the index to take in what is stored (a rebuild after an upgrade)
 * before it answers from what is indexed, saying how much is not (PARACORD_SEARCH_WAIT_MS: tests).
 */
const SEARCH_WAIT_MS = /^\d{1,6}$/.test(process.env.PARACORD_SEARCH_WAIT_MS ?? '') ? Number(process.env.PARACORD_SEARCH_WAIT_MS) : 3_000;

export function searchOperations(node: NodeContext, running: Running): Pick<AdminHandlers, 'markRead' | 'searchMessages'> {

  const joinedAt = (roomId: string, userId: string) => {
    const member = node.rooms.member(roomId, userId);
    return member?.membership === 'join' ? { depth: member.event_depth, origin_server: member.event_origin, event_id: member.event_id } : null;
  };

  return {
    markRead: async ({ room_id, event_id, user_id }) => {
      const userId = running.rooms.localUser(user_id);
      if (!node.rooms.room(room_id)) throw notFound('unknown_room', `no room ${room_id} here`);
      const joined = joinedAt(room_id, userId);
      if (!joined) throw forbidden('not_a_member', `${userId} is not a member of ${room_id}`);
      const event = running.rooms.roomEvent(room_id, event_id);
      if (!event) throw notFound('unknown_event', `no event ${event_id} in ${room_id}`);
      if (node.rooms.readMarkers.markRead(room_id, userId, event)) {
        node.notifications.notify({ type: 'room', room_id, event_id, event_type: 'm.read', sender: userId });
      }
      return { room_id, event_id, ...node.rooms.readMarkers.counts(room_id, userId, joined) };
    },
    searchMessages: async ({ q, room_id, limit, user_id }) => {
      const userId = running.rooms.localUser(user_id);
      if (q.trim() === '') throw badRequest('empty_query', 'give some words to search for (q)');
      const words = queryWords(q);
      if (words.length === 0) throw badRequest('empty_query', 'the query has no words to search for (letters or digits)');
      if (room_id !== undefined) {
        if (!node.rooms.room(room_id)) throw notFound('unknown_room', `no room ${room_id} here`);
        if (!joinedAt(room_id, userId)) throw forbidden('not_a_member', `${userId} is not in ${room_id}; only rooms you are in are searched`);
      }
      const { hits, unindexed } = await node.rooms.search.searchWithin(userId, words, room_id ?? null, limit, SEARCH_WAIT_MS);
      return { results: hits, ...(unindexed > 0 ? { unindexed } : {}) };
    },
  };
}
