/**
 * Issue #17: large batches between our nodes. A node advertises `batch_500` and takes up to 500
 * envelopes in one `POST /events` (501 is refused as a whole, nothing stored); a sender sends that
 * many only to a peer that advertises it, and keeps to 100 for a peer that advertises `batch` only
 * (every older Paracord node). Real in-process nodes, real HTTP, fake peers that record sizes.
 */
import { expect, it, type InProcessNode, type Nodes } from './helpers/fixtures.ts';
import { checkJsonLimits, jsonShape, WIRE_JSON_LIMITS } from '../main/core/crypto/json-limits.ts';
import { LARGE_BATCH_EVENTS, MAX_BATCH_EVENTS } from '../main/core/outbox/delivery-batches.ts';
import { makeEvent, wire } from './helpers/events.ts';
import type { FakePeer } from './helpers/fake-peer.ts';
import { joinFakePeer } from './helpers/fake-members.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { enc, eventually } from './helpers/rooms.ts';
import { sendSigned, sendRaw } from './helpers/signed-request.ts';
import { LARGE_BATCH_CAPABILITY } from '../main/core/federation/paths.ts';

const EVENTS = '/_paracord/federation/v1/events';
type InProcess = InProcessNode;

async function fake(nodes: Nodes, name: string, capabilities: string[]): Promise<FakePeer> {
  const f = await nodes.fakePeer(name);
  f.batch = true;
  f.capabilities.push(...capabilities);
  return f;
}

/** The shape joinFakePeer needs, from an in-process node. */
const asHost = (n: InProcess) => ({ admin: n.admin, federationUrl: n.started.federation_url! }) as unknown as NodeProcess;
const eventCount = (n: InProcess) => queryNodeDb<{ n: number }>(n.dataDir, 'SELECT COUNT(*) AS n FROM federation_events')[0]!.n;

it('a node takes 500 envelopes in one batch, and refuses 501 as a whole without storing any', async ({ nodes }) => {
  const beta = await nodes.inProcess('beta.test');
  const discovery = await sendRaw(`${beta.started.federation_url}/.well-known/paracord/server`, 'GET', {});
  expect(discovery.body.capabilities).toEqual(expect.arrayContaining(['batch', LARGE_BATCH_CAPABILITY]));

  const sender = await fake(nodes, 'sender.test', []);
  const created = await beta.admin('POST', '/rooms', { name: 'big batches' });
  const roomId: string = created.body.room_id;
  const userId = await joinFakePeer(asHost(beta), roomId, sender);
  let depth = Date.now() + 10_000;
  const message = (i: number) => makeEvent(sender.identity, { room_id: roomId, event_type: 'm.message', sender: userId, content: { body: `m ${i}` }, depth: ++depth });
  const batch = (from: number, count: number) => `{"events":[${Array.from({ length: count }, (_, i) => wire(message(from + i))).join(',')}]}`;

  const before = eventCount(beta);
  const tooMany = await sendSigned(sender.identity, beta.started.federation_url!, 'POST', EVENTS, batch(0, LARGE_BATCH_EVENTS + 1));
  expect(tooMany.status, tooMany.text).toBe(400);
  expect(tooMany.body).toMatchObject({ error: 'invalid_batch' });
  expect(eventCount(beta)).toBe(before);

  const full = await sendSigned(sender.identity, beta.started.federation_url!, 'POST', EVENTS, batch(1_000, LARGE_BATCH_EVENTS));
  expect(full.status, full.text).toBe(200);
  expect(full.body.results).toHaveLength(LARGE_BATCH_EVENTS);
  expect(full.body.results.every((r: { inserted?: boolean }) => r.inserted === true)).toBe(true);
  expect(eventCount(beta)).toBe(before + LARGE_BATCH_EVENTS);
});

