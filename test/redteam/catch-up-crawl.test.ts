/**
 * Red team (issue #14 item 15 class: a catch-up a host can spin), fixed in RoomService.catchUp.
 * The node used to stop only when a page's cursor did NOT advance: a hostile host that advanced
 * it by one each time and kept answering `complete: false` with the same (already stored) event
 * was asked again at once, page after page, up to a 10,000-page bound — and stop() did not end a
 * running catch-up, which then wrote into a closed database.
 * Now: a page that brings nothing new counts as no progress — after 3 such pages in a row the
 * node stops and backs off the host; a run asks for at most 500 pages and a host gets at most
 * 120 catch-up requests a minute (both configurable); stop() aborts running catch-ups (and their HTTP request).
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { beforeAll, describe, expect, it, type InProcessNode } from '../helpers/fixtures.ts';
import { envelopeWireJson } from '../../main/core/federation/envelope.ts';
import { makeEvent } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { eventually } from '../helpers/rooms.ts';

let alpha: InProcessNode;
let host: FakePeer;

beforeAll(async ({ fileNodes }) => {
  host = await fileNodes.fakePeer('crawl.test', { roomHost: true });
  alpha = await fileNodes.inProcess('alpha.test');
  expect((await alpha.admin('POST', '/peers', { server_name: 'crawl.test', endpoint: host.url })).status).toBe(200);
});


async function join(node: typeof alpha, roomId: string): Promise<void> {
  expect((await host.invite(node.started.federation_url!, roomId, '@owner:alpha.test')).status).toBe(200);
  const invite = (await node.admin('GET', '/invites')).body.invites.find((i: any) => i.room_id === roomId);
  expect((await node.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
}

describe('red team: a catch-up whose cursor creeps forward', () => {
  it('the same event on every page, cursor + 1: the node stops after a few pages', async () => {
    const roomId = '!crawl:crawl.test';
    const same = JSON.parse(envelopeWireJson(makeEvent(host.identity, { room_id: roomId })));
    const before = host.catchUpRequests;
    host.catchUpAnswer = (q) => ({ room_id: roomId, events: [same], complete: false, next_since_depth: Number(q.get('since_depth')) + 1 });
    await join(alpha, roomId);
    await new Promise((r) => setTimeout(r, 2_000));
    // One page that stores the event, then 3 that bring nothing new: stopped, host backed off.
    expect(host.catchUpRequests - before, 'catch-up requests').toBeLessThanOrEqual(5);
  }, 30_000);

  it('fresh events it refuses on every page (depths two days ahead), cursor + 1: no progress either, the node stops after a few pages', async ({ nodes }) => {
    // Found 2026-11-27 (a helper's audit): events were counted as new once their signature was
    // checked, before the store refused them; a page of 150 looked like progress, run after run.
    const beta = await nodes.inProcess('alpha.test');
    expect((await beta.admin('POST', '/peers', { server_name: 'crawl.test', endpoint: host.url })).status).toBe(200);
    const roomId = '!ahead:crawl.test';
    const ahead = Date.now() + 2 * 86_400_000;
    let n = 0;
    host.catchUpAnswer = (q) => ({
      room_id: roomId,
      events: Array.from({ length: 150 }, () => JSON.parse(envelopeWireJson(makeEvent(host.identity, { room_id: roomId, depth: ahead + ++n })))),
      complete: false,
      next_since_depth: Number(q.get('since_depth')) + 1,
    });
    const before = host.catchUpRequests;
    await join(beta, roomId);
    await new Promise((r) => setTimeout(r, 3_000));
    expect(host.catchUpRequests - before, 'catch-up requests').toBeLessThanOrEqual(5);
    expect(queryNodeDb<{ n: number }>(beta.dataDir, 'SELECT COUNT(*) AS n FROM federation_events WHERE room_id = ? AND depth > ?', roomId, ahead)[0]!.n).toBe(0);
  }, 30_000);

  it('stop() ends a running catch-up: no request after it, nothing written to the closed database', async ({ nodes }) => {
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, new Writable({ write: (chunk: Buffer, _e, done) => { lines.push(chunk.toString()); done(); } }));
    const beta = await nodes.inProcess('alpha.test', { log });
    expect((await beta.admin('POST', '/peers', { server_name: 'crawl.test', endpoint: host.url })).status).toBe(200);
    const roomId = '!busy:crawl.test';
    // A host with a new event on every page (real progress), each answer a little slow.
    let depth = 1;
    host.catchUpAnswer = () => ({ room_id: roomId, events: [JSON.parse(envelopeWireJson(makeEvent(host.identity, { room_id: roomId, depth: ++depth })))], complete: false, next_since_depth: depth });
    const before = host.catchUpRequests;
    await join(beta, roomId);
    while (host.catchUpRequests - before < 5) await new Promise((r) => setTimeout(r, 20));
    await beta.node.stop();
    const atStop = host.catchUpRequests;
    await new Promise((r) => setTimeout(r, 1_000));
    expect(host.catchUpRequests).toBeLessThanOrEqual(atStop + 1); // at most the one in flight
    const failures = lines.filter((l) => /catch_up_failed|not open|closed/i.test(l) && !/node_stopp|listener/.test(l));
    expect(failures).toEqual([]);
  }, 30_000);

  it('a page of more events than a host serves is taken up to that count; the rest is asked for after the last event taken', async ({ nodes }) => {
    // A node of its own: the tests above left crawl.test backed off on alpha.
    const delta = await nodes.inProcess('alpha.test');
    expect((await delta.admin('POST', '/peers', { server_name: 'crawl.test', endpoint: host.url })).status).toBe(200);
    const roomId = '!flood:crawl.test';
    // 5,300 small events (about 2 MB, within the byte bound) in one answer that says complete.
    const events = Array.from({ length: 5_300 }, (_, i) => JSON.parse(envelopeWireJson(makeEvent(host.identity, { room_id: roomId, depth: i + 1 }))) as { event_id: string });
    const asked: Array<string | null> = [];
    host.catchUpAnswer = (q) => {
      const after = q.get('since_event_id');
      asked.push(after);
      const start = after === null ? 0 : events.findIndex((e) => e.event_id === after) + 1;
      return { room_id: roomId, events: events.slice(start), complete: true };
    };
    await join(delta, roomId);
    // The first page is taken up to 5,200 events (limit 200 and a depth of 5,000); the next asks after the last one taken.
    await eventually(async () => expect(asked).toContain(events[5_199]!.event_id), 60_000);
    // The legitimate part: every event comes, once.
    await eventually(async () => {
      const ids = queryNodeDb<{ event_id: string }>(delta.dataDir, 'SELECT event_id FROM federation_events WHERE room_id = ?', roomId).map((r) => r.event_id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const event of [events[0]!, events[5_199]!, events[5_200]!, events[5_299]!]) expect(ids).toContain(event.event_id);
      expect(ids.length).toBeGreaterThanOrEqual(5_300);
    }, 60_000);
  }, 120_000);

  it('a run stopped by its page limit is followed by the next: every page comes, not only the first run\'s (before: the rest waited for a restart)', async ({ nodes }) => {
    const epsilon = await nodes.inProcess('alpha.test', { config: { catchUpMaxPagesPerRun: 2 } });
    expect((await epsilon.admin('POST', '/peers', { server_name: 'crawl.test', endpoint: host.url })).status).toBe(200);
    const roomId = '!long:crawl.test';
    // Seven pages of one event each (depths 1..7), then the end.
    const events = Array.from({ length: 7 }, (_, i) => JSON.parse(envelopeWireJson(makeEvent(host.identity, { room_id: roomId, depth: i + 1 }))) as { event_id: string; depth: number });
    host.catchUpAnswer = (q) => {
      const since = Number(q.get('since_depth'));
      const next = events.find((e) => e.depth > since);
      return next ? { room_id: roomId, events: [next], complete: false, next_since_depth: next.depth } : { room_id: roomId, events: [], complete: true };
    };
    await join(epsilon, roomId);
    await eventually(async () => {
      const ids = queryNodeDb<{ event_id: string }>(epsilon.dataDir, 'SELECT event_id FROM federation_events WHERE room_id = ?', roomId).map((r) => r.event_id);
      for (const event of events) expect(ids).toContain(event.event_id);
    }, 15_000);
  }, 30_000);

  it('a host whose every page brings one new event gets at most its per-minute budget of requests', async ({ nodes }) => {
    const gamma = await nodes.inProcess('alpha.test', { config: { catchUpRequestsPerHostPerMinute: 10 } });
    expect((await gamma.admin('POST', '/peers', { server_name: 'crawl.test', endpoint: host.url })).status).toBe(200);
    const roomId = '!budget:crawl.test';
    let depth = 1;
    host.catchUpAnswer = () => ({ room_id: roomId, events: [JSON.parse(envelopeWireJson(makeEvent(host.identity, { room_id: roomId, depth: ++depth })))], complete: false, next_since_depth: depth });
    const before = host.catchUpRequests;
    await join(gamma, roomId);
    await new Promise((r) => setTimeout(r, 2_000));
    expect(host.catchUpRequests - before).toBeLessThanOrEqual(10);
    expect(host.catchUpRequests - before).toBeGreaterThan(3); // real progress is not cut short
  }, 30_000);

  it('a host\'s cursor far past the events it served does not move the room\'s watermark past them', async ({ nodes }) => {
    // Red team 2026-11-30: the watermark followed the host's next_since_depth (any safe integer past
    // the cursor): at 2^53, every later run asked from there and found the room done, for good.
    const beta = await nodes.inProcess('alpha.test');
    expect((await beta.admin('POST', '/peers', { server_name: 'crawl.test', endpoint: host.url })).status).toBe(200);
    const roomId = '!far:crawl.test';
    const real = makeEvent(host.identity, { room_id: roomId, depth: 5 });
    // …beside an event it signed at that depth too, which the store refuses (far in the future).
    const far = makeEvent(host.identity, { room_id: roomId, depth: 9_007_199_254_739_000 });
    let asked = 0;
    host.catchUpAnswer = (q) => {
      asked++;
      return Number(q.get('since_depth')) < 5
        ? { room_id: roomId, events: [real, far].map((e) => JSON.parse(envelopeWireJson(e))), complete: false, next_since_depth: 9_007_199_254_740_000 }
        : { room_id: roomId, events: [], complete: true };
    };
    await join(beta, roomId);
    await eventually(async () => expect(asked).toBeGreaterThanOrEqual(2));
    await eventually(async () => expect(queryNodeDb<{ n: number }>(beta.dataDir, 'SELECT COUNT(*) AS n FROM federation_events WHERE event_id = ?', real.event_id)[0]!.n).toBe(1));
    const watermark = queryNodeDb<{ synced_depth: number }>(beta.dataDir, 'SELECT synced_depth FROM rooms WHERE room_id = ?', roomId)[0]!.synced_depth;
    // (Before: 9007199254739999.)
    expect(watermark).toBeLessThan(5);
  }, 30_000);
});
