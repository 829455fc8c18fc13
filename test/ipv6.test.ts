/**
 * Issue #32 item 4, IPv6, in real network namespaces (test/helpers/netns-router.ts, `ipv6: true`):
 * a home node whose IPv4 sits behind a NAT router (no UPnP, nothing comes in over IPv4) and that has
 * a global IPv6 address the router lets in, and a friend's node with IPv4 and IPv6. Over TLS with
 * pinned certificates, as at home.
 *  - The default listener is dual-stack; a node whose name resolves nowhere names its global IPv6
 *    address as its endpoint; nothing reaches it over IPv4, and friends still do: one redeems the
 *    home's link (it names the IPv6 endpoint), the home redeems another's link and is called back
 *    over IPv6; a room carries messages both ways by push; the self-test says "over IPv6".
 *  - A node that publishes an IPv4 URL first, then loses IPv4 (its ISP moves it behind carrier-grade
 *    NAT): its friend, which read its discovery (`federation_endpoints`), tries the next endpoint,
 *    IPv6, with the same pinned certificate; messages keep arriving by push, and the self-test says
 *    "over IPv6 only". Its twin, before the cut: the same friend reaches the IPv4 endpoint first.
 * Skipped, with the reason, where network namespaces are not available.
 */
import { describe, expect, it } from 'vitest';
import { fetchIn, inviteAcross, poll, roomBodies, routerPerSuite, serveIn, stopChild, talkBothWays } from './helpers/netns-node.ts';
import { LAN_NODE, LAN_NODE_V6, ROUTER_WAN, WAN_NODE, routerUnavailable } from './helpers/netns-router.ts';
import { enc } from './helpers/rooms.ts';
import { tempDir } from './helpers/temp-dir.ts';