it('a large batch weighs one request per 100 events against the sending server\'s rate limit; one heavier than its whole burst is too large', async ({ nodes }) => {
  const beta = await nodes.inProcess('beta.test');
  const sender = await fake(nodes, 'sender.test', []);
  const created = await beta.admin('POST', '/rooms', { name: 'weighed' });
  const roomId: string = created.body.room_id;
  const userId = await joinFakePeer(asHost(beta), roomId, sender);
  let depth = Date.now() + 10_000;
  const batch = (count: number) =>
    `{"events":[${Array.from({ length: count }, () => wire(makeEvent(sender.identity, { room_id: roomId, event_type: 'm.message', sender: userId, content: { body: 'x' }, depth: ++depth }))).join(',')}]}`;
  const post = (count: number) => sendSigned(sender.identity, beta.started.federation_url!, 'POST', EVENTS, batch(count));

  // 10 requests' worth, hardly any refill: two batches of 500 take it all; the next request is refused.
  expect((await beta.admin('PUT', '/peers/sender.test/trust', { mode: 'allow', rate_limit: { per_second: 0.001, burst: 10 } })).status).toBe(200);
  expect((await post(500)).status).toBe(200);
  expect((await post(500)).status).toBe(200);
  const before = eventCount(beta);
  const refused = await post(50);
  expect(refused.status, refused.text).toBe(429);
  expect(refused.body).toMatchObject({ error: 'rate_limited' });
  expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
  expect(eventCount(beta)).toBe(before);

  // A burst smaller than a batch's weight: the batch could never pass, so it is too large (the
  // sender halves it); one that weighs the whole burst passes on a full bucket.
  expect((await beta.admin('PUT', '/peers/sender.test/trust', { mode: 'allow', rate_limit: { per_second: 0.001, burst: 3 } })).status).toBe(200);
  const heavy = await post(301);
  expect(heavy.status, heavy.text).toBe(413);
  expect(heavy.body).toMatchObject({ error: 'batch_too_large' });
  expect(eventCount(beta)).toBe(before);
  // (The refused request took its first token; a new limit starts a full bucket.)
  expect((await beta.admin('PUT', '/peers/sender.test/trust', { mode: 'allow', rate_limit: { per_second: 0.002, burst: 3 } })).status).toBe(200);
  const whole = await post(300);
  expect(whole.status, whole.text).toBe(200);
  expect(eventCount(beta)).toBe(before + 300);
  expect((await post(1)).status).toBe(429);
});

it('a sender sends 500 at a time only to a peer that advertises batch_500, and 100 to one that advertises batch only', async ({ nodes }) => {
  const alpha = await nodes.inProcess('alpha.test');
  const large = await fake(nodes, 'large.test', [LARGE_BATCH_CAPABILITY]);
  const plain = await fake(nodes, 'plain.test', []);
  const created = await alpha.admin('POST', '/rooms', { name: 'fan-out' });
  const roomId: string = created.body.room_id;
  await joinFakePeer(asHost(alpha), roomId, large);
  await joinFakePeer(asHost(alpha), roomId, plain);
  await eventually(async () => expect((await alpha.admin('GET', '/status')).body.queue.pending).toBe(0));

  // A backlog of 600 messages, queued while federation is paused, leaves when it resumes.
  expect((await alpha.admin('POST', '/federation/pause')).status).toBe(200);
  for (let round = 0; round < 6; round++) {
    const sent = await alpha.admin('POST', `/rooms/${enc(roomId)}/messages/batch`, { messages: Array.from({ length: 100 }, (_, i) => ({ body: `${round}.${i}` })) });
    expect(sent.status, JSON.stringify(sent.body)).toBe(200);
  }
  const already = { large: large.deliveries.length, plain: plain.deliveries.length };
  expect((await alpha.admin('POST', '/federation/resume')).status).toBe(200);
  await eventually(async () => {
    expect(large.deliveries.length).toBeGreaterThan(already.large);
    expect(plain.deliveries.length).toBeGreaterThan(already.plain);
  });
  // The fakes answer 202 {} (no per-event results), so each first request is retried later: its size is what counts.
  // Up to 500, and within the receivers' 10,000-element limit: a batch that stops short of 500 is
  // one more message away from that limit (ours, with their signatures, are ~21 elements each).
  const first = large.deliveries[already.large]!;
  expect(first.events).toBeGreaterThan(MAX_BATCH_EVENTS);
  expect(first.events).toBeLessThanOrEqual(LARGE_BATCH_EVENTS);
  expect(checkJsonLimits(first.body!)).toBeNull();
  if (first.events! < LARGE_BATCH_EVENTS) expect(jsonShape(first.body!).elements).toBeGreaterThan(WIRE_JSON_LIMITS.maxElements - 50);
  expect(plain.deliveries[already.plain]).toMatchObject({ events: MAX_BATCH_EVENTS });
});

