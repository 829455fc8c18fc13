/**
 * "Chat with <server>": one click opens the conversation with that friend's server (issue #16
 * first-message path). The room the two owners already share is opened (whichever of the two
 * servers made it), or the friend's invitation to it accepted; only when there is neither is a
 * room made and the friend's owner invited. Before,
 * each click made another room of the same name, and the friend's "Chat with …" a third.
 */
import { api } from './api.ts';
import { chatCandidates, chatInvite, isChatWith } from './chat-room.ts';

export async function startChat(ownServer: string, peer: string): Promise<string> {
  const { rooms } = await api.listRooms({});
  for (const room of chatCandidates(rooms, ownServer, peer)) {
    const { members } = await api.getRoom({ room_id: room.room_id });
    if (isChatWith(members, ownServer, peer)) return open(room.room_id);
  }
  // The friend clicked first: its invitation to that chat is accepted rather than answered with a second room.
  // Its join waiting at the friend's mailbox: that room is opened (accepting again would send another).
  const invite = chatInvite((await api.listInvites({})).invites, ownServer, peer);
  if (invite?.join?.state === 'waiting') return open(invite.room_id);
  if (invite) return open((await api.acceptInvite({ invite_id: invite.invite_id })).room_id);
  const { room_id } = await api.createRoom({ name: `${ownServer} + ${peer}` });
  await api.inviteToRoom({ room_id, user_id: `@owner:${peer}` });
  return open(room_id);
}

function open(roomId: string): string {
  location.hash = `#/rooms/${encodeURIComponent(roomId)}`;
  return roomId;
}
