/**
 * A page of a room's messages as the UI shows it (issue #16 items 5, 6, 7): the messages view,
 * whether older messages exist, what the viewing user may do with each message — decided by
 * running the node's own authorization (authorize.ts) on the edit and delete the user would
 * send, so the UI offers exactly what the node would accept — and the delivery state of the
 * messages this server sent.
 */
import type { MessageView } from '../../../shared/contract/admin-operations.ts';
import type { UnsignedEnvelope } from '../federation/envelope.ts';
import type { Db } from '../store/database.ts';
import type { FederationEvents } from '../store/federation-events.ts';
import { authorizeEvent } from './authorize.ts';
import { messageDeliveries } from './message-delivery.ts';
import { roomMessages } from './messages-view.ts';
import type { RoomStore } from './room-store.ts';

export function messagePage(
  d: { db: Db; events: FederationEvents; rooms: RoomStore; server: string },
  roomId: string,
  viewer: string,
  limit: number,
  beforeId?: string,
): { messages: MessageView[]; has_more: boolean } {
  const page = roomMessages(d.events, d.rooms, roomId, limit + 1, beforeId);
  const has_more = page.length > limit;
  const messages = has_more ? page.slice(1) : page;
  const allowed = (eventType: 'm.message.edit' | 'm.message.delete', target: MessageView, now: number): boolean => {
    if (target.deleted) return false;
    const event: UnsignedEnvelope = {
      event_id: `$check:${d.server}`, room_id: roomId, event_type: eventType, sender: viewer, origin_server: d.server,
      origin_ts: now, depth: 1, state_key: null,
      content: eventType === 'm.message.edit' ? { target: target.event_id, body: target.body ?? '' } : { target: target.event_id },
    };
    try {
      authorizeEvent(d.rooms, d.events, event, now);
      return true;
    } catch {
      return false;
    }
  };
  const now = Date.now();
  const own = messages.filter((m) => m.origin_server === d.server).map((m) => m.event_id);
  const deliveries = messageDeliveries(d.db, own);
  // Someone not in the room may do nothing (authorize.ts refuses every edit and delete then): skip the checks.
  const joined = d.rooms.member(roomId, viewer)?.membership === 'join';
  for (const message of messages) {
    message.can_edit = joined && message.sender === viewer && allowed('m.message.edit', message, now);
    message.can_delete = joined && allowed('m.message.delete', message, now);
    const delivery = deliveries.get(message.event_id);
    if (delivery) message.delivery = delivery;
  }
  return { messages, has_more };
}