it('a peer that refuses a batch as too large gets batches half the size, not single events, and everything arrives', async ({ nodes }) => {
  const alpha = await nodes.inProcess('alpha.test');
  const small = await fake(nodes, 'small.test', [LARGE_BATCH_CAPABILITY]);
  // Advertises 500, takes at most 120 at a time (a smaller body limit, say): 413 above that.
  small.batchAnswer = (ids) =>
    ids.length > 120 ? { status: 413, body: { error: 'body_too_large', message: 'at most 120 events here' } } : { status: 200, body: { results: ids.map((event_id) => ({ event_id, inserted: true })) } };
  const created = await alpha.admin('POST', '/rooms', { name: 'smaller' });
  const roomId: string = created.body.room_id;
  await joinFakePeer(asHost(alpha), roomId, small);
  await eventually(async () => expect((await alpha.admin('GET', '/status')).body.queue.pending).toBe(0));

  expect((await alpha.admin('POST', '/federation/pause')).status).toBe(200);
  for (let round = 0; round < 6; round++) {
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/messages/batch`, { messages: Array.from({ length: 100 }, (_, i) => ({ body: `${round}.${i}` })) })).status).toBe(200);
  }
  const already = small.deliveries.length;
  expect((await alpha.admin('POST', '/federation/resume')).status).toBe(200);
  await eventually(async () => expect((await alpha.admin('GET', '/status')).body.queue).toEqual({ pending: 0, failed: 0 }), 30_000);

  const sizes = small.deliveries.slice(already).map((d) => d.events ?? 1);
  // Refused while above 120 (each time half the last), then batches of at most 120 carried all 600.
  const firstAccepted = sizes.findIndex((n) => n <= 120);
  expect(firstAccepted).toBeGreaterThan(0);
  for (let i = 1; i < firstAccepted; i++) expect(sizes[i]).toBeLessThanOrEqual(Math.floor(sizes[i - 1]! / 2));
  const accepted = sizes.slice(firstAccepted);
  expect(accepted.reduce((a, b) => a + b, 0)).toBe(600);
  expect(Math.max(...accepted)).toBeLessThanOrEqual(120);
  expect(accepted.length).toBeLessThan(10);
  expect(small.deliveries.slice(already).some((d) => d.path.endsWith('/event'))).toBe(false);
  // A request that delivered every event is one attempt row with its size; a refused one keeps a
  // row per event, each with the refusal.
  const attempts = (await alpha.admin('GET', '/attempts?destination=small.test&limit=5000')).body.attempts as Array<{ status: number; error: string | null; batch_size: number }>;
  const delivered = attempts.filter((a) => a.status === 200 && a.batch_size > 1);
  expect(delivered.map((a) => a.batch_size).sort((a, b) => a - b)).toEqual([...accepted].sort((a, b) => a - b));
  expect(delivered.every((a) => a.error === null)).toBe(true);
  expect(attempts.filter((a) => a.status === 413)).toHaveLength(sizes.slice(0, firstAccepted).reduce((a, b) => a + b, 0));
});

