/**
 * A quiet friend's node is checked while the owner's screens list the peers (the UI check of
 * 2026-11-27: a friend's node that was stopped showed "Online" for up to 10 minutes, since nothing
 * was sent to it). Two real nodes in this process, real HTTP: the stopped node is found not
 * answering at the next listing past the stale time, and answering again once it is back.
 */
import { expect, it } from './helpers/fixtures.ts';
import { eventually } from './helpers/rooms.ts';

it('a stopped friend with nothing waiting is found not answering while the peers are listed, and answering once it is back', async ({ nodes }) => {
  const config = { peerLivenessStaleMs: 300 };
  const alpha = await nodes.inProcess('alpha.test', { config });
  const beta = await nodes.inProcess('beta.test', { config });
  expect((await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: beta.started.federation_url })).status).toBe(200);
  const betaOf = async () => {
    const listed = await alpha.admin('GET', '/peers');
    expect(listed.status).toBe(200);
    return (listed.body.peers as Array<{ server_name: string; delivery: { waiting: number }; liveness: { answered_at: number | null; not_answering_since: number | null; error: string | null } | null }>).find((p) => p.server_name === 'beta.test')!;
  };
  // Listed before any check: not known (beta never sent alpha a request either).
  expect((await betaOf()).liveness).toBeNull();
  const answered = await eventually(async () => {
    const peer = await betaOf();
    expect(peer.liveness?.answered_at).toBeGreaterThan(0);
    expect(peer.liveness?.not_answering_since).toBeNull();
    return peer.liveness!.answered_at!;
  }, 10_000, 100);

  // Within the stale time, listing again checks nothing more.
  const again = await betaOf();
  expect(again.liveness?.answered_at).toBe(answered);

  const port = new URL(beta.started.federation_url!).port;
  const stoppedAt = Date.now();
  await beta.node.stop();
  const down = await eventually(async () => {
    const peer = await betaOf();
    expect(peer.delivery.waiting).toBe(0);
    expect(peer.liveness?.not_answering_since).toBeGreaterThanOrEqual(stoppedAt);
    return peer.liveness!;
  }, 10_000, 200);
  expect(down.answered_at).toBe(answered);
  expect(down.error).toMatch(/ECONNREFUSED|connect|closed/i);

  // Back on the same address: the next check finds it answering.
  const back = await nodes.inProcess('beta.test', { config, dataDir: beta.dataDir, listen: `127.0.0.1:${port}` });
  expect(back.started.federation_url).toBe(beta.started.federation_url);
  await eventually(async () => {
    const peer = await betaOf();
    expect(peer.liveness?.not_answering_since).toBeNull();
    expect(peer.liveness?.answered_at).toBeGreaterThan(down.not_answering_since!);
  }, 10_000, 200);
});
