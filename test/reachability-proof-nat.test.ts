/**
 * A "reachable" must be proven (red team: one peer's word ended pull mode). A home node in a lan
 * namespace behind a router namespace that only masquerades (no UPnP, no route back in) receives
 * by pull after redeeming a friend's invite link (test/nat-peering.test.ts). A hostile peer on
 * the wan side (test/helpers/hostile-prober.ts) answers every reach-probe `{reachable: true}`
 * without calling the home node back, and answers the home's pulls with
 * `X-Paracord-Delivery-Failing`, which makes the home test itself through it. The home node stays
 * in pull mode, advertises `pull`, and its reachability does not say reachable: its listener never
 * served the probe's nonce, and the other peer (the friend, which really cannot reach it) does not
 * agree. The honest case: a node on the wan side is proven reachable by the friend's callback.
 * Skipped, with the reason, where network namespaces are not available.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { natHomeWithFriend } from './helpers/nat-home.ts';
import { fetchIn, inNamespace, poll, routerPerSuite, serveIn, stopChild } from './helpers/netns-node.ts';
import { LAN_NODE, WAN_NODE, routerUnavailable } from './helpers/netns-router.ts';
import { REPO_ROOT } from './helpers/node-process.ts';
import { tempDir } from './helpers/temp-dir.ts';

const unavailable = routerUnavailable({ upnp: false });
if (unavailable) console.warn(`reachability proof tests skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('a "reachable" answer must be proven (behind a NAT router without UPnP)', () => {
  const router = routerPerSuite({ upnp: false });

  it('a peer that answers the reach-probe "reachable" falsely, and reports failing deliveries to trigger it, does not end pull mode', async () => {
    const port = 7471;
    const liarPort = 7472;
    // Plain http (--insecure-http): the liar (a FakePeer) speaks no TLS. Without a pinned
    // certificate the friend tries a private address only when allowed to: it then tries, and
    // cannot get through the router, as anyone outside.
    // Nobody reaches the home node: it receives by pull from the start.
    // The router has no UPnP: without --no-port-mapping the home would wait for a mapping
    // (SSDP, then NAT-PMP, 5 s each) before each of its tests; nat-peering.test.ts keeps that.
    const { home, stop } = await natHomeWithFriend(router, port, { secure: false, friendArgs: ['--allow-private-addresses'], homeArgs: ['--no-port-mapping'] });
    const liar = inNamespace(router.wan, [join(REPO_ROOT, 'test/helpers/hostile-prober.ts'), 'liar.test', WAN_NODE, String(liarPort)]);
    try {
      expect(JSON.parse(await liar.next()), liar.output()).toMatchObject({ ready: true });

      // The node's own first test is over: through the friend.
      const checks = () => home.run.output().split('\n').filter((l) => l.includes('"event":"reachability_checked"'));
      await poll(() => expect(checks().length).toBeGreaterThan(0), 60_000);
      const checksBefore = checks().length;

      // The owner adds the liar as a peer; the home node pulls from it, is told its deliveries
      // fail, and tests itself through it.
      const added = home.admin('POST', '/peers', { server_name: 'liar.test', endpoint: `http://${WAN_NODE}:${liarPort}` });
      expect(added.status, JSON.stringify(added.body)).toBe(200);
      expect(JSON.parse(await liar.next()), liar.output()).toMatchObject({ probe: 1 });
      // That test ends (the liar's word put to the friend, which cannot reach the home node).
      await poll(() => expect(checks().length).toBeGreaterThan(checksBefore), 60_000);
      expect(home.run.output()).toMatch(/"event":"peer_reports_delivery_failing"[^\n]*"peer":"liar\.test"/);
      const after = home.admin('GET', '/reachability').body;
      // The friend, asked to agree, could not reach it: "not reachable", as it is.
      expect(after, home.run.output()).toMatchObject({ mode: 'pull', reachable: false, via: 'friend.test' });
      expect(home.admin('GET', '/status').body.reachability.summary, JSON.stringify(after)).toMatch(/^Receiving through pull mode/);
      // It still advertises `pull`, so friends keep queueing for it.
      const discovery = fetchIn(router.lan, `http://${LAN_NODE}:${port}/.well-known/paracord/server`);
      expect(discovery.body?.capabilities, JSON.stringify(discovery)).toContain('pull');

      // The owner's own test through the liar says the same.
      const asked = home.admin('POST', '/reachability/check', { via: 'liar.test' });
      expect(asked.status, JSON.stringify(asked.body)).toBe(200);
      expect(asked.body.reachable, JSON.stringify(asked.body)).not.toBe(true);
      expect(home.admin('GET', '/reachability').body).toMatchObject({ mode: 'pull' });
      expect(home.run.output()).toMatch(/"event":"reach_answer_unproven"[^\n]*"peer":"liar\.test"/);
      expect(home.run.output()).not.toMatch(/"event":"pull_mode_off"/);
    } finally {
      liar.child.stdin!.end();
      await stopChild(liar.child);
      await stop();
    }
  }, 180_000);

  it('a node the friend really reaches is proven reachable by the friend\'s callback', async () => {
    const port = 7473;
    const friend = await serveIn(router.wan, tempDir('paracord-friend-'), 'friend.test', `${WAN_NODE}:${port}`, ['--public-url', `https://${WAN_NODE}:${port}`], true);
    const near = await serveIn(router.wan, tempDir('paracord-near-'), 'near.test', `${WAN_NODE}:${port + 1}`, ['--public-url', `https://${WAN_NODE}:${port + 1}`], true);
    try {
      const link = friend.admin('POST', '/invites/peer', {});
      const redeemed = near.admin('POST', '/invites/peer/redeem', { link: link.body.link });
      expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
      expect(redeemed.body).toMatchObject({ server_name: 'friend.test', reachable: true });
      const checked = near.admin('POST', '/reachability/check', { via: 'friend.test' });
      expect(checked.body, near.run.output()).toMatchObject({ reachable: true, via: 'friend.test', mode: 'push' });
      expect(near.admin('GET', '/reachability').body).toMatchObject({ reachable: true, mode: 'push' });
      // On the friend's proven word alone: no second peer was needed.
      expect(near.run.output()).not.toMatch(/reach_answer_unproven/);
    } finally {
      await stopChild(near.run.child);
      await stopChild(friend.run.child);
    }
  }, 120_000);
});
