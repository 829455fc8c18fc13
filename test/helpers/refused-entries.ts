/**
 * What a sender's node shows of the entries its destinations refused (a pull ack's or a mailbox's
 * refusals): test/pull-refusals.test.ts and test/mailbox-refusals.test.ts.
 */
import { expect } from './fixtures.ts';
import { queryNodeDb } from './inspect-db.ts';
import type { NodeProcess } from './node-process.ts';
import { enc } from './rooms.ts';

/** The outbox entries of `n` for `destination`, in order. */
export const rowsFor = (n: { dataDir: string }, destination: string) =>
  queryNodeDb<{ id: number; event_id: string; state: string; last_error: string | null }>(n.dataDir, 'SELECT id, event_id, state, last_error FROM federation_outbox WHERE destination = ? ORDER BY id', destination);

/** The message's delivery as its sender's node shows it (the admin messages API). */
export async function deliveryOf(node: Pick<NodeProcess, 'admin'>, roomId: string, eventId: string) {
  const response = await node.admin('GET', `/rooms/${enc(roomId)}/messages?limit=500`);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return (response.body.messages as Array<{ event_id: string; delivery: { state: string; refused: Array<{ server: string; reason: string }>; at_mailbox?: unknown[] } }>).find((m) => m.event_id === eventId)?.delivery;
}
