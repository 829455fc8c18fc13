/**
 * Issue #32 item 4, the IPv6 pinhole, against Debian's miniupnpd (IGDv2, nftables) as the router
 * in network namespaces (test/helpers/netns-router.ts, `ipv6: true`): the router's IPv6 firewall
 * drops new inbound connections except what miniupnpd's pinholes allow, and the home node has a
 * global IPv6 address behind it.
 *  - The node's Ipv6Pinhole finds the router over SSDP/IPv6 and asks its WANIPv6FirewallControl:1
 *    service: before, a friend cannot open a TCP connection to the home over IPv6; with the
 *    pinhole it can (from any source port); the lease is renewed (UpdatePinhole); DeletePinhole
 *    closes it again.
 *  - A home node: with --no-port-mapping the friend cannot reach it over IPv6 (nor IPv4: the
 *    router forwards nothing, and IPv4 to it is cut); started again, it opens the pinhole by
 *    itself, shows it in GET /reachability and the status, the friend redeems its link over IPv6,
 *    messages go both ways by push, and a clean stop closes the pinhole.
 * Skipped, with the reason, where namespaces or miniupnpd are not available.
 */
import { execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/node-process.ts';
import { admin, fetchIn, inNamespace, poll, routerPerSuite, serveIn, stopChild } from './helpers/netns-node.ts';
import { LAN_NODE_V6, WAN_NODE, routerUnavailable } from './helpers/netns-router.ts';
import { enc } from './helpers/rooms.ts';
import { tempDir } from './helpers/temp-dir.ts';

const unavailable = routerUnavailable();
if (unavailable) console.warn(`IPv6 pinhole tests skipped: ${unavailable}`);

/**
 * Whether a TCP connection from namespace `ns` to [host]:port is answered within `timeoutMs` (it
 * says "hi"). A check expected to fail (the router's firewall drops the packets) waits it out
 * whole: 1.5 s there, where an open path answers in a millisecond.
 */
function tcpConnects(ns: string, host: string, port: number, timeoutMs = 3_000): boolean {
  const script = `const s = require('node:net').connect({ host: process.argv[1], port: Number(process.argv[2]), timeout: ${timeoutMs} });
s.on('data', () => { console.log('yes'); process.exit(0); }); s.on('timeout', () => { console.log('no'); process.exit(0); }); s.on('error', () => { console.log('no'); process.exit(0); });`;
  return execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', script, host, String(port)], { timeout: 20_000 }).toString().trim() === 'yes';
}

describe.skipIf(unavailable !== null)('an IPv6 pinhole through miniupnpd (UPnP IGDv2) in a network namespace', () => {
  const router = routerPerSuite({ ipv6: true });

  it('opens a pinhole to its own global IPv6 address, renews it, and closes it', async () => {
    const port = 17460;
    // Something listening on the home's IPv6 address: only the router's firewall stands between.
    const listener = spawn('ip', ['netns', 'exec', router.lan, process.execPath, '-e', `require('node:net').createServer((s) => s.end('hi')).listen(${port}, '::', () => console.log('listening'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve) => listener.stdout!.once('data', resolve));
      expect(tcpConnects(router.lan, LAN_NODE_V6, port)).toBe(true);
      expect(tcpConnects(router.wan, LAN_NODE_V6, port, 1_500)).toBe(false);

      // A 65 s lease: renewed 60 s before the end, so after 5 s.
      const run = inNamespace(router.lan, [join(REPO_ROOT, 'test/helpers/reachability-run.ts'), 'pinhole', LAN_NODE_V6, String(port), '65000']);
      const opened = JSON.parse(await run.next());
      expect(opened, `${run.output()}\n${router.log}`).toMatchObject({ ok: true, pinhole: { protocol: 'upnp-igd', address: LAN_NODE_V6, port } });
      expect(router.hasPinhole(LAN_NODE_V6, port), router.pinholeRules()).toBe(true);
      // Asked on the firewall control service, not on WANIPConnection:2 (where the library sends it).
      expect(router.log).toContain('WANIPv6FirewallControl:1#AddPinhole');
      expect(tcpConnects(router.wan, LAN_NODE_V6, port)).toBe(true);

      await new Promise((r) => setTimeout(r, 6_500));
      run.child.stdin!.write('status\n');
      const later = JSON.parse(await run.next());
      expect(later.pinhole.expires_at, router.log).toBeGreaterThan(opened.pinhole.expires_at);
      expect(router.log).toMatch(/UpdatePinhole: \(inbound\) updating lease duration to 65/);
      expect(router.hasPinhole(LAN_NODE_V6, port)).toBe(true);

      run.child.stdin!.write('remove\n');
      expect(JSON.parse(await run.next())).toEqual({ removed: true });
      expect(router.hasPinhole(LAN_NODE_V6, port), router.pinholeRules()).toBe(false);
      expect(tcpConnects(router.wan, LAN_NODE_V6, port, 1_500)).toBe(false);
      await stopChild(run.child);
    } finally {
      await stopChild(listener);
    }
  }, 90_000);

  it('a closing while a renewal is under way is the router\'s last word: the pinhole does not open again', async () => {
    const port = 17461;
    const proxyPort = 17462;
    // The home's way to miniupnpd, through a proxy that holds the first UpdatePinhole (the renewal) 1.5 s.
    const proxy = inNamespace(router.lan, [join(REPO_ROOT, 'test/helpers/holding-proxy.ts'), LAN_NODE_V6, String(proxyPort), new URL(router.descriptionUrl(6)).origin, 'UpdatePinhole', '1', '1500']);
    let run: ReturnType<typeof inNamespace> | null = null;
    try {
      expect(JSON.parse(await proxy.next())).toEqual({ ready: true });
      run = inNamespace(router.lan, [join(REPO_ROOT, 'test/helpers/reachability-run.ts'), 'pinhole', LAN_NODE_V6, String(port), '65000', `http://[${LAN_NODE_V6}]:${proxyPort}/rootDesc.xml`]);
      expect(JSON.parse(await run.next()), `${run.output()}\n${proxy.output()}`).toMatchObject({ ok: true, pinhole: { address: LAN_NODE_V6, port } });
      expect(router.hasPinhole(LAN_NODE_V6, port)).toBe(true);
      // The renewal (after 5 s) is under way, held on its way to the router: the pinhole is closed now.
      await expect.poll(() => proxy.output(), { timeout: 15_000 }).toContain('{"held":"UpdatePinhole","n":1}');
      // (The process runs on, as a node that removes it on a new network does: a renewal under way may end.)
      run.child.stdin!.write('remove-stay\n');
      expect(JSON.parse(await run.next()), run.output()).toEqual({ removed: true });
      await expect.poll(() => proxy.output(), { timeout: 10_000 }).toContain('"action":"UpdatePinhole","n":1,"status"');
      // (The proxy says a request was answered once the router's answer passed through it: it may say so after the node read it.)
      await expect.poll(() => proxy.output(), { timeout: 5_000 }).toMatch(/"answered":"POST [^"]+","action":"DeletePinhole","n":1,"status":200/);
      // (Before: the closing went first, UpdatePinhole then failed, and the renewal opened it again with AddPinhole.)
      await new Promise((r) => setTimeout(r, 1_000));
      expect(proxy.output()).not.toContain('"action":"AddPinhole","n":2');
      expect(router.hasPinhole(LAN_NODE_V6, port), `${proxy.output()}\n${run.output()}`).toBe(false);
    } finally {
      if (run) await stopChild(run.child);
      await stopChild(proxy.child);
    }
  }, 60_000);

  it('a home node with a global IPv6 address opens the pinhole at start; the friend peers and exchanges messages over IPv6 with IPv4 cut; a clean stop closes it', async () => {
    const port = 7447;
    const homeDir = tempDir('paracord-home-');
    const friendDir = tempDir('paracord-friend-');
    const v6Url = `https://[${LAN_NODE_V6}]:${port}`;
    const friend = await serveIn(router.wan, friendDir, 'friend.test', '[::]:7450', ['--public-url', `https://${WAN_NODE}:7450`, '--reach-probe-interval', '0.1'], true);
    // The home's IPv4 is behind the router and nothing is forwarded to it; made explicit.
    router.cutIpv4(port);
    // First without asking the router: its IPv6 firewall keeps the friend out.
    let home = await serveIn(router.lan, homeDir, 'home.test', null, ['--no-port-mapping'], true);
    try {
      expect(home.ready.federation_url, home.run.output()).toBe(v6Url);
      expect(fetchIn(router.lan, `${v6Url}/.well-known/paracord/server`).status).toBe(200);
      expect(fetchIn(router.wan, `${v6Url}/.well-known/paracord/server`, 1_500).error).toBeDefined();
      expect(router.hasPinhole(LAN_NODE_V6, port)).toBe(false);
      expect(admin(router.lan, homeDir, home.ready.admin_url, 'GET', '/reachability').body.pinhole).toBeNull();
      expect(await stopChild(home.run.child), home.run.output()).toBe(0);

      // The same node, allowed to ask: the pinhole is there before any peer.
      home = await serveIn(router.lan, homeDir, 'home.test', null, [], true);
      const homeAdmin = (method: string, path: string, body?: unknown) => admin(router.lan, homeDir, home.ready.admin_url, method, path, body);
      const friendAdmin = (method: string, path: string, body?: unknown) => admin(router.wan, friendDir, friend.ready.admin_url, method, path, body);
      await expect.poll(() => router.hasPinhole(LAN_NODE_V6, port), { timeout: 30_000, message: `${home.run.output()}\n${router.log}` }).toBe(true);
      const before = homeAdmin('GET', '/reachability').body;
      expect(before).toMatchObject({ reachable: null, mapping: null, pinhole: { protocol: 'upnp-igd', address: LAN_NODE_V6, port } });
      expect(before.pinhole.expires_at).toBeGreaterThan(Date.now());
      // The friend's node has a public address and no router: no pinhole.
      expect(friendAdmin('GET', '/reachability').body.pinhole).toBeNull();
      expect(fetchIn(router.wan, `${v6Url}/.well-known/paracord/server`).body).toMatchObject({ server_name: 'home.test', federation_endpoints: [v6Url] });

      // The friend redeems the home's link (its IPv6 endpoint) and calls it over IPv6.
      const link = homeAdmin('POST', '/invites/peer', {});
      expect(link.status, JSON.stringify(link.body)).toBe(200);
      const redeemed = friendAdmin('POST', '/invites/peer/redeem', { link: link.body.link });
      expect(redeemed.status, `${JSON.stringify(redeemed.body)}\n${home.run.output()}`).toBe(200);
      expect(redeemed.body).toMatchObject({ server_name: 'home.test', endpoint: v6Url, reachable: true });

      const roomId: string = friendAdmin('POST', '/rooms', { name: 'through the pinhole' }).body.room_id;
      expect(friendAdmin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: '@owner:home.test' }).status).toBe(200);
      const invite = await poll(() => {
        const list = homeAdmin('GET', `/invites?user_id=${enc('@owner:home.test')}`).body.invites as Array<{ invite_id: string; room_id: string }>;
        expect(list.map((i) => i.room_id), home.run.output()).toEqual([roomId]);
        return list[0]!;
      });
      expect(homeAdmin('POST', `/invites/${invite.invite_id}/accept`, { user_id: '@owner:home.test' }).status).toBe(200);
      expect(homeAdmin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'from home' }).status).toBe(200);
      expect(friendAdmin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'from the friend' }).status).toBe(200);
      const bodies = (get: typeof homeAdmin) => (get('GET', `/rooms/${enc(roomId)}/messages?limit=10`).body.messages as Array<{ body: string }>).map((m) => m.body).sort();
      await poll(() => {
        expect(bodies(homeAdmin)).toEqual(['from home', 'from the friend']);
        expect(bodies(friendAdmin)).toEqual(['from home', 'from the friend']);
      });
      expect(friendAdmin('GET', '/peers').body.peers[0].delivery.mode).toBe('push');

      // The self-test through the friend reached the node over IPv6: the pinhole stays.
      const checked = homeAdmin('POST', '/reachability/check', { via: 'friend.test' });
      expect(checked.status, JSON.stringify(checked.body)).toBe(200);
      expect(checked.body, home.run.output()).toMatchObject({ reachable: true, mode: 'push', families: { ipv6: true }, mapping: null, pinhole: { address: LAN_NODE_V6, port } });
      expect(homeAdmin('GET', '/status').body.reachability).toMatchObject({
        pinhole: { protocol: 'upnp-igd', address: LAN_NODE_V6, port },
        summary: expect.stringMatching(/^Reachable from friends over IPv6.*\(through the router's IPv6 pinhole\)$/),
      });
      expect(homeAdmin('GET', '/reachability').body.mode).toBe('push');
      expect(router.hasPinhole(LAN_NODE_V6, port)).toBe(true);

      // A clean stop closes it: the friend is kept out again.
      expect(await stopChild(home.run.child), home.run.output()).toBe(0);
      expect(router.hasPinhole(LAN_NODE_V6, port), `${home.run.output()}\n${router.log}`).toBe(false);
      expect(router.log).toMatch(/DeletePinhole: \(inbound\) pinhole with ID \d+ successfully removed/);
    } finally {
      await stopChild(home.run.child);
      await stopChild(friend.run.child);
    }
  }, 180_000);
});
