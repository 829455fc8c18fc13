/**
 * What a room waits for on other servers' limits (RoomSummary `waits`), so the UI can say it
 * instead of showing nothing: events a Paracord reference server holds of the room that wait for
 * this node's storage quota for it (the poller halts there: reference-poller.ts `quotaWaits`), and
 * our messages of the room that wait for a reference's push limit (delivery-worker.ts `paced`).
 * Only reference peers are polled and paced, so only they are asked; a room another node of ours
 * hosts waits for the quota when its catch-up does (rooms/catch-up.ts).
 */
import type { RoomWait } from '../../../../../shared/contract/admin-operations.ts';
import type { NodeContext } from '../../../node-context.ts';
import type { Running } from '../../../node/federation.ts';

export function roomWaits(node: NodeContext, running: Running, roomId: string, now = Date.now()): RoomWait[] {
  const waits: RoomWait[] = running.referencePoller.quotaWaitsOf(roomId, now).map(({ server, until }) => ({ server, reason: 'storage_quota', messages: 0, until }));
  // A room our peer hosts whose catch-up waits for the quota (rooms/catch-up.ts).
  const catchUp = running.rooms.catchUpQuotaWait(roomId, now);
  if (catchUp) waits.push({ server: catchUp.server, reason: 'storage_quota', messages: 0, until: catchUp.until });
  for (const peer of node.dialects.references()) {
    if (!node.workers.status(peer.server_name).paced) continue;
    const pending = node.outbox.pendingForRoom(peer.server_name, roomId);
    if (pending.waiting === 0) continue;
    waits.push({ server: peer.server_name, reason: 'send_limit', messages: pending.waiting, until: pending.next_attempt_at !== null && pending.next_attempt_at > now ? pending.next_attempt_at : null });
  }
  return waits;
}
