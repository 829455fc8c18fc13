/**
 * A node that received by pull (behind a router) chose its friends' nodes as mailboxes, for a
 * week (mailbox/choice.ts). Back to receiving directly (its port opened, or it moved), a short
 * outage — a restart — still has its friends leave their pushes at one of those mailboxes, which
 * takes them while the choice stands. It must go on fetching from them: before, a node outside
 * pull mode never fetched, and what was left there waited a week, or for good. Three real nodes
 * in this process (sender, mailbox, recipient), real HTTP and SQLite; the recipient restarted on
 * the same port, first in pull mode, then not; the room is the recipient's, so nothing else (a
 * catch-up from a host) brings the message. A friend with no mailbox at all (404), asked in pull
 * mode too, is not noted as chosen, nor is one whose node is off or that refuses us (a choice
 * sent is noted, and taken back when it never connected or was refused), and one noted is
 * forgotten at its first 404 after, not asked every 10 minutes for the rest of the week.
 */
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { expect, it, type InProcessNode, type Nodes } from './helpers/fixtures.ts';
import { closedPort } from './helpers/closed-port.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { eventually, roomWithMembers, send } from './helpers/rooms.ts';

const count = (n: InProcessNode, sql: string, ...args: unknown[]) => queryNodeDb<{ n: number }>(n.dataDir, sql, ...args)[0]!.n;
const bodies = (n: InProcessNode, roomId: string) =>
  queryNodeDb<{ body: string }>(n.dataDir, "SELECT json_extract(content, '$.body') AS body FROM federation_events WHERE room_id = ? AND event_type = 'm.message' ORDER BY depth", roomId).map((r) => r.body);

async function peerAll(all: InProcessNode[]) {
  for (const a of all) {
    for (const b of all) {
      if (a === b) continue;
      const name = b.node.context.identity()!.serverName;
      expect((await a.admin('POST', '/peers', { server_name: name, endpoint: b.started.federation_url })).status).toBe(200);
    }
  }
}

it('what friends left at its mailboxes while it was down is fetched after it comes back receiving directly', async ({ nodes }: { nodes: Nodes }) => {
  const quick = { retryInitialMs: 200, retryMaxMs: 1_000, pullStaleMs: 1_000, reachabilityWatchSeconds: 0 };
  const sender = await nodes.inProcess('sender.test', { config: quick });
  const mailbox = await nodes.inProcess('mailbox.test', { config: quick });
  const listen = `127.0.0.1:${await closedPort()}`;
  // In pull mode (as behind a router): it fetches from its friends, choosing them as mailboxes.
  let recipient = await nodes.inProcess('recipient.test', { listen, config: { ...quick, pull: true } });
  await peerAll([sender, mailbox, recipient]);
  // A friend with no mailbox at all (an older node, a reference server: 404), asked in pull mode too.
  const old = await nodes.fakePeer('old.test');
  expect((await recipient.admin('POST', '/peers', { server_name: 'old.test', endpoint: old.url })).status).toBe(200);
  const chosenOf = (server: string) => count(recipient, 'SELECT COUNT(*) AS n FROM mailbox_chosen WHERE server_name = ?', server);
  // And one whose node is off (its requests fail at the network).
  const gone = await nodes.fakePeer('gone.test');
  expect((await recipient.admin('POST', '/peers', { server_name: 'gone.test', endpoint: gone.url })).status).toBe(200);
  await gone.stop();
  // And one that refuses our requests (it does not allow us: 403): it did not take our choice either.
  const shut = await nodes.fakePeer('shut.test');
  shut.routes.set('/_paracord/federation/v1/mailbox', () => ({ status: 403, body: { error: 'origin_not_allowed', message: 'not allowed here' } }));
  expect((await recipient.admin('POST', '/peers', { server_name: 'shut.test', endpoint: shut.url })).status).toBe(200);
  // Its room, with the sender's user in it: what the sender writes goes to it alone (no host to catch up from).
  const roomId = await roomWithMembers(recipient, 'while away', [[sender, '@owner:sender.test']]);
  await send(sender, roomId, 'before');
  await eventually(async () => expect(bodies(recipient, roomId)).toEqual(['before']), 20_000);
  await eventually(async () => expect(count(mailbox, "SELECT COUNT(*) AS n FROM mailbox_choices WHERE recipient = 'recipient.test'")).toBe(1), 20_000);

  // Asked in pull mode, and answered 404 (no mailbox): not noted as chosen; the mailbox is.
  await eventually(async () => expect(count(recipient, "SELECT COUNT(*) AS n FROM mailbox_sources WHERE server_name = 'old.test' AND last_error IS NOT NULL")).toBe(1), 20_000);
  expect(old.requests.filter((p) => p.endsWith('/mailbox')).length).toBeGreaterThanOrEqual(1);
  expect(chosenOf('old.test')).toBe(0);
  expect(chosenOf('mailbox.test')).toBe(1);
  await eventually(async () => expect(count(recipient, "SELECT COUNT(*) AS n FROM mailbox_sources WHERE server_name = 'gone.test' AND last_error IS NOT NULL")).toBe(1), 20_000);
  expect(chosenOf('gone.test')).toBe(0);
  await eventually(async () => expect(count(recipient, "SELECT COUNT(*) AS n FROM mailbox_sources WHERE server_name = 'shut.test' AND last_error IS NOT NULL")).toBe(1), 20_000);
  expect(chosenOf('shut.test')).toBe(0);

  // It stops; the sender's push fails and is left at the mailbox it chose.
  const dataDir = recipient.dataDir;
  await recipient.node.stop();
  await send(sender, roomId, 'while it was down');
  await eventually(async () => expect(count(sender, "SELECT COUNT(*) AS n FROM mailbox_deposits WHERE destination = 'recipient.test'")).toBeGreaterThanOrEqual(1), 30_000);

  // A choice noted by an older version (or while old.test still had a mailbox), to be forgotten.
  const db = new Database(join(dataDir, 'paracord.db'));
  db.prepare("INSERT INTO mailbox_chosen (server_name, chosen_at) VALUES ('old.test', ?)").run(Date.now());
  db.close();

  // Back, receiving directly (not in pull mode): it fetches what waits at the mailbox.
  recipient = await nodes.inProcess('recipient.test', { dataDir, listen, config: quick });
  expect((await recipient.admin('GET', '/status')).body.reachability?.mode ?? 'push').not.toBe('pull');
  await eventually(async () => expect(bodies(recipient, roomId)).toEqual(['before', 'while it was down']), 30_000);
  await eventually(async () => expect(count(mailbox, "SELECT COUNT(*) AS n FROM mailbox_items WHERE recipient = 'recipient.test'")).toBe(0), 20_000);
  // The friend without a mailbox answered 404 once: not asked again for the rest of the week.
  await eventually(async () => expect(chosenOf('old.test')).toBe(0), 20_000);
  expect(chosenOf('mailbox.test')).toBe(1);
  // It did not choose the mailbox again: its last choice's week is not extended.
  const choices = () => queryNodeDb<{ statement: string }>(mailbox.dataDir, "SELECT statement FROM mailbox_choices WHERE recipient = 'recipient.test'").map((r) => r.statement);
  const before = choices();
  await send(sender, roomId, 'after');
  await eventually(async () => expect(bodies(recipient, roomId)).toEqual(['before', 'while it was down', 'after']), 20_000);
  expect(choices()).toEqual(before);
});
