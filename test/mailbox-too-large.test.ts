/**
 * A friend's mailbox that refuses one event as too large (413: here a reverse proxy in front of it
 * that takes bodies of at most 6 KiB, as a web server's body limit would) held every later entry
 * for that destination behind it: the refusal is the mailbox's, not the destination's, so the event
 * was retried for good (until it expired after a week), and the destination's queue with it. Now a
 * lone event the mailbox refuses so is tried straight at the destination; that failing too (nobody
 * reaches it), it alone fails, in the mailbox's words (never "refused by" the destination, which
 * never saw it), and what was sent after it arrives. Real node processes (alpha and beta reach only
 * carol), a real proxy.
 */
import { afterAll, describe, expect, it, type Nodes } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { eventually, send } from './helpers/rooms.ts';
import { listeningAt, twoHomesAndAFriend } from './helpers/mailbox-homes.ts';
import { closedPort } from './helpers/closed-port.ts';
import { switchProxy, type ProxyRefusal } from './helpers/switch-proxy.ts';

const proxies: Array<{ close(): void }> = [];
afterAll(() => {
  for (const proxy of proxies) proxy.close();
});

const BODY_LIMIT = 6 * 1024;

/**
 * alpha and beta reach only carol, whose mailbox refuses bodies over BODY_LIMIT; alpha sends a
 * large event, then a short one: the large one fails alone, in the mailbox's words, and the short
 * one arrives. `refused.deposits` counts the deposits refused so far.
 */
async function largeRefusedByTheMailbox(nodes: Nodes) {
  // carol, the mailbox, publishes the proxy in front of it as its address (the deposits go there).
  const carolPort = await closedPort();
  const refused = { deposits: 0 };
  const proxy = await switchProxy(`http://127.0.0.1:${carolPort}`, (req) => {
    if (Number(req.headers['content-length'] ?? 0) <= BODY_LIMIT) return null;
    if (req.url?.includes('/mailbox/deposit/')) refused.deposits++;
    return { status: 413, body: '<html><head><title>413 Request Entity Too Large</title></head></html>' };
  });
  proxies.push(proxy);
  const { alpha, beta, roomId } = await twoHomesAndAFriend(nodes, true, true, ['--listen', `127.0.0.1:${carolPort}`, '--public-url', proxy.url]);
  const arrived = (eventId: string) => queryNodeDb<{ n: number }>(beta.dataDir, 'SELECT COUNT(*) AS n FROM federation_events WHERE event_id = ?', eventId)[0]!.n === 1;
  const first = await send(alpha, roomId, 'through the mailbox');
  await eventually(async () => expect(arrived(first)).toBe(true), 60_000, 100);

  // 4,000 two-byte letters: over the proxy's limit. Then a short one.
  const large = await send(alpha, roomId, 'é'.repeat(4_000));
  const after = await send(alpha, roomId, 'sent after the large one');
  await eventually(async () => expect(arrived(after)).toBe(true), 60_000, 100);
  expect(refused.deposits).toBeGreaterThan(0);
  expect(arrived(large)).toBe(false);

  // The large one failed alone, in the mailbox's words (not as beta's refusal); nothing else waits.
  const entries = (await alpha.admin('GET', '/queue?destination=beta.test')).body.entries as Array<{ event_id: string; state: string; last_error: string | null }>;
  expect(entries.map((e) => [e.event_id, e.state])).toEqual([[large, 'failed']]);
  expect(entries[0]!.last_error).toBe('the mailbox at carol.test answered HTTP 413');
  await eventually(async () => {
    const messages = (await alpha.admin('GET', `/rooms/${encodeURIComponent(roomId)}/messages?limit=50`)).body.messages as Array<{ event_id: string; delivery: { state: string; refused: Array<{ server: string; reason: string }> } }>;
    expect(messages.find((m) => m.event_id === large)?.delivery).toMatchObject({ state: 'refused', refused: [{ server: 'beta.test', reason: 'the mailbox at carol.test answered HTTP 413' }] });
    // (Delivered once the mailbox says beta took it: asked every second here.)
    expect(messages.find((m) => m.event_id === after)?.delivery.state).toBe('delivered');
  }, 30_000, 200);
  return { alpha, beta, large, arrived, refused };
}

