/**
 * A request a mailbox carried that could not be taken yet (2026-11-27). alpha, the room's host, is
 * reached only through carol's mailbox; beta's messages wait there for it. When alpha takes the
 * backlog at once, some are answered "not yet" (over beta's rate limit at alpha: 429). The page
 * was asked again, but the refused request had been recorded as seen, so its copy was answered
 * 409 replayed_request, which the fetcher takes as "taken before": the message was dropped, at
 * alpha and at carol. Now a carried request answered "not yet" (429, 5xx, or a batch with such an
 * event) leaves no replay entry and is kept at alpha (mailbox_retries) with beta's later ones
 * behind it, so carol's queue is not held; they are handed over after the wait and all arrive.
 * Meanwhile carol keeps their items (alpha's ack names them waiting, capability mailbox_waiting),
 * so beta never reads one as delivered before alpha has it (2026-11-29: the ack deleted them, and
 * beta's next check read them delivered); and one alpha refuses when it hands it over later
 * reads failed at beta, in the refusal's words (before: delivered).
 */
import { describe, expect, it } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { eventually, send } from './helpers/rooms.ts';
import { homeArgs, twoHomesAndAFriend } from './helpers/mailbox-homes.ts';
import { deliveryOf } from './helpers/refused-entries.ts';
import { atMailboxLine } from '../renderer/src/lib/delivery-line.ts';

/** Our messages to alpha's room beta reads delivered: none waits in its outbox or at a mailbox. */
const readDelivered = (beta: NodeProcess, roomId: string) =>
  queryNodeDb<{ event_id: string }>(
    beta.dataDir,
    `SELECT e.event_id FROM federation_events e WHERE e.room_id = ? AND e.origin_server = 'beta.test' AND e.event_type = 'm.message'
       AND NOT EXISTS (SELECT 1 FROM federation_outbox o WHERE o.event_id = e.event_id) AND NOT EXISTS (SELECT 1 FROM mailbox_deposits d WHERE d.event_id = e.event_id)`,
    roomId,
  ).map((r) => r.event_id);
const eventIds = (n: NodeProcess, roomId: string) => queryNodeDb<{ event_id: string }>(n.dataDir, "SELECT event_id FROM federation_events WHERE room_id = ? AND event_type = 'm.message'", roomId).map((r) => r.event_id);

