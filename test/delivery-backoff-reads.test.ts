/**
 * A destination waiting out its backoff is not read again for every message queued behind it: a
 * friend's node that is down, in a busy room, used to cost the sender a read of up to 500 rows of
 * its queue per message (+1 ms of CPU per message at 200/s with a backlog of 100,000). Two real
 * nodes in this process (to count the worker's reads), real HTTP, real SQLite. The wait must still
 * end when the friend is back, with every message delivered once, in order.
 */
import { expect, it, type InProcessNode } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { enc, eventually, roomWithMembers, send } from './helpers/rooms.ts';

const messages = (n: InProcessNode, roomId: string, order: string) =>
  queryNodeDb<{ event_id: string }>(n.dataDir, `SELECT event_id FROM federation_events WHERE room_id = ? AND event_type = 'm.message' ORDER BY ${order}`, roomId).map((r) => r.event_id);

it('messages queued behind a backing-off destination wait without a read of its queue each, and all go once it is back', async ({ nodes }) => {
  const alpha = await nodes.inProcess('alpha.test');
  const beta = await nodes.inProcess('beta.test');
  expect((await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: beta.started.federation_url })).status).toBe(200);
  expect((await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: alpha.started.federation_url })).status).toBe(200);
  const roomId = await roomWithMembers(alpha, 'backoff-reads', [[beta, '@owner:beta.test']]);
  const workers = alpha.node.context.workers;
  await send(alpha, roomId, 'first');
  await eventually(async () => expect(messages(beta, roomId, 'rowid')).toHaveLength(1));

  // beta refuses (503, Retry-After): alpha backs off.
  expect((await beta.admin('POST', '/federation/pause')).status).toBe(200);
  await send(alpha, roomId, 'refused');
  await eventually(async () => expect(workers.status('beta.test').backing_off).toBe(true));

  // Twenty messages while it waits: queued, none sent, and its queue not read for them.
  const reads = workers.stats.queueReads;
  for (let i = 0; i < 20; i++) await send(alpha, roomId, `while waiting ${i}`);
  expect(workers.stats.queueReads - reads).toBe(0);
  expect(workers.status('beta.test').backing_off).toBe(true);
  expect((await alpha.admin('GET', '/queue?state=pending&destination=beta.test')).body.entries).toHaveLength(21);

  // beta is back and talks to alpha (a signed request wakes the worker): everything goes, once, in order.
  expect((await beta.admin('POST', '/federation/resume')).status).toBe(200);
  const first = messages(alpha, roomId, 'depth, event_id')[0]!;
  expect((await beta.admin('PUT', `/rooms/${enc(roomId)}/messages/${enc(first)}/reactions/${enc('👍')}`)).status).toBe(200);
  const made = messages(alpha, roomId, 'depth, event_id');
  expect(made).toHaveLength(22);
  await eventually(async () => expect(messages(beta, roomId, 'rowid')).toEqual(made), 20_000);
  expect((await alpha.admin('GET', '/queue?state=pending&destination=beta.test')).body.entries).toHaveLength(0);
});
