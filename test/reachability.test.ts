/**
 * Issue #15, the reachability self-test, with real node processes on 127.0.0.1. beta publishes
 * an endpoint nobody can reach (a closed port); alpha and gamma know it only there. beta's
 * self-test says so in words, the asked peer calls back only where it knows beta (never an
 * address from the request: a trap listener named in a probe gets no connection), the probe is
 * rate-limited per peer, and bad input gets a clear 4xx JSON error.
 */
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it, type Nodes } from './helpers/fixtures.ts';
import { Identity } from '../main/core/identity/identity.ts';
import { runCli } from './helpers/node-process.ts';
import { eventually, messages, roomWithMembers, send } from './helpers/rooms.ts';
import { sendRaw, sendSigned } from './helpers/signed-request.ts';

async function listening(nodes: Nodes, onConnection: () => void = () => undefined): Promise<number> {
  const server = createServer((socket) => {
    onConnection();
    socket.destroy();
  });
  nodes.servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Three nodes: alpha and gamma reachable; beta publishes a closed port and they know it only there. */
async function threeNodes(nodes: Nodes) {
  const alpha = nodes.process({ serverName: 'alpha.test' });
  const beta = nodes.process({ serverName: 'beta.test' });
  // gamma lets a peer probe it every second; alpha keeps the default (one per 30 s).
  const gamma = nodes.process({ serverName: 'gamma.test', args: ['--reach-probe-interval', '1'] });
  await Promise.all([alpha.start(), beta.start(), gamma.start()]);
  for (const [a, b] of [[alpha, beta], [beta, alpha], [gamma, beta], [beta, gamma], [alpha, gamma], [gamma, alpha]] as const) await a.addPeer(b);
  const status = (await beta.admin('GET', '/status')).body;
  // Where beta really listens (it keeps listening there; only its published URL is unreachable).
  const betaListens = beta.federationUrl;
  expect(await beta.stop()).toBe(0);
  const closed = `http://127.0.0.1:${await closedPort()}`;
  for (const peer of [alpha, gamma]) {
    const readded = await peer.admin('POST', '/peers', { server_name: 'beta.test', endpoint: closed, key_id: status.key_id, public_key: status.public_key });
    expect(readded.status, JSON.stringify(readded.body)).toBe(200);
  }
  // (beta confirms a failed self-test 2 s later, through its other peer, before switching to pull.)
  await beta.start(['--public-url', closed, '--no-port-mapping', '--reachability-confirm-seconds', '2']);
  return { alpha, beta, gamma, closed, betaListens };
}

describe('reachability self-test', () => {
  it('a node nobody can reach is told so in words, switches to pull mode, and the CLI exits 1', async ({ nodes }) => {
    const { alpha, beta, gamma, closed, betaListens } = await threeNodes(nodes);
    let trapped = 0;
    const trap = await listening(nodes, () => trapped++);

    // At start beta asked a peer to call it back: the answer is "refused", in words (and confirmed).
    const automatic = await eventually(async () => {
      const r = (await beta.admin('GET', '/reachability')).body;
      expect(r.mode).toBe('pull');
      return r;
    }, 30_000);
    expect(automatic).toMatchObject({ reachable: false, mode: 'pull', mapping: null });
    expect(['alpha.test', 'gamma.test']).toContain(automatic.via);
    expect(automatic.error).toMatch(/could not reach this node: connection refused at http:\/\/127\.0\.0\.1:\d+/);
    expect(automatic.error).toContain(closed);
    expect(Object.keys(automatic).sort()).toEqual(['checked_at', 'endpoint', 'error', 'families', 'mapping', 'mode', 'pinhole', 'reachable', 'via']);
    // The peer tried beta's IPv4 endpoint; beta publishes no IPv6 one (issue #32 item 4).
    expect(automatic.families).toEqual({ ipv4: false, ipv6: null });
    // It now advertises that it receives by pull.
    const discovery = await sendRaw(`${betaListens}/.well-known/paracord/server`, 'GET', {});
    expect(discovery.body.capabilities).toContain('pull');

    // On demand, through the CLI: exit 1, the same words.
    await new Promise((r) => setTimeout(r, 1_100));
    const run = await runCli(['reach-test', '--data', beta.dataDir, '--via', 'gamma.test']);
    expect(run.code, run.stderr + run.stdout).toBe(1);
    const printed = JSON.parse(run.stdout);
    expect(printed).toMatchObject({ reachable: false, via: 'gamma.test', status: 'refused', mode: 'pull' });
    expect(Object.keys(printed).sort()).toEqual(['endpoint', 'error', 'latency_ms', 'mode', 'reachable', 'status', 'via']);
    expect(printed.error).toMatch(/connection refused/);

    // alpha twice within 30 s: the second is refused by alpha's per-peer limit (429), so nobody was asked: exit 2.
    await runCli(['reach-test', '--data', beta.dataDir, '--via', 'alpha.test']);
    const again = await runCli(['reach-test', '--data', beta.dataDir, '--via', 'alpha.test']);
    expect(again.code, again.stderr + again.stdout).toBe(2);
    expect(JSON.parse(again.stdout).error).toMatch(/429.*at most 1 per 30 s/);
    // The last conclusion stands (a refused probe says nothing new).
    expect((await beta.admin('GET', '/reachability')).body).toMatchObject({ reachable: false, mode: 'pull' });

    // A probe naming another address: refused before anything is contacted.
    const identity = await Identity.open(join(beta.dataDir, 'identity.json'));
    for (const body of [
      JSON.stringify({ endpoint: `http://127.0.0.1:${trap}` }),
      JSON.stringify({ port: trap }),
      JSON.stringify({ path: '/x', host: '127.0.0.1' }),
      '[]',
      'not json',
    ]) {
      const refused = await sendSigned(identity, gamma.federationUrl, 'POST', '/_paracord/federation/v1/reach-probe', body);
      expect(refused.status, body).toBe(400);
      expect(typeof refused.body.error).toBe('string');
      expect(typeof refused.body.message).toBe('string');
    }
    // Unsigned, and from a server that is not a peer: refused.
    expect((await sendRaw(`${alpha.federationUrl}/_paracord/federation/v1/reach-probe`, 'POST', {}, '{}')).status).toBe(401);
    expect(trapped).toBe(0);

    // Bad input to the admin endpoints.
    const notPeer = await beta.admin('POST', '/reachability/check', { via: 'nobody.test' });
    expect(notPeer.status).toBe(400);
    expect(notPeer.body.error).toBe('unknown_peer');
    const badName = await beta.admin('POST', '/reachability/check', { via: 'not a name' });
    expect(badName.status).toBe(400);
    expect(badName.body.error).toBe('invalid_input');
    const extra = await beta.admin('POST', '/reachability/check', { endpoint: 'http://127.0.0.1:1' });
    expect(extra.status).toBe(400);
    expect((await beta.admin('GET', '/reachability')).body).toEqual((await beta.admin('GET', '/reachability')).body);
    expect(trapped).toBe(0);
  }, 120_000);

  it('a reachable node is told it is reachable; a node with no peers says it will test once the first is added', async ({ nodes }) => {
    const alpha = nodes.process({ serverName: 'alpha.test' });
    const gamma = nodes.process({ serverName: 'gamma.test' });
    await Promise.all([alpha.start(), gamma.start()]);
    const lonely = await alpha.admin('POST', '/reachability/check', {});
    expect(lonely.status).toBe(200);
    expect(lonely.body).toMatchObject({ reachable: null, mode: 'push' });
    expect(lonely.body.error).toMatch(/once the first peer is added/);
    expect((await runCli(['reach-test', '--data', alpha.dataDir])).code).toBe(2);

    // The start's own first test (1 s after it) has run, and found nobody to ask.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await alpha.addPeer(gamma);
    // Adding the first peer tests at once (before: at the watch's next tick, up to 30 s later);
    // gamma does not know alpha yet, so nobody could run it.
    await eventually(async () => expect((await alpha.admin('GET', '/status')).body.reachability.checked_at).not.toBeNull(), 10_000, 100);
    // A peer now: not "will be tested once the first peer is added" until the next test (the UI check of 2026-11-27).
    const meanwhile = (await alpha.admin('GET', '/status')).body.reachability;
    expect(meanwhile.summary).not.toMatch(/first peer/);
    expect(meanwhile.error ?? '').not.toMatch(/first peer/);
    // Its only peer blocked: none can run the test, and it says so, not "once the first peer is added" (the UI check).
    expect((await alpha.admin('PUT', '/peers/gamma.test/trust', { mode: 'block' })).status).toBe(200);
    const summary = async () => (await alpha.admin('GET', '/status')).body.reachability.summary as string;
    expect(await summary()).toBe("Reachability: not tested — none of your friends' servers can run the test (blocked, in quarantine or not reached yet)");
    const blocked = await alpha.admin('POST', '/reachability/check', {});
    expect(blocked.body).toMatchObject({ reachable: null, error: 'no peer can run the test: every peer is blocked, in quarantine or not reached yet' });
    expect(await summary()).toBe("Reachability: not tested — none of your friends' servers can run the test (blocked, in quarantine or not reached yet)");
    // Allowed again, it can be asked: tested at once (it had nobody to ask), and gamma, which does
    // not know alpha yet, cannot run it: said in words, not "none can" nor "once the first peer is added".
    expect((await alpha.admin('PUT', '/peers/gamma.test/trust', { mode: 'allow' })).status).toBe(200);
    await eventually(async () => expect(await summary()).toBe('Reachability: not tested — no friend could run the test just now'), 10_000, 100);
    await gamma.addPeer(alpha);
    const checked = await alpha.admin('POST', '/reachability/check', { via: 'gamma.test' });
    expect(checked.status).toBe(200);
    expect(checked.body).toMatchObject({ reachable: true, via: 'gamma.test', mode: 'push', error: null, endpoint: alpha.federationUrl });
    const shown = (await alpha.admin('GET', '/reachability')).body;
    expect(shown).toMatchObject({ reachable: true, via: 'gamma.test', mode: 'push' });
    const discovery = await sendRaw(`${alpha.federationUrl}/.well-known/paracord/server`, 'GET', {});
    expect(discovery.body.capabilities).not.toContain('pull');
  }, 60_000);

  it('a peer whose deliveries time out says so; the node tests itself again, switches to pull, and the messages arrive', async ({ nodes }) => {
    const alpha = nodes.process({ serverName: 'alpha.test', args: ['--reach-probe-interval', '1', '--retry-initial', '200', '--retry-max', '1000'] });
    const beta = nodes.process({ serverName: 'beta.test', args: ['--no-port-mapping', '--reachability-confirm-seconds', '2'] });
    await Promise.all([alpha.start(), beta.start()]);
    await alpha.addPeer(beta);
    await beta.addPeer(alpha);
    const roomId = await roomWithMembers(alpha, 'failing', [[beta, '@owner:beta.test']]);
    // beta's own first test with a peer comes at its next watch tick (every 30 s): asked now instead.
    expect((await beta.admin('POST', '/reachability/check', {})).status).toBe(200);
    await eventually(async () => expect((await beta.admin('GET', '/reachability')).body.reachable).toBe(true), 20_000);
    // Now alpha has beta only at a closed port: its pushes are refused.
    const status = (await beta.admin('GET', '/status')).body;
    const readded = await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: `http://127.0.0.1:${await closedPort()}`, key_id: status.key_id, public_key: status.public_key });
    expect(readded.status).toBe(200);
    const lost = await send(alpha, roomId, 'to beta, who cannot be reached');
    await eventually(async () => {
      const entries = (await alpha.admin('GET', '/queue?destination=beta.test')).body.entries;
      expect(entries[0]?.last_error ?? '').toMatch(/ECONNREFUSED/);
    }, 20_000);
    // beta talks to alpha (a message in alpha's room): alpha's answer says its deliveries fail.
    // (alpha caches "are my deliveries to beta failing" for 10 s, so beta may have to speak twice.)
    await eventually(async () => {
      await send(beta, roomId, 'hello from beta');
      // (confirmed by a second test through alpha 2 s later)
      await eventually(async () => expect((await beta.admin('GET', '/reachability')).body).toMatchObject({ reachable: false, via: 'alpha.test', mode: 'pull' }), 8_000);
    }, 40_000, 0);
    expect(beta.stderr).toContain('peer_reports_delivery_failing');
    // In pull mode the message that could not be pushed arrives.
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.event_id)).toContain(lost), 30_000);
  }, 90_000);
});
