/**
 * A node that receives by pull (behind a router) and cannot reach a friend's node waits longer and
 * longer between tries (up to a minute). When that friend is seen again — it sends us a request,
 * or answers one of ours — the wait ends and the node pulls at once: the same rule as a delivery
 * worker's backoff (a peer's request ends it). Real node in this process in pull mode, real HTTP,
 * a fake friend whose `GET /pull` fails for a while (or hangs, as on a dead network, while it talks to us).
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

it('a friend seen while a pull to it hangs (a dead network) ends the wait after that pull fails, not dropped', async ({ nodes }) => {
  const alpha = await nodes.inProcess('alpha.test', { config: { pull: true, reachabilityWatchSeconds: 0 } });
  const friend = await nodes.fakePeer('friend.test');
  let answer: 'down' | 'hang' | 'up' = 'down';
  friend.routes.set(PULL, () => (answer === 'hang' ? 'hang' : answer === 'down' ? { status: 503, body: { error: 'unavailable', message: 'restarting' } } : { status: 200, body: { events: [], cursor: '0' } }));
  expect((await alpha.admin('POST', '/peers', { server_name: 'friend.test', endpoint: friend.url })).status).toBe(200);
  const pulls = () => friend.requests.filter((p) => p === PULL).length;
  // Five failures, the next pull hangs: after it fails, the loop would wait 16-32 s.
  await eventually(async () => expect(pulls()).toBeGreaterThanOrEqual(5), 40_000);
  answer = 'hang';
  const before = pulls();
  await eventually(async () => expect(pulls()).toBe(before + 1), 20_000);
  // While it hangs, the friend talks to us; then the hanging pull fails (the connection drops).
  expect((await sendSigned(friend.identity, alpha.started.federation_url!, 'GET', '/_paracord/federation/v1/keys/cache?server_name=nobody.test')).status).toBe(404);
  answer = 'up';
  friend.dropConnections();
  // Pulled again within the 10 s gap since the last wake (none yet: at once), not after the backoff.
  await eventually(async () => expect(pulls()).toBeGreaterThan(before + 1), 8_000);
}, 90_000);

