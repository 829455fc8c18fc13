/**
 * Live updates from the node (Server-Sent Events): counters that screens depend on, so they
 * refetch when something changed — no manual refresh.
 */
export const live = $state({ room: 0, status: 0, invites: 0, connected: false, lastRoom: '' });

let source: EventSource | undefined;

export function connectLive(): void {
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
