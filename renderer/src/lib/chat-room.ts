/** Which room is the two owners' chat ("Chat with …", start-chat.ts). Pure: lib/chat-room.test.ts. */
import type { RoomMember, RoomSummary } from '../../../shared/contract/admin-operations.ts';

/** Rooms looked into at most (one request each): a hobbyist's few chats. */
const MAX_LOOKED_AT = 20;

/** Rooms that may be the two owners' chat: ours to write in, on one of the two servers, two members at most. */
export function chatCandidates(rooms: readonly RoomSummary[], ownServer: string, peer: string): RoomSummary[] {
  return rooms.filter((r) => r.membership === 'join' && r.joined_members <= 2 && (r.host_server === ownServer || r.host_server === peer)).slice(0, MAX_LOOKED_AT);
}

/** The two owners' chat: both owners joined or the friend's invited, nobody else in or invited. */
export function isChatWith(members: readonly RoomMember[], ownServer: string, peer: string): boolean {
  const present = members.filter((m) => m.membership !== 'leave').map((m) => m.user_id).sort();
  return present.length === 2 && present[0] !== present[1] && present.every((u) => u === `@owner:${ownServer}` || u === `@owner:${peer}`);
}
