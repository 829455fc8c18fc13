/**
 * A destination waiting out its backoff is not read again for every message queued behind it: a
 * friend's node that is down, in a busy room, used to cost the sender a read of up to 500 rows of
 * its queue per message (+1 ms of CPU per message at 200/s with a backlog of 100,000). Real nodes
 * in this process (to count the worker's reads), real HTTP, real SQLite. The wait still ends
 * whenever something it was decided on changes (the friend is back, the owner drops the entry
 * it waits on), and every message is delivered once, in order. A wait never spins: whatever time
 * the queue holds, the worker reads it at most once per timer; and a peer's Retry-After asks for
 * a day at most.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect, it, type InProcessNode, type Nodes } from './helpers/fixtures.ts';
import { joinFakePeer } from './helpers/fake-members.ts';
import { sendSigned } from './helpers/signed-request.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { enc, eventually, roomWithMembers, send } from './helpers/rooms.ts';

const messages = (n: InProcessNode, roomId: string, order: string) =>
  queryNodeDb<{ event_id: string }>(n.dataDir, `SELECT event_id FROM federation_events WHERE room_id = ? AND event_type = 'm.message' ORDER BY ${order}`, roomId).map((r) => r.event_id);
const pendingFor = async (n: InProcessNode, destination: string) =>
  (await n.admin('GET', `/queue?state=pending&destination=${destination}`)).body.entries as Array<{ id: number; event_id: string }>;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** No automatic reachability tests: a peer's reach-probe is a signed request, which ends a wait by itself. */
const quiet = { config: { reachabilityWatchSeconds: 0 } };

/** A process node alpha.test with a room of its own that a fake peer joined, and how many attempts alpha made to deliver to it. */
async function withFakeMember(nodes: Nodes, peerName: string, args: string[] = []) {
  const alpha = nodes.process({ serverName: 'alpha.test', args });
  await alpha.start();
  const roomId = (await alpha.admin('POST', '/rooms', { name: peerName })).body.room_id as string;
  const peer = await nodes.fakePeer(peerName);
  await joinFakePeer(alpha, roomId, peer);
  const attempts = async () => ((await alpha.admin('GET', `/attempts?destination=${peerName}&limit=500`)).body.attempts as unknown[]).length;
  return { alpha, roomId, peer, attempts };
}

async function peered([a, aName]: [InProcessNode, string], [b, bName]: [InProcessNode, string]) {
  expect((await a.admin('POST', '/peers', { server_name: bName, endpoint: b.started.federation_url })).status).toBe(200);
  expect((await b.admin('POST', '/peers', { server_name: aName, endpoint: a.started.federation_url })).status).toBe(200);
}

it('messages sent behind a backing-off destination wait without a read each, and a wait never spins', async ({ nodes }) => {
  const alpha = await nodes.inProcess('alpha.test', quiet);
  const beta = await nodes.inProcess('beta.test', quiet);
  await peered([alpha, 'alpha.test'], [beta, 'beta.test']);
  const roomId = await roomWithMembers(alpha, 'backoff-reads', [[beta, '@owner:beta.test']]);
  const workers = alpha.node.context.workers;
  await send(alpha, roomId, 'first');
  await eventually(async () => expect(messages(beta, roomId, 'rowid')).toHaveLength(1));

  // beta refuses (503, Retry-After: 60): alpha backs off.
  expect((await beta.admin('POST', '/federation/pause')).status).toBe(200);
  const refused = await send(alpha, roomId, 'refused');
  await eventually(async () => expect(workers.status('beta.test').backing_off).toBe(true));

  // Twenty messages while it waits: queued, none sent, and its queue not read for them.
  const betaReads = () => workers.stats.queueReadsOf.get('beta.test') ?? 0;
  const reads = betaReads();
  for (let i = 0; i < 20; i++) await send(alpha, roomId, `while waiting ${i}`);
  expect(betaReads() - reads).toBe(0);
  expect(workers.status('beta.test').backing_off).toBe(true);
  expect(await pendingFor(alpha, 'beta.test')).toHaveLength(21);

  // A next attempt far past Node's timer limit (as stored before Retry-After was capped): the
  // worker waits on one timer; it does not read its queue every millisecond.
  const db = new Database(join(alpha.dataDir, 'paracord.db'));
  db.pragma('busy_timeout = 5000');
  db.prepare("UPDATE federation_outbox SET next_attempt_at = ? WHERE destination = 'beta.test' AND event_id = ?").run(Date.now() + 400 * 86_400_000, refused);
  db.close();
  const before = betaReads();
  workers.deliver('beta.test');
  await sleep(300);
  expect(betaReads() - before).toBeLessThanOrEqual(2);

  // beta is back and talks to alpha (a signed request ends the wait): everything, once, in order.
  expect((await beta.admin('POST', '/federation/resume')).status).toBe(200);
  const made = messages(alpha, roomId, 'depth, event_id');
  expect((await beta.admin('PUT', `/rooms/${enc(roomId)}/messages/${enc(made[0]!)}/reactions/${enc('👍')}`)).status).toBe(200);
  expect(made).toHaveLength(22);
  await eventually(async () => expect(messages(beta, roomId, 'rowid')).toEqual(made), 20_000);
  // beta stores a batch before it answers; alpha marks the batch sent when the answer comes.
  await eventually(async () => expect(await pendingFor(alpha, 'beta.test')).toHaveLength(0));
});

