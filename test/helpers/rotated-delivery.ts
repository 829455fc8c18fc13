/**
 * After alpha rotated its key and sent `eventId` to beta (test/rotation-refetch.test.ts,
 * test/keys-unavailable-delivery.test.ts): the message arrives, alpha gave nothing up on the way
 * (no failed or expired queue entry), and beta holds alpha's new key.
 */
import { expect } from './fixtures.ts';
import { queryNodeDb } from './inspect-db.ts';
import type { NodeProcess } from './node-process.ts';
import { eventually, messages } from './rooms.ts';

export async function expectArrivedAfterRotation(alpha: NodeProcess, beta: NodeProcess, roomId: string, eventId: string, newKeyId: string, timeoutMs: number): Promise<void> {
  await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.event_id)).toContain(eventId), timeoutMs, 250);
  const failed = queryNodeDb<{ event_id: string; last_error: string }>(alpha.dataDir, "SELECT event_id, last_error FROM federation_outbox WHERE state IN ('failed', 'expired')");
  expect(failed).toEqual([]);
  const keys = (await beta.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'alpha.test').keys;
  expect(keys).toContainEqual(expect.objectContaining({ key_id: newKeyId, expired_at: null }));
}
