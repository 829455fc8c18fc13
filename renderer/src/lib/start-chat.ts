/** "Chat with <server>": one click makes a room and invites the friend server's owner (issue #16 first-message path). */
import { api } from './api.ts';

export async function startChat(ownServer: string, peer: string): Promise<string> {
  const { room_id } = await api.createRoom({ name: `${ownServer} + ${peer}` });
  await api.inviteToRoom({ room_id, user_id: `@owner:${peer}` });
  location.hash = `#/rooms/${encodeURIComponent(room_id)}`;
  return room_id;
}
