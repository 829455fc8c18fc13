/**
 * A node that receives by pull (behind a router) and cannot reach a friend's node waits longer and
 * longer between tries (up to a minute). When that friend is seen again — it sends us a request,
 * or answers one of ours — the wait ends and the node pulls at once: the same rule as a delivery
 * worker's backoff (a peer's request ends it). Real node in this process in pull mode, real HTTP,
 * a fake friend whose `GET /pull` fails for a while.
 */
import { expect, it } from './helpers/fixtures.ts';
import { sendSigned } from './helpers/signed-request.ts';
import { eventually } from './helpers/rooms.ts';

const PULL = '/_paracord/federation/v1/pull';

it('a friend seen again ends the pull loop\'s wait after failures: pulled at once, not after the backoff; seen again sooner than 10 s later, when those are over', async ({ nodes }) => {
  const alpha = await nodes.inProcess('alpha.test', { config: { pull: true, reachabilityWatchSeconds: 0 } });
  const friend = await nodes.fakePeer('friend.test');
  let down = true;
  friend.routes.set(PULL, () => (down ? { status: 503, body: { error: 'unavailable', message: 'restarting' } } : { status: 200, body: { events: [], cursor: '0' } }));
  expect((await alpha.admin('POST', '/peers', { server_name: 'friend.test', endpoint: friend.url })).status).toBe(200);
  const pulls = () => friend.requests.filter((p) => p === PULL).length;
  // Five failures: the loop now waits 8-16 s before the next try.
  await eventually(async () => expect(pulls()).toBeGreaterThanOrEqual(5), 40_000);
  const before = pulls();
  const hello = async () => expect((await sendSigned(friend.identity, alpha.started.federation_url!, 'GET', '/_paracord/federation/v1/keys/cache?server_name=nobody.test')).status).toBe(404);
  // It talks to us (a signed request alpha verifies) while still starting: alpha pulls at once,
  // which fails again (the next wait: 16-32 s).
  await hello();
  await eventually(async () => expect(pulls()).toBe(before + 1), 3_000);
  // Now it is back and talks to us again, within 10 s of the first: not pulled at once (at most
  // one wake per 10 s: its requests must not buy a page request each), but when those 10 s are
  // over, not after the 16-32 s wait (before: a second request that soon was dropped).
  down = false;
  await hello();
  await new Promise((r) => setTimeout(r, 500));
  expect(pulls()).toBe(before + 1);
  await eventually(async () => expect(pulls()).toBeGreaterThan(before + 1), 14_000);
});
