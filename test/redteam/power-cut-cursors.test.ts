/**
 * Red team (2026-11-30, a review of the pull and mailbox paths): ids a friend holds as cursors
 * (our outbox rows it pulls, mailbox items) can be handed out between a commit and its WAL flush.
 * When the power goes then, the rows and SQLite's counter go back; the counter handed the same ids
 * out again, so a friend's cursor past them skipped the new rows, and its next acknowledgement
 * deleted them unserved: a message lost while shown delivered. Now every start moves the counters
 * past what could have been lost (store/id-cursors.ts). Real node in this process, real SQLite:
 * the power cut is made on its database file between a stop and a start (the row the friend was
 * served is gone, and the counter is back before it), a fake friend pulls with signed requests.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { expect, it } from '../helpers/fixtures.ts';
import { joinFakePeer } from '../helpers/fake-members.ts';
import type { NodeProcess } from '../helpers/node-process.ts';
import { sendSigned } from '../helpers/signed-request.ts';
import { eventually, send } from '../helpers/rooms.ts';

const PULL = '/_paracord/federation/v1/pull';

it('a message sent after a power cut took back the row a friend was served is pulled by that friend, not skipped by its cursor', async ({ nodes }) => {
  const config = { pullStaleMs: 60_000, pullWaitMs: 200, reachabilityWatchSeconds: 0 };
  const first = await nodes.inProcess('alpha.test', { config });
  const roomId = (await first.admin('POST', '/rooms', { name: 'power cut' })).body.room_id as string;
  const friend = await nodes.fakePeer('friend.test');
  await joinFakePeer({ admin: first.admin, federationUrl: first.started.federation_url! } as unknown as NodeProcess, roomId, friend);
  const pending = async (node: typeof first) => (await node.admin('GET', '/queue?state=pending&destination=friend.test')).body.entries.length as number;
  await eventually(async () => expect(await pending(first)).toBe(0));
  const pull = async (node: typeof first, cursor: string) => {
    const page = await sendSigned(friend.identity, node.started.federation_url!, 'GET', `${PULL}?cursor=${cursor}&limit=100`);
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    return page.body as { events: Array<{ event_id: string }>; cursor: string };
  };
  // It pulls (nothing waits), and then pulls the message sent after: its cursor is that row's id.
  await pull(first, '0');
  const lost = await send(first, roomId, 'served, then lost with the power');
  const served = await pull(first, '0');
  expect(served.events.map((e) => e.event_id)).toEqual([lost]);
  const cursor = served.cursor;
  await first.node.stop();

  // The power cut: that row was never on disk, and the counter stands before it.
  const db = new Database(join(first.dataDir, 'paracord.db'));
  db.prepare('DELETE FROM federation_outbox WHERE id = ?').run(Number(cursor));
  db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'federation_outbox'").run(Number(cursor) - 1);
  db.close();

  const again = await nodes.inProcess('alpha.test', { config, dataDir: first.dataDir });
  const after = await send(again, roomId, 'sent after the power came back');
  // Pulled after its cursor, it is there (before: it had the served row's id, and was skipped).
  await eventually(async () => expect((await pull(again, cursor)).events.map((e) => e.event_id)).toContain(after), 10_000);
  const page = await pull(again, cursor);
  expect(Number(page.cursor)).toBeGreaterThan(Number(cursor));
  // Acknowledged up to its old cursor, it is still waiting: not deleted as delivered.
  const ack = await sendSigned(friend.identity, again.started.federation_url!, 'POST', `${PULL}/ack`, JSON.stringify({ cursor }));
  expect(ack.status, JSON.stringify(ack.body)).toBe(200);
  expect(await pending(again)).toBe(1);
});
