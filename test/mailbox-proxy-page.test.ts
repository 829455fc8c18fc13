/**
 * A friend's node that is down behind something still answering at its address (a reverse
 * proxy's 502 page, a portal's 200 page): no node answered, so, as when nothing answers at all,
 * what we push to it is left at a mailbox it chose (outbox/delivery-route.ts). Before, only a
 * network error fell back to the mailbox: behind a proxy's page its messages were retried straight
 * at it with back-off until they expired (a read-only audit, 2026-11-29). Real node processes on
 * 127.0.0.1 (mailbox-homes.ts); the page is a real HTTP server.
 */
import { createServer } from 'node:http';
import { createServer as createNetServer, type AddressInfo } from 'node:net';
import { describe, expect, it } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { eventually, send } from './helpers/rooms.ts';
import { twoHomesAndAFriend } from './helpers/mailbox-homes.ts';

/** A server answering every request with an HTML page (`status`), counting the POSTs it got. */
async function pageServer(status: number) {
  let posts = 0;
  const server = createServer((req, res) => {
    if (req.method === 'POST') posts++;
    req.resume();
    res.writeHead(status, { 'content-type': 'text/html' });
    res.end('<html><body>Bad gateway: the site is down for maintenance</body></html>');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, posts: () => posts, server };
}

/** Two homes and their friend (mailbox-homes.ts), alpha knowing beta at an address where only a page answers. */
async function betaBehindPage(nodes: Parameters<typeof twoHomesAndAFriend>[0], status: number) {
  const homes = await twoHomesAndAFriend(nodes);
  const page = await pageServer(status);
  nodes.servers.push(page.server);
  const betaStatus = (await homes.beta.admin('GET', '/status')).body as { key_id: string; public_key: string };
  const readded = await homes.alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: `${page.url}/_paracord/federation/v1`, key_id: betaStatus.key_id, public_key: betaStatus.public_key, replace: true });
  expect(readded.status, JSON.stringify(readded.body)).toBe(200);
  return { ...homes, page };
}

describe('a friend down behind a page at its address', () => {
  it.for([502, 200])('a direct push answered by an HTML page (HTTP %i) goes to the friend\'s mailbox and arrives', { timeout: 120_000 }, async (status, { nodes }) => {
    const { alpha, beta, roomId, page } = await betaBehindPage(nodes, status);
    const sent = await send(alpha, roomId, `behind a ${status} page`);
    await eventually(async () => expect(queryNodeDb<{ n: number }>(beta.dataDir, 'SELECT COUNT(*) AS n FROM federation_events WHERE event_id = ?', sent)[0]!.n).toBe(1), 60_000, 100);
    expect(page.posts()).toBeGreaterThan(0);
    await eventually(async () => expect(alpha.stderr).toContain('"event":"delivery_deposited"'), 10_000); // (the node's log is written asynchronously)
  });

  it('with no mailbox to take it, its entry says why, as for no answer at all, not the page\'s status', async ({ nodes }) => {
    const { alpha, carol, roomId, page } = await betaBehindPage(nodes, 502);
    expect(await carol.stop()).toBe(0);
    const sent = await send(alpha, roomId, 'nobody to carry it');
    await eventually(async () => {
      const entry = ((await alpha.admin('GET', '/queue?destination=beta.test')).body.entries as Array<{ event_id: string; state: string; last_error: string | null }>).find((e) => e.event_id === sent);
      expect(entry?.state).toBe('pending');
      expect(entry?.last_error).toMatch(/^its address answered HTTP 502 with a page, not a node's answer; no mailbox beta\.test chose would take it: /);
    }, 60_000, 200);
    expect(page.posts()).toBeGreaterThan(0);
  });

  it('with no mailbox to take it, each attempt tries it straight and asks the mailbox once (not first and again after)', async ({ nodes }) => {
    const { alpha, carol, roomId, page } = await betaBehindPage(nodes, 502);
    // carol, the mailbox, is down; whatever now listens at its address drops each request, and
    // counts those that try to leave mail there (not alpha's and beta's fetches of their own mail).
    const port = Number(new URL(carol.federationUrl).port);
    expect(await carol.stop()).toBe(0);
    let connections = 0;
    const dropper = createNetServer((socket) => {
      socket.once('data', (chunk: Buffer) => {
        if (/^[A-Z]+ \/_paracord\/federation\/v1\/mailbox\/(accepts|deposit)\//.test(chunk.toString('latin1'))) connections++;
        socket.destroy();
      });
      socket.on('error', () => undefined);
    });
    await new Promise<void>((r) => dropper.listen(port, '127.0.0.1', r));
    nodes.servers.push(dropper);
    await send(alpha, roomId, 'nobody to carry it for now');
    await eventually(async () => expect(page.posts()).toBeGreaterThanOrEqual(6), 60_000, 100);
    const [posts, asked] = [page.posts(), connections];
    // One try at the mailbox per attempt at most (before: the mailbox went first for 60 s after
    // such an attempt, and was tried again after the page: two per attempt, to up to four peers).
    expect(asked).toBeGreaterThan(0);
    expect(asked).toBeLessThanOrEqual(posts + 1);
  });
});
