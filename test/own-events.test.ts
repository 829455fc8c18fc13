/**
 * A member server meets its own events again in the host's join snapshot and catch-up pages (a
 * second local user joining). They are verified with its own keys, never looked up over the
 * network: that look-up failed (its own address is not one it may call) and every such event was
 * logged as rejected.
 */
import { beforeAll, expect, it } from './helpers/fixtures.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { eventually, inviteAndJoin, messages, roomWithMembers, send } from './helpers/rooms.ts';

let alpha: NodeProcess;
let beta: NodeProcess;

beforeAll(async ({ pair }) => {
  ({ alpha, beta } = pair);
  expect((await beta.admin('POST', '/users', { localpart: 'bob' })).status).toBe(200);
});

it("a second local user's join brings the server's own events back in the snapshot: none is rejected", async () => {
  const roomId = await roomWithMembers(alpha, 'twice', [[beta, '@owner:beta.test']]);
  const first = await send(beta, roomId, 'before bob');
  await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.event_id)).toContain(first));
  await inviteAndJoin(alpha, roomId, beta, '@bob:beta.test');
  const later = await send(beta, roomId, 'bob is here', '@bob:beta.test');
  await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.event_id)).toContain(later));
  const rejected = beta.stderr.split('\n').filter((l) => /snapshot_event_rejected|catch_up_event_rejected/.test(l));
  expect(rejected).toEqual([]);
});
