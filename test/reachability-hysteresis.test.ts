/**
 * Issue #15, hysteresis of pull mode, with real node processes on 127.0.0.1. Peers know beta only
 * through a TCP forwarder this test opens and closes (a router that stops forwarding for a while).
 * One failed self-test does not switch beta to pull mode: it says "Not reachable: testing again"
 * and tests again `--reachability-confirm-seconds` later, through another peer first. A failure
 * that passes before that test leaves beta receiving by push; a confirmed one switches it to pull
 * mode; one successful test switches it back.
 */
import { connect, createServer, type Socket } from 'node:net';
import { describe, expect, it, type Nodes } from './helpers/fixtures.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { eventually } from './helpers/rooms.ts';
import { sendRaw } from './helpers/signed-request.ts';

/** A TCP forwarder to `port`; while closed it drops every connection (existing ones too). */
async function forwarder(nodes: Nodes, port: number) {
  const sockets = new Set<Socket>();
  let open = true;
  const server = createServer((socket) => {
    if (!open) return void socket.destroy();
    const upstream = connect(port, '127.0.0.1');
    for (const s of [socket, upstream]) {
      sockets.add(s);
      s.on('error', () => undefined);
      s.on('close', () => {
        sockets.delete(s);
        socket.destroy();
        upstream.destroy();
      });
    }
    socket.pipe(upstream).pipe(socket);
  });
  nodes.servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    close() {
      open = false;
      for (const s of sockets) s.destroy();
    },
    open() {
      open = true;
    },
  };
}

/** beta and its peers; the peers know beta only through the forwarder. */
async function setUp(nodes: Nodes, peers: Array<[string, string[]]>, confirmSeconds: number) {
  const beta = nodes.process({ serverName: 'beta.test', args: ['--reachability-confirm-seconds', String(confirmSeconds)] });
  const others = peers.map(([name, args]) => nodes.process({ serverName: name, args }));
  await Promise.all([beta.start(), ...others.map((n) => n.start())]);
  const status = (await beta.admin('GET', '/status')).body;
  const router = await forwarder(nodes, Number(new URL(beta.federationUrl).port));
  for (const peer of others) {
    await beta.addPeer(peer);
    const added = await peer.admin('POST', '/peers', { server_name: 'beta.test', endpoint: router.url, key_id: status.key_id, public_key: status.public_key });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
  }
  return { beta, others, router };
}

const reachability = async (n: NodeProcess) => (await n.admin('GET', '/reachability')).body;
const summary = async (n: NodeProcess) => (await n.admin('GET', '/status')).body.reachability.summary as string;
const capabilities = async (n: NodeProcess) => (await sendRaw(`${n.federationUrl}/.well-known/paracord/server`, 'GET', {})).body.capabilities as string[];
const pullSwitches = (n: NodeProcess) => n.stderr.split('\n').filter((l) => l.includes('"pull_mode_on"')).length;
/**
 * "Test now" after the router changed. An answer that still says the old state is one the node
 * gave without testing the new one: a test already under way (joined), or, when the peers' probe
 * limits refused every probe, the conclusive result of a test a moment ago (Reachability.requested).
 * Asked again until the answer is the new state; one that never comes fails the test.
 */
async function testNow(n: NodeProcess, reachable: boolean) {
  return eventually(async () => {
    const r = (await n.admin('POST', '/reachability/check', {})).body;
    expect(r.reachable).toBe(reachable);
    return r;
  }, 30_000, 500);
}