/**
 * After largeRefusedByTheMailbox, beta is known again behind a proxy answering `answer` to the large
 * event's direct request, and alpha's owner sends it again: refused at the mailbox first (pushes go
 * there for a while after a direct one failed), then tried straight at beta (`direct.requests`).
 */
async function retriedBehindAProxy(nodes: Nodes, answer: ProxyRefusal) {
  const { alpha, beta, large, refused } = await largeRefusedByTheMailbox(nodes);
  const direct = { requests: 0 };
  const proxy = await switchProxy(listeningAt(beta), (req) => {
    if (Number(req.headers['content-length'] ?? 0) <= BODY_LIMIT) return null;
    direct.requests++;
    return answer;
  });
  proxies.push(proxy);
  const readded = await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: proxy.url, replace: true });
  expect(readded.status, JSON.stringify(readded.body)).toBe(200);
  const refusedBefore = refused.deposits;
  const failedId = (await alpha.admin('GET', '/queue?destination=beta.test&state=failed')).body.entries[0].id as number;
  expect((await alpha.admin('POST', `/queue/${failedId}/retry`, {})).status).toBe(200);
  await eventually(async () => expect(refused.deposits).toBeGreaterThan(refusedBefore), 30_000, 100);
  return { alpha, large, direct };
}

describe('a mailbox that refuses one event as too large', () => {
  it('fails that event alone, in the mailbox\'s words; the messages sent after it arrive', async ({ nodes }) => {
    const { alpha, beta, large, arrived, refused } = await largeRefusedByTheMailbox(nodes);

    // beta can be reached directly again; its owner sends the large one again. Pushes still go to
    // the mailbox first for a while (a direct one failed moments ago): refused there as too large,
    // it goes straight to beta, and arrives.
    const readded = await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: listeningAt(beta), replace: true });
    expect(readded.status, JSON.stringify(readded.body)).toBe(200);
    const refusedBefore = refused.deposits;
    const failedId = (await alpha.admin('GET', '/queue?destination=beta.test&state=failed')).body.entries[0].id as number;
    expect((await alpha.admin('POST', `/queue/${failedId}/retry`, {})).status).toBe(200);
    await eventually(async () => expect(arrived(large)).toBe(true), 60_000, 100);
    expect(refused.deposits).toBeGreaterThan(refusedBefore);
  }, 180_000);

  it('a page answering for the destination after the mailbox\'s 413 (a proxy in front of it while it is down) leaves that event failed alone, in the mailbox\'s words', async ({ nodes }) => {
    const { alpha, large, direct } = await retriedBehindAProxy(nodes, { status: 502, body: '<html><body>502 Bad Gateway</body></html>' });
    // Refused at the mailbox, tried straight at beta, answered by the page: failed alone again (it
    // was retried with "HTTP 502", every attempt refused at the mailbox again, the queue behind it waiting).
    await eventually(async () => {
      const entries = (await alpha.admin('GET', '/queue?destination=beta.test')).body.entries as Array<{ event_id: string; state: string; last_error: string | null }>;
      expect(entries.map((e) => [e.event_id, e.state, e.last_error])).toEqual([[large, 'failed', 'the mailbox at carol.test answered HTTP 413']]);
    }, 30_000, 100);
    expect(direct.requests).toBeGreaterThan(0);
  }, 180_000);

  it('a stop while that event is tried straight at the destination leaves it queued, not failed with the mailbox\'s answer', async ({ nodes }) => {
    // beta is known again behind a proxy that holds the large event's direct request: in flight when alpha stops.
    const { alpha, large, direct } = await retriedBehindAProxy(nodes, 'hold');
    await eventually(async () => expect(direct.requests).toBe(1), 30_000, 100);

    // The stop waits for it a while, then cuts it: the entry stays queued as it was, for the next start.
    expect(await alpha.stop()).toBe(0);
    const rows = queryNodeDb<{ state: string }>(alpha.dataDir, 'SELECT state FROM federation_outbox WHERE destination = ? AND event_id = ?', 'beta.test', large);
    expect(rows, alpha.stderr).toEqual([{ state: 'pending' }]);
  }, 180_000);
});
