/**
 * Live updates from the node (Server-Sent Events): counters that screens depend on, so they
 * refetch when something changed — no manual refresh.
 */
export const live = $state({ room: 0, status: 0, invites: 0, connected: false, lastRoom: '', openLink: '' });

import { desktop } from './api.ts';

let source: EventSource | undefined;
let unsubscribe: (() => void) | undefined;

export function connectLive(): void {
  if (desktop) {
    // The desktop app pushes the same notifications over IPC.
    unsubscribe?.();
    live.connected = true;
    unsubscribe = desktop.onNotification((notification) => {
      if (notification.type === 'room') {
        live.lastRoom = String(notification.room_id);
        live.room++;
      } else if (notification.type === 'status') live.status++;
      else if (notification.type === 'invite') live.invites++;
      else if (notification.type === 'open-link') live.openLink = String(notification.link);
    });
    return;
  }
  source?.close();
  source = new EventSource('/_paracord/admin/v1/events');
  source.onopen = () => (live.connected = true);
  source.onerror = () => (live.connected = false);
  source.addEventListener('room', (event) => {
    live.lastRoom = (JSON.parse((event as MessageEvent).data) as { room_id: string }).room_id;
    live.room++;
  });
  source.addEventListener('status', () => live.status++);
  source.addEventListener('invite', () => live.invites++);
}
