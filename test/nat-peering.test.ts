/**
 * Issue #32 item 1 behind a real NAT router: a home node in a lan namespace behind a router
 * namespace that only masquerades (nftables, no UPnP, no route back in) redeems the invite link of
 * a friend on the wan side, over TLS with pinned certificates as at home. The friend cannot call
 * it back, peers anyway and says so; the home node receives by pull at once; a room on the
 * friend's node carries messages both ways (the friend's invite and messages are pulled, the
 * home's join and messages are pushed through the NAT).
 * Skipped, with the reason, where network namespaces are not available.
 */
import { describe, expect, it } from 'vitest';
import { natHomeWithFriend } from './helpers/nat-home.ts';
import { inviteAcross, routerPerSuite, talkBothWays } from './helpers/netns-node.ts';
import { routerUnavailable } from './helpers/netns-router.ts';

const unavailable = routerUnavailable({ upnp: false });
if (unavailable) console.warn(`NAT peering tests skipped: ${unavailable}`);

describe.skipIf(unavailable !== null)('a home node behind a NAT router without UPnP', () => {
  const router = routerPerSuite({ upnp: false });

  it('redeems a public friend\'s invite link, receives by pull at once, and talks both ways in the friend\'s room', async () => {
    // Over TLS with pinned certificates, as at home.
    const { friend, home, stop } = await natHomeWithFriend(router, 7451, { secure: true });
    try {
      const homeAdmin = home.admin;
      const friendAdmin = friend.admin;
      expect(homeAdmin('GET', '/reachability').body).toMatchObject({ via: 'friend.test' });
      expect(friendAdmin('GET', '/peers').body.peers[0]).toMatchObject({ server_name: 'home.test', delivery: { mode: 'pull' } });

      const roomId: string = friendAdmin('POST', '/rooms', { name: 'across the NAT' }).body.room_id;
      const invite = await inviteAcross(friendAdmin, homeAdmin, roomId, '@owner:home.test', home.run.output);
      const accepted = homeAdmin('POST', `/invites/${invite.invite_id}/accept`, { user_id: '@owner:home.test' });
      expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);

      await talkBothWays(homeAdmin, friendAdmin, roomId);
      expect(friendAdmin('GET', '/queue?destination=home.test').body.entries).toEqual([]);
    } finally {
      await stop();
    }
  }, 120_000);
});
