/**
 * A "reachable" answer to the reach-probe is believed on one peer's word only with proof: the node
 * sends a fresh nonce with each probe and its own federation listener must have served that nonce
 * (`GET /reach-probe/echo/<nonce>`) to the prober during the probe (docs/PROTOCOL.md
 * §Reachability). Older nodes refuse the nonce (400) and are asked the old way, `{}`: their
 * "reachable" counts only when a second, different peer agrees, and never ends pull mode alone.
 * A real node in this process; its peers are fake servers answering as older Paracord nodes.
 * test/reachability-proof-nat.test.ts: the hostile peer against a node behind a real NAT router.
 */
import { expect, it, type Nodes } from './helpers/fixtures.ts';
import { eventually } from './helpers/rooms.ts';
import { REACH_PROBE_PATH } from '../main/core/federation/paths.ts';
import type { FakePeer } from './helpers/fake-peer.ts';

/** A node older than the nonce: any field of the probe is refused 400; `{}` is answered "reachable" without calling back. */
function answersTheOldWay(peer: FakePeer, bodies: string[]): void {
  peer.routes.set(REACH_PROBE_PATH, (_url, body) => {
    bodies.push(body);
    if (body !== '' && body !== '{}') return { status: 400, body: { error: 'invalid_request', message: 'the probe body must be {}' } };
    return { status: 200, body: { reachable: true, status: 'reachable', latency_ms: 2, error: null } };
  });
}

it('an older peer\'s unproven "reachable" does not end pull mode alone; a second older peer that agrees does', async ({ nodes }: { nodes: Nodes }) => {
  const beta = await nodes.inProcess('beta.test', { config: { reachabilityWatchSeconds: 0, reachabilityConfirmSeconds: 1, noPortMapping: true } });
  const reachability = beta.node.context.running()!.reachability;
  // fail.test answers "not reachable" (twice: pull mode), then refuses every probe (its limit).
  const fail = await nodes.fakePeer('fail.test');
  let failing = true;
  fail.routes.set(REACH_PROBE_PATH, () => (failing ? { status: 200, body: { reachable: false, status: 'refused', error: 'connect ECONNREFUSED' } } : { status: 429, body: { error: 'rate_limited', message: 'one probe per 30 s' } }));
  expect((await beta.admin('POST', '/peers', { server_name: fail.serverName, endpoint: fail.url })).status).toBe(200);
  expect((await reachability.check('fail.test')).reachable).toBe(false);
  await eventually(async () => expect(reachability.mode).toBe('pull'), 10_000);
  failing = false;

  // One older peer says "reachable": asked with a nonce (refused), then the old way; unproven, and nobody agrees.
  const oldBodies: string[] = [];
  const old = await nodes.fakePeer('old.test');
  answersTheOldWay(old, oldBodies);
  expect((await beta.admin('POST', '/peers', { server_name: old.serverName, endpoint: old.url })).status).toBe(200);
  const alone = await reachability.requested('old.test');
  expect(alone.reachable).toBeNull();
  expect(alone.error).toContain('old.test says this node is reachable, but without proof');
  expect(oldBodies).toHaveLength(2);
  expect(JSON.parse(oldBodies[0]!)).toEqual({ nonce: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
  expect(oldBodies[1]).toBe('{}');
  expect(reachability.mode).toBe('pull');
  const status = (await beta.admin('GET', '/reachability')).body;
  expect(status).toMatchObject({ mode: 'pull', reachable: false, via: 'fail.test' });

  // A second, different older peer agrees: reachable, pull mode off.
  const other = await nodes.fakePeer('other.test');
  answersTheOldWay(other, []);
  expect((await beta.admin('POST', '/peers', { server_name: other.serverName, endpoint: other.url })).status).toBe(200);
  const agreed = await reachability.requested('old.test');
  expect(agreed).toMatchObject({ reachable: true, via: 'old.test', mode: 'push' });
  expect((await beta.admin('GET', '/reachability')).body).toMatchObject({ reachable: true, mode: 'push' });
}, 40_000);

it('the echo serves only the nonce of a probe under way: any other is 404, unsigned or not', async ({ nodes }: { nodes: Nodes }) => {
  const beta = await nodes.inProcess('beta.test', { config: { reachabilityWatchSeconds: 0 } });
  for (const nonce of ['A'.repeat(43), 'short', '..%2F..%2Fkeys']) {
    const response = await fetch(`${beta.started.federation_url}/_paracord/federation/v1/reach-probe/echo/${nonce}`);
    expect(response.status).toBe(404);
  }
});

it('as the prober: an echo that fails after the caller\'s keys were read is no "not reachable" (the caller judges the proof); another server echoing something else is', async ({ nodes }: { nodes: Nodes }) => {
  const { sendSigned } = await import('./helpers/signed-request.ts');
  // One probe per caller a second (30 s by default).
  const beta = await nodes.inProcess('beta.test', { config: { reachabilityWatchSeconds: 0, noPortMapping: true, reachProbeIntervalSeconds: 1 } });
  const caller = await nodes.fakePeer('caller.test');
  expect((await beta.admin('POST', '/peers', { server_name: caller.serverName, endpoint: caller.url })).status).toBe(200);
  const probe = async (nonce: string) => {
    const response = await sendSigned(caller.identity, beta.started.federation_url!, 'POST', REACH_PROBE_PATH, JSON.stringify({ nonce }), { destination: 'beta.test' });
    expect(response.status, response.text).toBe(200);
    return JSON.parse(response.text) as { reachable: boolean; status: string };
  };
  // Its echo answers 404 (the nonce no longer awaited): the caller was reached; before, "not reachable" (http_error).
  expect(await probe('A'.repeat(43))).toMatchObject({ reachable: true, status: 'reachable' });
  // Another server there echoes another nonce: not the caller.
  caller.routes.set(`${REACH_PROBE_PATH}/echo/${'B'.repeat(43)}`, () => ({ status: 200, body: { nonce: 'C'.repeat(43) } }));
  await new Promise((resolve) => setTimeout(resolve, 1_100));
  expect(await probe('B'.repeat(43))).toMatchObject({ reachable: false, status: 'wrong_server' });
}, 30_000);