it('a peer cannot park deliveries past a day with Retry-After; dropping the entry a destination waits on, or giving its address again, ends the wait', async ({ nodes }) => {
  const alpha = nodes.process({ serverName: 'alpha.test' });
  await alpha.start();
  const roomId = (await alpha.admin('POST', '/rooms', { name: 'parked' })).body.room_id as string;
  const parking = await nodes.fakePeer('parking.test');
  await joinFakePeer(alpha, roomId, parking);
  const queued = async () => (await alpha.admin('GET', '/queue?state=pending&destination=parking.test')).body.entries as Array<{ id: number; event_id: string; next_attempt_at: number }>;
  await eventually(async () => expect(await queued()).toHaveLength(0));

  // "Come back in 3,000 years", in seconds and as a date: a day at most.
  for (const retryAfter of ['99999999999', 'Fri, 01 Jan 5000 00:00:00 GMT']) {
    parking.answer = { status: 503, headers: { 'retry-after': retryAfter }, body: { error: 'unavailable', message: 'go away' } };
    const parked = await alpha.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: `parked by ${retryAfter}` });
    expect(parked.status).toBe(200);
    const attempt = await eventually(async () => {
      const [latest] = (await alpha.admin('GET', '/attempts?destination=parking.test')).body.attempts.filter((a: { event_id: string }) => a.event_id === parked.body.event_id);
      expect(latest?.status).toBe(503);
      return latest as { attempted_at: number };
    });
    const entry = (await queued()).find((e) => e.event_id === parked.body.event_id)!;
    expect(entry.next_attempt_at - attempt.attempted_at).toBeGreaterThan(23.9 * 3600_000);
    expect(entry.next_attempt_at - attempt.attempted_at).toBeLessThanOrEqual(24 * 3600_000);
    // The owner gives up on it: the next message behind it goes at once, not in a day.
    parking.answer = { status: 202, body: {} };
    const behind = await alpha.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: `behind ${retryAfter}` });
    expect((await alpha.admin('DELETE', `/queue/${entry.id}`)).body).toEqual({ dropped: true });
    await eventually(async () => expect(await queued()).toHaveLength(0));
    const attempts = (await alpha.admin('GET', '/attempts?destination=parking.test')).body.attempts as Array<{ event_id: string; status: number }>;
    expect(attempts.some((a) => a.event_id === behind.body.event_id && a.status === 202)).toBe(true);
  }

  // Parked again; the owner gives the peer's address again (as after it moved): the wait ends.
  parking.answer = { status: 503, headers: { 'retry-after': '86400' }, body: { error: 'unavailable', message: 'go away' } };
  const again = await alpha.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'parked again' });
  await eventually(async () => expect((await queued()).find((e) => e.event_id === again.body.event_id)?.next_attempt_at).toBeGreaterThan(Date.now() + 3600_000));
  parking.answer = { status: 202, body: {} };
  expect((await alpha.admin('POST', '/peers', { server_name: 'parking.test', endpoint: parking.url })).status).toBe(200);
  await eventually(async () => expect(await queued()).toHaveLength(0));
});