describe('a carried request answered "not yet" when taken from a mailbox', () => {
  it('is taken again later, not dropped as a copy already seen', async ({ nodes }) => {
    const { alpha, beta, carol, roomId, closed } = await twoHomesAndAFriend(nodes);
    const bodies = (n: NodeProcess) => queryNodeDb<{ body: string }>(n.dataDir, "SELECT json_extract(content, '$.body') AS body FROM federation_events WHERE room_id = ? AND event_type = 'm.message' ORDER BY depth", roomId).map((r) => r.body);
    // A small rate limit for beta at alpha: taking a backlog at once goes over it.
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow', rate_limit: { per_second: 1, burst: 2 } })).status).toBe(200);
    // alpha is away while beta writes: everything waits at carol.
    expect(await alpha.stop()).toBe(0);
    const sent: string[] = [];
    // Each deposited on its own (a request each), so that taking them at once goes over the limit
    // (deposited in one or two batches, nothing was over it: a CI run saw no "not yet").
    const deposits = () => queryNodeDb<{ n: number }>(beta.dataDir, 'SELECT COUNT(DISTINCT deposit_id) AS n FROM mailbox_deposits')[0]!.n;
    for (let i = 0; i < 12; i++) {
      sent.push(`while away ${i}`);
      await send(beta, roomId, `while away ${i}`);
      await eventually(async () => expect(deposits()).toBe(i + 1), 30_000, 20);
    }
    // beta never reads a message delivered that alpha does not have (sampled until all arrived:
    // beta's word first, then alpha's, which only grows).
    let sampling = true;
    const misread: string[] = [];
    const sampler = (async () => {
      while (sampling) {
        const delivered = readDelivered(beta, roomId);
        const has = new Set(eventIds(alpha, roomId));
        misread.push(...delivered.filter((id) => !has.has(id)));
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    await alpha.start(homeArgs(closed.alpha));
    // What the limit holds waits at alpha, not at carol: nothing of carol's queue for alpha waits
    // to be fetched at once (nobody else's mail waits behind beta's); what alpha keeps to take
    // later stays there, marked so, while beta's requests are still being taken.
    const count = (n: NodeProcess, table: string) => queryNodeDb<{ n: number }>(n.dataDir, `SELECT COUNT(*) AS n FROM ${table}`)[0]!.n;
    await eventually(async () => expect(count(carol, 'mailbox_items WHERE id NOT IN (SELECT item_id FROM mailbox_items_waiting)')).toBe(0), 30_000, 50);
    expect(count(alpha, 'mailbox_retries')).toBeGreaterThan(0);
    // alpha's owner sees what waits there and why, in words (the dashboard shows this text).
    await eventually(async () => {
      const waiting = (await alpha.admin('GET', '/mailbox')).body.waiting_here;
      expect(waiting).toEqual([expect.objectContaining({ server_name: 'beta.test', mailbox: 'carol.test', reason: 'rate_limit', last_error: 'rate_limited' })]);
      expect(waiting[0].text).toMatch(/^\d+ requests? from beta\.test, fetched from carol\.test's mailbox, wait here to be taken: over the rate limit this node gives beta\.test$/);
    }, 10_000, 20);
    // Every message arrives, in beta's order, and nothing is left waiting.
    await eventually(async () => expect(bodies(alpha).filter((b) => b.startsWith('while away'))).toEqual(sent), 60_000, 250);
    await eventually(async () => expect(alpha.stderr).toMatch(/"event":"mailbox_item_not_yet"[^\n]*"status":429/), 10_000); // (the node's log is written asynchronously)
    await eventually(async () => expect(count(alpha, 'mailbox_retries')).toBe(0), 30_000);
    expect((await alpha.admin('GET', '/mailbox')).body.waiting_here).toEqual([]);
    // Named settled, carol lets them go; beta reads them delivered then.
    await eventually(async () => expect(count(carol, 'mailbox_items')).toBe(0), 30_000, 100);
    await eventually(async () => expect(count(beta, 'mailbox_deposits')).toBe(0), 30_000, 100);
    sampling = false;
    await sampler;
    expect(misread).toEqual([]);
    expect(count(carol, 'mailbox_items_waiting')).toBe(0);
  }, 180_000);

  it('one refused when handed over later reads failed at its sender, in the refusal\'s words, not delivered', async ({ nodes }) => {
    const { alpha, beta, carol, roomId, closed } = await twoHomesAndAFriend(nodes);
    const count = (n: NodeProcess, table: string) => queryNodeDb<{ n: number }>(n.dataDir, `SELECT COUNT(*) AS n FROM ${table}`)[0]!.n;
    // One request of beta's every 15 s at alpha: the second waits there that long.
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow', rate_limit: { per_second: 1 / 15, burst: 1 } })).status).toBe(200);
    expect(await alpha.stop()).toBe(0);
    const sentIds: string[] = [];
    for (const body of ['taken at once', 'kept at alpha']) {
      const before = count(beta, 'mailbox_deposits');
      sentIds.push(await send(beta, roomId, body));
      await eventually(async () => expect(count(beta, 'mailbox_deposits')).toBe(before + 1), 30_000, 20);
    }
    await alpha.start(homeArgs(closed.alpha));
    await eventually(async () => expect(count(alpha, 'mailbox_retries')).toBe(1), 30_000, 50);
    // carol keeps it for alpha, and beta, asking every second, reads it neither delivered nor gone.
    await eventually(async () => expect(count(carol, 'mailbox_items_waiting')).toBe(1), 30_000, 50);
    // carol's own page says what it holds for alpha is fetched already.
    await eventually(async () => expect((await carol.admin('GET', '/mailbox')).body.holding).toEqual([
      expect.objectContaining({ server_name: 'alpha.test', items: 1, fetched: 1, text: 'Holding 1 request for alpha.test: alpha.test fetched it and takes it in later' }),
    ]), 10_000, 100);
    await eventually(async () => expect(count(beta, 'mailbox_deposits')).toBe(1), 30_000, 50);
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(count(beta, 'mailbox_deposits')).toBe(1);
    // beta's message says where it is: fetched by alpha, which takes it in after a wait (not "at carol", not delivered).
    await eventually(async () => expect(await deliveryOf(beta, roomId, sentIds[1]!)).toMatchObject({ state: 'waiting', at_mailbox: [{ server: 'alpha.test', mailbox: 'carol.test', taken: true }] }), 10_000, 100);
    expect(atMailboxLine((await deliveryOf(beta, roomId, sentIds[1]!))!.at_mailbox as Parameters<typeof atMailboxLine>[0])).toBe('Fetched by alpha.test from carol.test, not taken in yet: alpha.test tries it again after a wait.');
    expect((await beta.admin('GET', '/queue')).body.at_mailboxes).toEqual([expect.objectContaining({ destination: 'alpha.test', mailbox: 'carol.test', count: 1, taken: true, waiting: 'fetched by alpha.test from carol.test, not taken in yet: alpha.test tries it again after a wait' })]);
    // alpha's owner blocks beta before its turn comes again: refused then, for good.
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'block' })).status).toBe(200);
    await eventually(async () => expect(count(carol, 'mailbox_items')).toBe(0), 90_000, 200);
    const kept = queryNodeDb<{ event_id: string }>(beta.dataDir, "SELECT event_id FROM federation_events WHERE room_id = ? AND json_extract(content, '$.body') = 'kept at alpha'", roomId)[0]!;
    await eventually(async () => {
      const rows = queryNodeDb<{ state: string; last_error: string }>(beta.dataDir, "SELECT state, last_error FROM federation_outbox WHERE destination = 'alpha.test' AND event_id = ?", kept.event_id);
      expect(rows).toEqual([{ state: 'failed', last_error: expect.stringMatching(/^HTTP 403/) }]);
    }, 30_000, 200);
    expect(count(beta, 'mailbox_deposits')).toBe(0);
  }, 180_000);
});
