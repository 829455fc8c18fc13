/**
 * A quiet friend's node is checked while the owner's screens list the peers (the UI check of
 * 2026-11-27: a friend's node that was stopped showed "Online" for up to 10 minutes, since nothing
 * was sent to it). Two real nodes in this process, real HTTP: listing without asking checks
 * nothing; the stopped node is found not answering past the stale time, a failure after it was
 * heard from again starts a new period, something else answering at its address is told apart,
 * and the node is found answering once it is back.
 */
import Database from 'better-sqlite3';
import { createServer } from 'node:http';
import { join } from 'node:path';
import { expect, it } from './helpers/fixtures.ts';
import { eventually, roomWithMembers, send } from './helpers/rooms.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Liveness { answered_at: number | null; not_answering_since: number | null; answers_wrongly: boolean; error: string | null }

it('a stopped friend with nothing waiting is found not answering while the owner looks, and answering once it is back', async ({ nodes }) => {
  const stale = 2_000; // "no new check within it" is read twice and slept 200 ms in: a slow machine needs the room
  const config = { peerLivenessStaleMs: stale };
  const alpha = await nodes.inProcess('alpha.test', { config });
  const beta = await nodes.inProcess('beta.test', { config });
  expect((await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: beta.started.federation_url })).status).toBe(200);
  const betaOf = async (check = true) => {
    const listed = await alpha.admin('GET', check ? '/peers?check_liveness=1' : '/peers');
    expect(listed.status).toBe(200);
    return (listed.body.peers as Array<{ server_name: string; delivery: { waiting: number }; liveness: Liveness | null }>).find((p) => p.server_name === 'beta.test')!;
  };
  // Listed without asking (a script, the desktop tray's look at the peers): nothing is checked.
  await betaOf(false);
  await sleep(300);
  expect((await betaOf(false)).liveness).toBeNull();
  expect((await alpha.admin('GET', '/peers?check_liveness=yes')).status).toBe(400);

  // Asked: checked (beta never sent alpha a request, so it is stale at once), and answering.
  const answered = await eventually(async () => {
    const peer = await betaOf();
    expect(peer.liveness?.answered_at).toBeGreaterThan(0);
    expect(peer.liveness?.not_answering_since).toBeNull();
    return peer.liveness!.answered_at!;
  }, 10_000, 100);
  // Listed again within the stale time: no new check (its answer would be a later answered_at).
  await betaOf();
  await sleep(200);
  expect((await betaOf(false)).liveness?.answered_at).toBe(answered);
  // Past it: checked again.
  await eventually(async () => expect((await betaOf()).liveness?.answered_at).toBeGreaterThan(answered), 10_000, 200);

  const port = Number(new URL(beta.started.federation_url!).port);
  const stoppedAt = Date.now();
  await beta.node.stop();
  const down = await eventually(async () => {
    const peer = await betaOf();
    expect(peer.delivery.waiting).toBe(0);
    expect(peer.liveness?.not_answering_since).toBeGreaterThanOrEqual(stoppedAt);
    return peer.liveness!;
  }, 10_000, 200);
  expect(down.answers_wrongly).toBe(false);
  expect(down.error).toMatch(/ECONNREFUSED/);

  // A request from it after that failure (it came back and talked to us), then it is gone again:
  // the next failure starts a new period, so the screen does not take that request for "online".
  const heardAt = Date.now();
  alpha.node.context.trust.markSeen('beta.test', heardAt);
  await sleep(stale + 100);
  const again = await eventually(async () => {
    const peer = await betaOf();
    expect(peer.liveness?.not_answering_since).toBeGreaterThan(heardAt);
    return peer.liveness!;
  }, 10_000, 200);
  expect(again.answers_wrongly).toBe(false);

  // Something else answers at its address: told apart from silence, since it began to.
  const impostor = createServer((_req, res) => res.writeHead(404).end('not here'));
  await new Promise<void>((resolve) => impostor.listen(port, '127.0.0.1', resolve));
  const impostorAt = Date.now();
  try {
    await sleep(stale + 100);
    await eventually(async () => {
      const peer = await betaOf();
      expect(peer.liveness?.answers_wrongly).toBe(true);
      expect(peer.liveness?.error).toContain('HTTP 404');
      expect(peer.liveness?.not_answering_since).toBeGreaterThanOrEqual(impostorAt);
    }, 10_000, 200);
  } finally {
    await new Promise((resolve) => impostor.close(resolve));
  }

  // Back on the same address: the next check finds it answering.
  const back = await nodes.inProcess('beta.test', { config, dataDir: beta.dataDir, listen: `127.0.0.1:${port}` });
  expect(back.started.federation_url).toBe(beta.started.federation_url);
  await eventually(async () => {
    const peer = await betaOf();
    expect(peer.liveness?.not_answering_since).toBeNull();
    expect(peer.liveness?.answered_at).toBeGreaterThan(again.not_answering_since!);
  }, 10_000, 200);
});

it('a friend that only receives is seen when its node takes our messages, not only when it sends us a request', async ({ nodes }) => {
  const alpha = await nodes.inProcess('alpha.test');
  const beta = await nodes.inProcess('beta.test');
  expect((await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: beta.started.federation_url })).status).toBe(200);
  expect((await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: alpha.started.federation_url })).status).toBe(200);
  const roomId = await roomWithMembers(alpha, 'quiet friend', [[beta, '@owner:beta.test']]);
  // Heard from long ago (its join was its last request to us), and alpha restarted since.
  await alpha.node.stop();
  const restarted = await nodes.inProcess('alpha.test', {
    dataDir: alpha.dataDir,
    prepare: (dir) => {
      const db = new Database(join(dir, 'paracord.db'));
      db.prepare("UPDATE federation_servers SET last_seen_at = 1 WHERE server_name = 'beta.test'").run();
      db.close();
    },
  });
  const seen = async () => ((await restarted.admin('GET', '/peers')).body.peers as Array<{ server_name: string; last_seen_at: number }>).find((p) => p.server_name === 'beta.test')!.last_seen_at;
  expect(await seen()).toBe(1);
  const before = Date.now();
  await send(restarted, roomId, 'are you there?');
  // beta's node took it (2xx): it is there, whatever it sends us (it sends nothing here).
  await eventually(async () => expect(await seen()).toBeGreaterThanOrEqual(before), 10_000, 100);
});
