/**
 * A friend that pulls from us (pull mode, issue #15) and then stops — it went away, or its node
 * found itself reachable and receives by push again — still gets what we queued after its last
 * pull: pushed when its pull window ends. Before, nothing kicked the delivery worker at that end,
 * and those messages waited for the next message to that friend (or a restart). Real node in this
 * process (the window shortened to 1.5 s, an empty pull's wait to 0.2 s), real HTTP, a fake friend that pulls with signed requests.
 * A last pull dated ahead of the node's clock (a clock set back, a data directory from a machine
 * whose clock ran ahead) is no pull: it kept the friend a pull destination, pushed nothing, until
 * the clock caught up.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { expect, it } from './helpers/fixtures.ts';
import { joinFakePeer } from './helpers/fake-members.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { sendSigned } from './helpers/signed-request.ts';
import { eventually, send } from './helpers/rooms.ts';

const PULL = '/_paracord/federation/v1/pull';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('messages queued after a friend\'s last pull are pushed once its pull window ends, not left for the next message', async ({ nodes }) => {
  const alpha = await nodes.inProcess('alpha.test', { config: { pullStaleMs: 1_500, pullWaitMs: 200, reachabilityWatchSeconds: 0 } });
  const host = { admin: alpha.admin, federationUrl: alpha.started.federation_url! } as unknown as NodeProcess;
  const roomId = (await alpha.admin('POST', '/rooms', { name: 'pulled' })).body.room_id as string;
  const friend = await nodes.fakePeer('friend.test');
  await joinFakePeer(host, roomId, friend);
  const pushed = () => friend.deliveries.filter((d) => d.path.endsWith('/event') || d.path.endsWith('/events')).length;
  const pending = async () => (await alpha.admin('GET', '/queue?state=pending&destination=friend.test')).body.entries.length as number;
  const pull = async () => {
    const page = await sendSigned(friend.identity, host.federationUrl, 'GET', `${PULL}?cursor=0&limit=100`);
    expect(page.status).toBe(200);
    return page.body as { events: unknown[]; cursor: string };
  };
  // Whatever the join sent it is delivered first; then it pulls (and takes nothing).
  await eventually(async () => expect(await pending()).toBe(0));
  await pull();
  const before = pushed();

  // While it keeps pulling (without acknowledging), the message waits for its pulls: never pushed.
  await send(alpha, roomId, 'after its pull');
  for (let i = 0; i < 10; i++) {
    const page = await pull();
    expect(page.events.length).toBe(1);
    await sleep(300);
  }
  expect(pushed()).toBe(before);
  expect(await pending()).toBe(1);

  // It stops pulling: once the window has ended, the message is pushed to it, and delivered.
  await eventually(async () => expect(pushed()).toBe(before + 1), 10_000);
  await eventually(async () => expect(await pending()).toBe(0));
});

it('a last pull dated ahead of this clock is no pull: the friend is pushed to, not left until the clock catches up', async ({ nodes }) => {
  const config = { pullStaleMs: 1_500, pullWaitMs: 200, reachabilityWatchSeconds: 0 };
  const first = await nodes.inProcess('alpha.test', { config });
  const host = { admin: first.admin, federationUrl: first.started.federation_url! } as unknown as NodeProcess;
  const roomId = (await first.admin('POST', '/rooms', { name: 'clock' })).body.room_id as string;
  const friend = await nodes.fakePeer('friend.test');
  await joinFakePeer(host, roomId, friend);
  const pushed = () => friend.deliveries.filter((d) => d.path.endsWith('/event') || d.path.endsWith('/events')).length;
  await eventually(async () => expect((await first.admin('GET', '/queue?state=pending&destination=friend.test')).body.entries.length).toBe(0));
  expect((await sendSigned(friend.identity, host.federationUrl, 'GET', `${PULL}?cursor=0&limit=100`)).status).toBe(200);
  await first.node.stop();
  // Its last pull, as stored, is a month ahead of this clock.
  const db = new Database(join(first.dataDir, 'paracord.db'));
  db.prepare("UPDATE pull_receivers SET last_pull_at = ? WHERE server_name = 'friend.test'").run(Date.now() + 30 * 24 * 3_600_000);
  db.close();
  const alpha = await nodes.inProcess('alpha.test', { dataDir: first.dataDir, config });
  const before = pushed();
  await send(alpha, roomId, 'after the clock went back');
  await eventually(async () => expect(pushed()).toBe(before + 1), 10_000);
  await eventually(async () => expect((await alpha.admin('GET', '/queue?state=pending&destination=friend.test')).body.entries.length).toBe(0));
});

