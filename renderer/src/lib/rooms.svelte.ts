/**
 * The user's rooms with their unread and mention counts (issue #20 item 4), shared by the app
 * shell and the Rooms screen. The shell reloads it on every live room event whatever screen is
 * open, so the window title and mention notifications (attention.ts) follow from the Dashboard
 * and Peers screens too, not only while the Rooms screen is shown.
 */
import type { RoomSummary } from '../../../shared/contract/admin-operations.ts';
import { api } from './api.ts';
import { updateAttention } from './attention.ts';
import { latest } from './latest.ts';

/** `loaded`: the list was answered once (until then it is not known to be empty). */
export const roomList = $state({ rooms: [] as RoomSummary[], error: null as unknown, loaded: false });

const fetchRooms = latest(() => api.listRooms({}));

/** Reloads the list; `openRoomId` is the room on screen ('' for none): no notification for it while visible. */
export async function loadRooms(openRoomId: string): Promise<void> {
  try {
    const answer = await fetchRooms();
    if (!answer) return;
    roomList.rooms = answer.value.rooms;
    roomList.error = null;
    roomList.loaded = true;
    updateAttention(roomList.rooms, openRoomId);
  } catch (error) {
    roomList.error = error; // the last known list stays; the banner says when the node is unreachable
  }
}
