/** Which room is the two owners' chat ("Chat with …", start-chat.ts). Pure: lib/chat-room.test.ts. */
import type { RoomInvite, RoomMember, RoomSummary } from '../../../shared/contract/admin-operations.ts';

/** Rooms looked into at most (one request each): a hobbyist's few chats. */
const MAX_LOOKED_AT = 20;

/** Rooms that may be the two owners' chat: ours to write in, on one of the two servers, two members at most. */
export function chatCandidates(rooms: readonly RoomSummary[], ownServer: string, peer: string): RoomSummary[] {
  return rooms.filter((r) => r.membership === 'join' && r.joined_members <= 2 && (r.host_server === ownServer || r.host_server === peer)).slice(0, MAX_LOOKED_AT);
}

/**
 * The two owners' chat: both owners joined, or the friend's invited, and nobody else ever in it
 * or invited (a room someone left or declined is a group's, not the chat).
 */
export function isChatWith(members: readonly RoomMember[], ownServer: string, peer: string): boolean {
  const owners = new Set([`@owner:${ownServer}`, `@owner:${peer}`]);
  const present = members.filter((m) => m.membership !== 'leave').map((m) => m.user_id);
  return members.every((m) => owners.has(m.user_id)) && present.length === 2 && new Set(present).size === 2;
}

/**
 * The friend's invitation to the chat its own "Chat with …" made (named as that makes it), unless
 * the friend refused our join: accepted already and still waiting for the friend's server (a join
 * left at its mailbox, or not answered yet), it is still the chat to go to, not a reason for another.
 */
export function chatInvite(invites: readonly RoomInvite[], ownServer: string, peer: string): RoomInvite | undefined {
  return invites.find((i) => i.host_server === peer && i.invitee === `@owner:${ownServer}` && i.inviter === `@owner:${peer}` && i.room_name === `${peer} + ${ownServer}` && i.join?.state !== 'refused');
}