it('events a host relays to a backing-off member wait without a read each, and all go once it is back', async ({ nodes }) => {
  const alpha = await nodes.inProcess('alpha.test', quiet);
  const beta = await nodes.inProcess('beta.test', quiet);
  const gamma = await nodes.inProcess('gamma.test', quiet);
  await peered([alpha, 'alpha.test'], [beta, 'beta.test']);
  await peered([alpha, 'alpha.test'], [gamma, 'gamma.test']);
  const roomId = await roomWithMembers(alpha, 'relay-backoff', [[beta, '@owner:beta.test'], [gamma, '@owner:gamma.test']]);
  const workers = alpha.node.context.workers;
  await send(alpha, roomId, 'first');
  await eventually(async () => expect(messages(gamma, roomId, 'rowid')).toHaveLength(1));

  expect((await gamma.admin('POST', '/federation/pause')).status).toBe(200);
  await send(alpha, roomId, 'refused by gamma');
  await eventually(async () => expect(workers.status('gamma.test').backing_off).toBe(true));

  // beta's messages reach alpha, which stores each and queues it for gamma: no read of gamma's queue.
  const gammaReads = () => workers.stats.queueReadsOf.get('gamma.test') ?? 0;
  const reads = gammaReads();
  for (let i = 0; i < 10; i++) await send(beta, roomId, `from beta ${i}`);
  await eventually(async () => expect(await pendingFor(alpha, 'gamma.test')).toHaveLength(11));
  expect(gammaReads() - reads).toBe(0);
  expect(workers.status('gamma.test').backing_off).toBe(true);

  // gamma is back and talks to alpha (a signed request ends the wait): everything, once, in order.
  expect((await gamma.admin('POST', '/federation/resume')).status).toBe(200);
  const first = messages(alpha, roomId, 'depth, event_id')[0]!;
  expect((await gamma.admin('PUT', `/rooms/${enc(roomId)}/messages/${enc(first)}/reactions/${enc('👍')}`)).status).toBe(200);
  const stored = messages(alpha, roomId, 'rowid');
  expect(stored).toHaveLength(12);
  await eventually(async () => expect(messages(gamma, roomId, 'rowid')).toEqual(stored), 20_000);
});

it('a peer that refuses our events while it sends us requests gets our backoff, not an attempt per request', async ({ nodes }) => {
  const { alpha, roomId, peer: noisy, attempts } = await withFakeMember(nodes, 'noisy.test', ['--retry-initial', '3000', '--retry-max', '3000']);
  noisy.answer = { status: 500, body: { error: 'internal_error', message: 'broken' } };
  expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'refused' })).status).toBe(200);
  await eventually(async () => expect(await attempts()).toBeGreaterThan(0));
  // Two seconds of signed requests from it, one every 20 ms (each says "I am here").
  const before = await attempts();
  const until = Date.now() + 2_000;
  while (Date.now() < until) {
    expect((await sendSigned(noisy.identity, alpha.federationUrl, 'GET', '/_paracord/federation/v1/keys/cache?server_name=nobody.test')).status).toBe(404);
    await sleep(20);
  }
  // At most one attempt for its first request, and one when the 3 s backoff runs out.
  expect((await attempts()) - before).toBeLessThanOrEqual(2);
});


it('a request that comes too soon after the last wake ends the wait when the gap is over, instead of being dropped', async ({ nodes }) => {
  const { alpha, roomId, peer: friend, attempts } = await withFakeMember(nodes, 'friend.test');
  const hello = async () => expect((await sendSigned(friend.identity, alpha.federationUrl, 'GET', '/_paracord/federation/v1/keys/cache?server_name=nobody.test')).status).toBe(404);
  // Paused, as a Paracord node answers then: 503 and ten minutes of Retry-After.
  friend.answer = { status: 503, headers: { 'Retry-After': '600' }, body: { error: 'federation_paused', message: 'paused' } };
  expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'while paused' })).status).toBe(200);
  await eventually(async () => expect(await attempts()).toBe(1));
  // Its first request ends the wait: one more attempt, refused again.
  await hello();
  await eventually(async () => expect(await attempts()).toBe(2));
  // It resumes and talks to us again within the gap: no attempt at once (the limit holds)...
  friend.answer = { status: 202, body: {} };
  await hello();
  await sleep(500);
  expect(await attempts()).toBe(2);
  // ...but one when the gap is over, not ten minutes later (before: the wake was dropped).
  await eventually(async () => expect(friend.deliveries.filter((d) => d.path.endsWith('/event') || d.path.endsWith('/events')).length).toBe(3), 30_000);
  await eventually(async () => expect((await alpha.admin('GET', '/status')).body.queue.pending).toBe(0));
  expect(await attempts()).toBe(3);
});
