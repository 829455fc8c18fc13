/**
 * A pull page (GET /pull, issue #15) holds what fits in its 512 KiB, at least one event, read a few
 * rows at a time (pull/routes.ts): 45 messages of 4,000 four-byte characters (~16 KB each on the
 * wire) come in two pages, each under its budget by less than one event, in order, once, the
 * second from the first's cursor. Real node in this process, a fake friend pulling with signed
 * requests.
 */
import { expect, it } from './helpers/fixtures.ts';
import { joinFakePeer } from './helpers/fake-members.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { sendSigned } from './helpers/signed-request.ts';
import { eventually } from './helpers/rooms.ts';

const PULL = '/_paracord/federation/v1/pull';
const PAGE_BYTES = 512 * 1024;

it('a pull page holds what fits in its bytes, at least one event; the next page starts at its cursor', async ({ nodes }) => {
  const alpha = await nodes.inProcess('alpha.test', { config: { pullWaitMs: 200, reachabilityWatchSeconds: 0 } });
  const host = { admin: alpha.admin, federationUrl: alpha.started.federation_url! } as unknown as NodeProcess;
  const roomId = (await alpha.admin('POST', '/rooms', { name: 'bulky' })).body.room_id as string;
  const friend = await nodes.fakePeer('friend.test');
  await joinFakePeer(host, roomId, friend);
  await eventually(async () => expect((await alpha.admin('GET', '/queue?state=pending&destination=friend.test')).body.entries).toHaveLength(0));
  const pull = async (cursor: string) => {
    const page = await sendSigned(friend.identity, host.federationUrl, 'GET', `${PULL}?cursor=${cursor}&limit=100`);
    expect(page.status).toBe(200);
    return page.body as { events: Array<{ content: { body: string } }>; cursor: string };
  };
  // It pulls (nothing yet): from now on, what alpha sends it waits for its pulls.
  const start = (await pull('0')).cursor;
  const bodies = Array.from({ length: 45 }, (_, i) => `${i} ${'😀'.repeat(3_990)}`);
  for (let i = 0; i < bodies.length; i += 15) {
    expect((await alpha.admin('POST', `/rooms/${encodeURIComponent(roomId)}/messages/batch`, { messages: bodies.slice(i, i + 15).map((body) => ({ body })) })).status).toBe(200);
  }
  const first = await pull(start);
  const second = await pull(first.cursor);
  /** What the node counts of a page: each event's wire form (commas and brackets aside). */
  const size = (page: { events: unknown[] }) => page.events.reduce((sum: number, e) => sum + Buffer.byteLength(JSON.stringify(e)), 0);
  expect(first.events.length).toBeGreaterThan(20);
  expect(first.events.length).toBeLessThan(45);
  expect(size(first)).toBeLessThanOrEqual(PAGE_BYTES);
  // Cut where the next event would not have fit.
  expect(size(first) + Buffer.byteLength(JSON.stringify(second.events[0]))).toBeGreaterThan(PAGE_BYTES);
  expect([...first.events, ...second.events].map((e) => e.content.body)).toEqual(bodies);
  // Past the last, an empty page at the same cursor.
  const after = await pull(second.cursor);
  expect(after.events).toEqual([]);
  expect(after.cursor).toBe(second.cursor);
});