describe('pull mode hysteresis', () => {
  it('a transient failure does not switch to pull mode; a confirmed one does (through the other peer); one success switches back', async ({ nodes }) => {
    const { beta, router } = await setUp(nodes, [['alpha.test', ['--reach-probe-interval', '1']], ['gamma.test', ['--reach-probe-interval', '1']]], 6);
    const first = await beta.admin('POST', '/reachability/check', {});
    expect(first.body).toMatchObject({ reachable: true, mode: 'push' });

    // The router stops forwarding for a moment: one failed test, not yet believed.
    router.close();
    const failed = await testNow(beta, false);
    expect(failed).toMatchObject({ reachable: false, mode: 'push', mapping: null });
    const other = failed.via === 'alpha.test' ? 'gamma.test' : 'alpha.test';
    expect(failed.error).toMatch(new RegExp(`could not reach this node: .*Testing again through ${other.replace('.', '\\.')} in 6 s before switching to pull mode\\.$`));
    // next_test_at: when the confirming test runs (the error's "in 6 s" does not count down).
    expect(Object.keys(await reachability(beta)).sort()).toEqual(['checked_at', 'endpoint', 'error', 'families', 'mapping', 'mode', 'next_test_at', 'pinhole', 'reachable', 'via']);
    expect(await summary(beta)).toBe('Not reachable: testing again');
    expect(await capabilities(beta)).not.toContain('pull');

    // It forwards again before the confirming test: that test passes, through the other peer.
    router.open();
    const recovered = await eventually(async () => {
      const r = await reachability(beta);
      expect(r.reachable).toBe(true);
      return r;
    }, 30_000);
    expect(recovered).toMatchObject({ mode: 'push', via: other, error: null });
    expect(await summary(beta)).toBe('Reachable from friends');
    expect(pullSwitches(beta)).toBe(0);

    // Now it stays closed: the confirming test fails too, and beta receives by pull.
    router.close();
    const again = await testNow(beta, false);
    expect(again).toMatchObject({ reachable: false, mode: 'push' });
    const confirmedVia = again.via === 'alpha.test' ? 'gamma.test' : 'alpha.test';
    const confirmed = await eventually(async () => {
      const r = await reachability(beta);
      expect(r.mode).toBe('pull');
      return r;
    }, 30_000);
    expect(confirmed).toMatchObject({ reachable: false, via: confirmedVia });
    expect(confirmed.error).not.toMatch(/Testing again/);
    expect(await summary(beta)).toBe('Receiving through pull mode');
    expect(await capabilities(beta)).toContain('pull');
    expect(pullSwitches(beta)).toBe(1);

    // One successful test switches pull mode off.
    router.open();
    const back = await testNow(beta, true);
    expect(back).toMatchObject({ reachable: true, mode: 'push', error: null });
    expect(await capabilities(beta)).not.toContain('pull');
    expect(await summary(beta)).toBe('Reachable from friends');
  }, 120_000);

  it('with one peer the same peer confirms once its per-peer probe limit allows; a refused probe leaves the failure unconfirmed', async ({ nodes }) => {
    // alpha answers one probe per 8 s; beta confirms 3 s after the failure (refused: 429), then 6 s later, ...
    const { beta, router } = await setUp(nodes, [['alpha.test', ['--reach-probe-interval', '8']]], 3);
    router.close();
    const failed = (await beta.admin('POST', '/reachability/check', {})).body;
    expect(failed).toMatchObject({ reachable: false, mode: 'push', via: 'alpha.test' });
    expect(failed.error).toMatch(/Testing again through alpha\.test in 3 s before switching to pull mode\.$/);
    const confirmed = await eventually(async () => {
      const r = await reachability(beta);
      expect(r.mode).toBe('pull');
      return r;
    }, 40_000);
    expect(confirmed).toMatchObject({ reachable: false, via: 'alpha.test' });
    // In between, the confirming test that alpha refused (429) concluded nothing.
    const checks = beta.stderr.split('\n').filter((l) => l.includes('"reachability_checked"')).map((l) => JSON.parse(l) as { reachable: boolean | null; mode: string });
    const since = checks.findIndex((c) => c.reachable === false);
    const sequence = checks.slice(since).map((c) => `${c.reachable} ${c.mode}`);
    expect(sequence[0]).toBe('false push');
    expect(sequence.at(-1)).toBe('false pull');
    // (alpha's limit may refuse more than one: each says nothing, and the next waits longer.)
    expect(sequence.length).toBeGreaterThanOrEqual(3);
    expect(new Set(sequence.slice(1, -1))).toEqual(new Set(['null push']));
  }, 90_000);
});
