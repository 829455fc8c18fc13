/**
 * The read model of a room's messages (CONTRACT.md `GET /rooms/{id}/messages`): messages in
 * display order with edits applied, deletes shown without body, and reactions aggregated.
 * It is folded from the stored events in display order at read time, so every server holding
 * the same events shows exactly the same thing, whatever order the events arrived in.
 */
import type { Envelope } from '../federation/envelope.ts';
import type { FederationEvents } from '../store/federation-events.ts';
import type { RoomStore } from './room-store.ts';
import type { MessageView } from '../../../shared/contract/admin-operations.ts';

export type { MessageView };

export function roomMessages(events: FederationEvents, rooms: RoomStore, roomId: string, limit: number): MessageView[] {
  const messages = events.latestOfType(roomId, 'm.message', limit);
  const related = events.relatedTo(roomId, messages.map((m) => m.event_id));
  const byTarget = new Map<string, Envelope[]>();
  for (const event of related) {
    const target = event.content.target as string;
    let list = byTarget.get(target);
    if (!list) byTarget.set(target, (list = []));
    list.push(event);
  }
  const moderators = new Set(rooms.members(roomId).filter((m) => m.role === 'owner' || m.role === 'moderator').map((m) => m.user_id));
  return messages.map((message) => foldMessage(message, byTarget.get(message.event_id) ?? [], moderators));
}

function foldMessage(message: Envelope, related: Envelope[], moderators: ReadonlySet<string>): MessageView {
  let body = message.content.body as string;
  let edited = false;
  let deleted = false;
  const reactions = new Map<string, Set<string>>();
  for (const event of related) {
    const content = event.content as { body?: string; key?: string };
    switch (event.event_type) {
      case 'm.message.edit':
        if (!deleted && event.sender === message.sender && typeof content.body === 'string') {
          body = content.body;
          edited = true;
        }
        break;
      case 'm.message.delete':
        if (event.sender === message.sender || moderators.has(event.sender)) deleted = true;
        break;
      case 'm.reaction.add': {
        let senders = reactions.get(content.key!);
        if (!senders) reactions.set(content.key!, (senders = new Set()));
        senders.add(event.sender);
        break;
      }
      case 'm.reaction.remove':
        reactions.get(content.key!)?.delete(event.sender);
        break;
    }
  }
  const aggregated: Record<string, string[]> = {};
  for (const key of [...reactions.keys()].sort()) {
    const senders = [...reactions.get(key)!].sort();
    if (senders.length > 0) aggregated[key] = senders;
  }
  return {
    event_id: message.event_id,
    sender: message.sender,
    origin_server: message.origin_server,
    origin_ts: message.origin_ts,
    depth: message.depth,
    ...(deleted ? {} : { body }),
    edited: edited && !deleted,
    deleted,
    reactions: deleted ? {} : aggregated,
  };
}

/** Whether `sender` currently has reaction `key` on `target` (fold in display order). */
export function hasReaction(events: FederationEvents, roomId: string, target: string, sender: string, key: string): boolean {
  let present = false;
  for (const event of events.relatedTo(roomId, [target])) {
    if (event.sender !== sender || event.content.key !== key) continue;
    if (event.event_type === 'm.reaction.add') present = true;
    else if (event.event_type === 'm.reaction.remove') present = false;
  }
  return present;
}
