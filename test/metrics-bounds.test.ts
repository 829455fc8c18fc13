/**
 * Issue #18, metrics against real node processes: the per-destination label bound
 * (`--metrics-destinations 2` with four destinations), the reachability gauge, and events a node
 * fetched itself (start-up catch-up) counted in received events. Parsed with the strict
 * exposition-format parser (test/helpers/prom-text.ts).
 */
import { createServer } from 'node:net';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from './helpers/fixtures.ts';
import { startPeered, stopAll, type NodeProcess } from './helpers/node-process.ts';
import { parsePrometheusText, sampleValue } from './helpers/prom-text.ts';
import { eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';

let alpha: NodeProcess;
let peers: NodeProcess[];

beforeAll(async ({ fileNodes }) => {
  alpha = fileNodes.process({ serverName: 'alpha.test', args: ['--metrics-destinations', '2', '--retry-initial', '200', '--retry-max', '1000'] });
  peers = ['b.test', 'c.test', 'd.test', 'e.test'].map((serverName) => fileNodes.process({ serverName }));
  await Promise.all([alpha, ...peers].map((n) => n.start()));
}, 60_000);

async function scrape(node: NodeProcess) {
  const response = await request(`${node.ready.admin_url}/metrics`, { headers: { authorization: `Bearer ${node.adminToken}` }, reset: true });
  expect(response.statusCode).toBe(200);
  return parsePrometheusText(await response.body.text());
}

function series(families: ReturnType<typeof parsePrometheusText>, name: string) {
  return [...families.values()].flatMap((f) => f.samples).filter((s) => s.name === name);
}

describe('GET /metrics on a node with more destinations than --metrics-destinations', () => {
  it('shows reachability, bounds destination labels to the top 2 plus "other", and counts caught-up events', async () => {
    // Reachability: not tested yet (-1) before any peer, then 1 once a peer called it back.
    await eventually(async () => expect((await alpha.admin('GET', '/reachability')).body.error).toBeTruthy());
    expect(sampleValue(await scrape(alpha), 'paracord_reachable', { mode: 'push' })).toBe(-1);
    for (const peer of peers) {
      await alpha.addPeer(peer);
      await peer.addPeer(alpha);
    }
    const checked = await alpha.admin('POST', '/reachability/check', {});
    expect(checked.body.reachable, JSON.stringify(checked.body)).toBe(true);
    const reach = series(await scrape(alpha), 'paracord_reachable');
    expect(reach.map((s) => [s.labels, s.value])).toEqual([[{ mode: 'push' }, 1]]);

    const [b, , d, e] = peers as [NodeProcess, NodeProcess, NodeProcess, NodeProcess];
    const all = await roomWithMembers(alpha, 'all', peers.map((p) => [p, `@owner:${p.serverName}`] as [NodeProcess, string]));
    const de = await roomWithMembers(alpha, 'de', [[d, '@owner:d.test'], [e, '@owner:e.test']]);
    // Every peer goes down: one event waits for b and c, three for d and e.
    await stopAll(peers);
    const m1 = await send(alpha, all, 'to everybody');
    await send(alpha, de, 'to d and e, 1');
    await send(alpha, de, 'to d and e, 2');

    await eventually(async () => {
      const m = await scrape(alpha);
      const pending = series(m, 'paracord_outbox_entries').filter((s) => s.labels.state === 'pending');
      expect(pending.map((s) => [s.labels.destination, s.value]).sort()).toEqual([['d.test', 3], ['e.test', 3], ['other', 2]]);
      // Sticky counter labels: the first two destinations seen, the rest as "other".
      const attempted = new Set(series(m, 'paracord_delivery_attempts_total').map((s) => s.labels.destination));
      expect(attempted.has('other'), [...attempted].join()).toBe(true);
      expect([...attempted].filter((x) => x !== 'other')).toHaveLength(2);
      for (const name of ['paracord_delivery_latency_seconds_count', 'paracord_delivery_events_delivered_total']) {
        expect(new Set(series(m, name).map((s) => s.labels.destination)).size).toBeLessThanOrEqual(3);
      }
      // b and c now retry: the reachability proxy counts four destinations failing.
      expect(sampleValue(m, 'paracord_peers_unreachable')).toBe(4);
    }, 30_000, 250);

    // b's event is taken out of alpha's outbox: b can only get it by its catch-up at start.
    const queued = (await alpha.admin('GET', '/queue?destination=b.test')).body.entries as Array<{ id: number; event_id: string }>;
    const entry = queued.find((q) => q.event_id === m1);
    expect(entry, JSON.stringify(queued)).toBeDefined();
    expect((await alpha.admin('DELETE', `/queue/${entry!.id}`)).body).toEqual({ dropped: true });
    await b.start();
    await eventually(async () => expect((await messages(b, all)).map((m) => m.event_id)).toContain(m1), 30_000, 250);
    await eventually(async () => {
      const caughtUp = series(await scrape(b), 'paracord_federation_events_received_total').filter((s) => s.labels.via === 'catch_up' && s.labels.result === 'accepted');
      expect(caughtUp.reduce((n, s) => n + s.value, 0)).toBeGreaterThanOrEqual(1);
    });
  });

  it('counts events a node in pull mode pulled, and shows its reachability in mode "pull"', async ({ nodes }) => {
    // As in test/pull-mode.test.ts: beta publishes a closed port, so it receives only by pull.
    const host = nodes.process({ serverName: 'host.test', args: ['--retry-initial', '200', '--retry-max', '2000'] });
    const beta = nodes.process({ serverName: 'beta.test' });
    await startPeered([host, beta]);
    const roomId = await roomWithMembers(host, 'pull', [[beta, '@owner:beta.test']]);
    const status = (await beta.admin('GET', '/status')).body;
    expect(await beta.stop()).toBe(0);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const closed = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    await new Promise((resolve) => server.close(resolve));
    const readded = await host.admin('POST', '/peers', { server_name: 'beta.test', endpoint: closed, key_id: status.key_id, public_key: status.public_key });
    expect(readded.status, JSON.stringify(readded.body)).toBe(200);
    await beta.start(['--public-url', closed, '--pull']);

    const sent: string[] = [];
    for (let i = 0; i < 3; i++) sent.push(await send(host, roomId, `pulled ${i}`));
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.event_id)).toEqual(expect.arrayContaining(sent)), 60_000, 250);
    // Beta's catch-up at start may store them first (it runs while the host writes): the pull then
    // still fetches them, as duplicates. Either way every one is counted as pulled.
    await eventually(async () => {
      const m = await scrape(beta);
      const pulled = series(m, 'paracord_federation_events_received_total').filter((s) => s.labels.via === 'pull' && (s.labels.result === 'accepted' || s.labels.result === 'duplicate'));
      expect(pulled.reduce((n, s) => n + s.value, 0)).toBeGreaterThanOrEqual(3);
      expect(series(m, 'paracord_reachable').map((s) => s.labels.mode)).toEqual(['pull']);
    }, 60_000, 250);
  });
});
