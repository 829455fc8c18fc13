/**
 * A home node in the lan namespace of a router that only masquerades (no UPnP, no route back in:
 * `routerPerSuite({ upnp: false })`), peered with a friend on the wan side by redeeming the
 * friend's invite link: the friend cannot call it back, peers anyway and says so, and the home
 * receives by pull at once (test/nat-peering.test.ts, test/reachability-proof-nat.test.ts).
 */
import { expect } from 'vitest';
import { serveIn, stopChild } from './netns-node.ts';
import { LAN_NODE, WAN_NODE, type NetnsRouter } from './netns-router.ts';
import { tempDir } from './temp-dir.ts';

/**
 * Serves friend.test on the wan side and home.test behind the router, both on `port`, and peers
 * them from the home. `secure`: over TLS with pinned certificates, as at home; else plain HTTP.
 * `friendArgs`, `homeArgs`: more of each one's `serve` options. `stop()` stops both; they are stopped
 * already when the peering failed.
 */
export async function natHomeWithFriend(router: NetnsRouter, port: number, { secure, friendArgs = [], homeArgs = [] }: { secure: boolean; friendArgs?: string[]; homeArgs?: string[] }) {
  const scheme = secure ? 'https' : 'http';
  const friend = await serveIn(router.wan, tempDir('paracord-friend-'), 'friend.test', `${WAN_NODE}:${port}`, ['--public-url', `${scheme}://${WAN_NODE}:${port}`, ...friendArgs], secure);
  // What a home node publishes by itself: its own (private) address, which nobody outside reaches.
  const home = await serveIn(router.lan, tempDir('paracord-home-'), 'home.test', `${LAN_NODE}:${port}`, ['--public-url', `${scheme}://${LAN_NODE}:${port}`, ...homeArgs], secure);
  const stop = async () => {
    await stopChild(home.run.child);
    await stopChild(friend.run.child);
  };
  try {
    const link = friend.admin('POST', '/invites/peer', {});
    expect(link.status, JSON.stringify(link.body)).toBe(200);
    const redeemed = home.admin('POST', '/invites/peer/redeem', { link: link.body.link });
    expect(redeemed.status, `${JSON.stringify(redeemed.body)}\n${friend.run.output()}`).toBe(200);
    expect(redeemed.body).toMatchObject({ server_name: 'friend.test', reachable: false });
    expect(home.admin('GET', '/reachability').body).toMatchObject({ mode: 'pull', reachable: false });
  } catch (error) {
    await stop();
    throw error;
  }
  return { friend, home, stop };
}