const unavailable = routerUnavailable({ upnp: false });
if (unavailable) console.warn(`IPv6 tests skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('a home node whose IPv4 cannot be reached, with a global IPv6 address', () => {
  const router = routerPerSuite({ upnp: false, ipv6: true });

  it('listens dual-stack by default, names its IPv6 address, and friends reach it over IPv6 only: links both ways, messages both ways by push', async () => {
    const homeDir = tempDir('paracord-home-');
    const friendDir = tempDir('paracord-friend-');
    const otherDir = tempDir('paracord-other-');
    const friend = await serveIn(router.wan, friendDir, 'friend.test', '[::]:7450', ['--public-url', `https://${WAN_NODE}:7450`, '--reach-probe-interval', '0.1'], true);
    const other = await serveIn(router.wan, otherDir, 'other.test', '[::]:7451', ['--public-url', `https://${WAN_NODE}:7451`], true);
    // No --listen, no --public-url: the default listener, and a server name that resolves nowhere.
    const home = await serveIn(router.lan, homeDir, 'home.test', null, [], true);
    try {
      const homeAdmin = home.admin;
      const friendAdmin = friend.admin;
      const otherAdmin = other.admin;
      const v6Url = `https://[${LAN_NODE_V6}]:7447`;
      expect(home.ready.federation_url, home.run.output()).toBe(v6Url);
      expect(home.run.output()).toMatch(/"listen":"::(:7447)?"/);
      // From the friends' side: IPv4 reaches nothing of the home (the router's address forwards nothing, the lan is not routed).
      expect(fetchIn(router.wan, `https://${ROUTER_WAN}:7447/.well-known/paracord/server`, 1_500).error).toBeDefined();
      expect(fetchIn(router.wan, `https://${LAN_NODE}:7447/.well-known/paracord/server`, 1_500).error).toBeDefined();
      // IPv6 does: discovery lists where the node can be reached.
      const discovery = fetchIn(router.wan, `${v6Url}/.well-known/paracord/server`);
      expect(discovery.status).toBe(200);
      expect(discovery.body).toMatchObject({ server_name: 'home.test', federation_endpoint: v6Url, federation_endpoints: [v6Url] });
      // The dual-stack listener takes IPv4 too (inside the lan).
      expect(fetchIn(router.lan, `https://${LAN_NODE}:7447/.well-known/paracord/server`).status).toBe(200);

      // A friend redeems the home's link: it names the home's IPv6 endpoint, and works.
      const homeLink = homeAdmin('POST', '/invites/peer', {});
      expect(homeLink.status, JSON.stringify(homeLink.body)).toBe(200);
      expect(homeLink.body.https_link.startsWith(`${v6Url}/_paracord/peer#`), homeLink.body.https_link).toBe(true);
      const byFriend = friendAdmin('POST', '/invites/peer/redeem', { link: homeLink.body.link });
      expect(byFriend.status, `${JSON.stringify(byFriend.body)}\n${home.run.output()}`).toBe(200);
      expect(byFriend.body).toMatchObject({ server_name: 'home.test', endpoint: v6Url, reachable: true });
      expect(friendAdmin('GET', '/peers').body.peers[0]).toMatchObject({ server_name: 'home.test', delivery: { mode: 'push' } });

      // The home redeems another friend's link: that friend calls it back over IPv6, and pushes to it.
      const otherLink = otherAdmin('POST', '/invites/peer', {});
      const redeemed = homeAdmin('POST', '/invites/peer/redeem', { link: otherLink.body.link });
      expect(redeemed.status, `${JSON.stringify(redeemed.body)}\n${other.run.output()}`).toBe(200);
      expect(redeemed.body, other.run.output()).toMatchObject({ server_name: 'other.test', reachable: true });
      expect(otherAdmin('GET', '/peers').body.peers[0]).toMatchObject({ server_name: 'home.test', delivery: { mode: 'push' } });

      const checked = homeAdmin('POST', '/reachability/check', { via: 'friend.test' });
      expect(checked.status, JSON.stringify(checked.body)).toBe(200);
      expect(checked.body, home.run.output()).toMatchObject({ reachable: true, mode: 'push', families: { ipv6: true } });
      const status = homeAdmin('GET', '/status').body;
      expect(status.reachability.summary).toMatch(/^Reachable from friends over IPv6/);

      const roomId: string = friendAdmin('POST', '/rooms', { name: 'over IPv6' }).body.room_id;
      const invite = await inviteAcross(friendAdmin, homeAdmin, roomId, '@owner:home.test', home.run.output);
      expect(homeAdmin('POST', `/invites/${invite.invite_id}/accept`, { user_id: '@owner:home.test' }).status).toBe(200);
      await talkBothWays(homeAdmin, friendAdmin, roomId);
      expect(friendAdmin('GET', '/queue?destination=home.test').body.entries).toEqual([]);
      // The home was never in pull mode: everything reached it by push.
      expect(homeAdmin('GET', '/reachability').body.mode).toBe('push');
    } finally {
      await stopChild(home.run.child);
      await stopChild(friend.run.child);
      await stopChild(other.run.child);
    }
  }, 150_000);

  it('a node publishing IPv4 first loses IPv4: its friend tries its next endpoint, IPv6, and messages keep arriving by push', async () => {
    const port = 7452;
    router.forwardPort(port);
    const homeDir = tempDir('paracord-home-');
    const friendDir = tempDir('paracord-friend-');
    const friend = await serveIn(router.wan, friendDir, 'friend.test', `[::]:${port}`, ['--public-url', `https://${WAN_NODE}:${port}`, '--retry-initial', '200', '--retry-max', '1000', '--reach-probe-interval', '0.1'], true);
    // The home publishes the router's IPv4 address (forwarded for now), and the listener's IPv6 address after it.
    const home = await serveIn(router.lan, homeDir, 'home.test', `[::]:${port}`, ['--public-url', `https://${ROUTER_WAN}:${port}`], true);
    try {
      const homeAdmin = home.admin;
      const friendAdmin = friend.admin;
      const v4Url = `https://${ROUTER_WAN}:${port}`;
      const v6Url = `https://[${LAN_NODE_V6}]:${port}`;
      expect(fetchIn(router.wan, `${v4Url}/.well-known/paracord/server`).body).toMatchObject({ federation_endpoint: v4Url, federation_endpoints: [v4Url, v6Url] });

      // The friend redeems the home's link (IPv4, pinned): it reads the home's discovery there.
      const link = homeAdmin('POST', '/invites/peer', {});
      expect(link.status, JSON.stringify(link.body)).toBe(200);
      const redeemed = friendAdmin('POST', '/invites/peer/redeem', { link: link.body.link });
      expect(redeemed.status, `${JSON.stringify(redeemed.body)}\n${home.run.output()}`).toBe(200);
      expect(redeemed.body).toMatchObject({ server_name: 'home.test', endpoint: v4Url });

      // The twin: while IPv4 works, the friend reaches the home there first; both families work.
      const before = homeAdmin('POST', '/reachability/check', { via: 'friend.test' });
      expect(before.body, `${JSON.stringify(before.body)}\n${friend.run.output()}`).toMatchObject({ reachable: true, families: { ipv4: true, ipv6: true } });
      expect(homeAdmin('GET', '/status').body.reachability.summary).toMatch(/^Reachable from friends over IPv4 and IPv6/);

      const roomId: string = friendAdmin('POST', '/rooms', { name: 'losing IPv4' }).body.room_id;
      const invite = await inviteAcross(friendAdmin, homeAdmin, roomId, '@owner:home.test', home.run.output);
      expect(homeAdmin('POST', `/invites/${invite.invite_id}/accept`, { user_id: '@owner:home.test' }).status).toBe(200);
      const bodies = (get: typeof homeAdmin) => roomBodies(get, roomId);
      expect(friendAdmin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'over IPv4' }).status).toBe(200);
      await poll(() => expect(bodies(homeAdmin)).toContain('over IPv4'));

      // The home's ISP takes its IPv4 away.
      router.cutIpv4(port);
      expect(fetchIn(router.wan, `${v4Url}/.well-known/paracord/server`, 1_500).error).toBeDefined();
      for (let i = 0; i < 10; i++) expect(friendAdmin('POST', `/rooms/${enc(roomId)}/messages`, { body: `after the cut ${i}` }).status).toBe(200);
      await poll(() => expect(bodies(homeAdmin).filter((b) => b.startsWith('after the cut'))).toHaveLength(10), 60_000);
      expect(friendAdmin('GET', '/queue?destination=home.test').body.entries).toEqual([]);
      // Pushed, never pulled: the home did not need pull mode.
      expect(homeAdmin('GET', '/reachability').body.mode).toBe('push');

      const after = homeAdmin('POST', '/reachability/check', { via: 'friend.test' });
      expect(after.body, `${JSON.stringify(after.body)}\n${friend.run.output()}`).toMatchObject({ reachable: true, families: { ipv4: false, ipv6: true } });
      expect(homeAdmin('GET', '/status').body.reachability.summary).toMatch(/^Reachable from friends over IPv6 only/);
    } finally {
      await stopChild(home.run.child);
      await stopChild(friend.run.child);
    }
  }, 180_000);
});
