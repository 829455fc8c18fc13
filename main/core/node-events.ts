import { EventEmitter } from 'node:events';

/** Live notifications for the UI (admin `GET /events`, Server-Sent Events) and the tray. */
export type NodeNotification =
  | { type: 'room'; room_id: string; event_id: string; event_type: string; sender: string }
  | { type: 'invite'; invite_id: string; room_id: string; invitee: string }
  /** The delivery of messages this server sent changed (an attempt's outcome): at most 100 ids per notification. */
  | { type: 'delivery'; room_id: string; event_ids: string[] }
  | { type: 'status' };

/** `close`: the node is stopping (live streams end). */
export class NodeEvents extends EventEmitter<{ notification: [NodeNotification]; close: [] }> {
  notify(notification: NodeNotification): void {
    this.emit('notification', notification);
  }
}
