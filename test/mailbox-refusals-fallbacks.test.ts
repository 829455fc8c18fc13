/**
 * Mailbox refusals (capability `mailbox_refusals`, docs/PROTOCOL.md "Mailboxes") with a mailbox
 * that does not answer as its discovery says: a recipient's ack naming refusals answered 400 is
 * sent again as the plain cursor (mailbox/fetcher.ts `ack`), and a depositor's held check with
 * `refused: true` answered 400 is asked again without it (mailbox/deposits.ts), as an older or
 * downgraded mailbox would answer them; and items a held answer names in `more` (taken, their
 * refusals not in that answer) are asked about again at once, a bounded number of times (deposits.ts
 * HELD_MORE_FOLLOW_UPS), not at the next check. Three real nodes in this process (real HTTP on 127.0.0.1,
 * real SQLite): alpha and beta reach only carol, which both know through a real proxy that stands
 * in for carol's other version, or for a carol that answers `more` (test/helpers/reading-proxy.ts);
 * carol itself is the real mailbox.
 */
import { describe, expect, it, type InProcessNode, type Nodes } from './helpers/fixtures.ts';
import { closedPort } from './helpers/closed-port.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { readingProxy, type Exchange, type ReadingProxyRules } from './helpers/reading-proxy.ts';
import { deliveryOf, rowsFor } from './helpers/refused-entries.ts';
import { HELD_MORE_FOLLOW_UPS } from '../main/core/mailbox/deposits.ts';
import { enc, eventually, roomWithMembers, send } from './helpers/rooms.ts';

const FED = '/_paracord/federation/v1';
const ACK = `${FED}/mailbox/ack`;
const HELD = `${FED}/mailbox/held`;
/** An older mailbox's words for a field its strict schema does not know. */
const strict = (field: string) => ({ status: 400, body: { error: 'invalid_request', message: `body: Unrecognized key: "${field}"` } });

/** alpha's held check, every CHECK_S seconds here (a follow-up within a check is much sooner). */
const CHECK_S = 8;

const count = (n: InProcessNode, sql: string, ...args: unknown[]) => queryNodeDb<{ n: number }>(n.dataDir, sql, ...args)[0]!.n;

/**
 * beta hosts a room with alpha's owner in it; then neither reaches the other (each knows the other
 * at a closed port), and both know carol only through the proxy. beta receives by pull, so it
 * fetches from carol (choosing it): alpha's messages to beta are left at carol.
 */
async function homesBehindAProxy(nodes: Nodes, rules: ReadingProxyRules, alphaConfig: { mailboxCheckSeconds?: number } = {}) {
  // Long polls of a second: one beta began before alpha's address changed ends soon after.
  const quick = { retryInitialMs: 200, retryMaxMs: 1_000, pullStaleMs: 1_000, reachabilityWatchSeconds: 0, pullWaitMs: 1_000 };
  const carol = await nodes.inProcess('carol.test', { config: quick });
  const proxy = await readingProxy(carol.started.federation_url!, rules);
  nodes.servers.push(proxy.server);
  const alpha = await nodes.inProcess('alpha.test', { config: { ...quick, mailboxCheckSeconds: 1, ...alphaConfig } });
  const beta = await nodes.inProcess('beta.test', { config: { ...quick, pull: true } });
  const url = (n: InProcessNode) => n.started.federation_url!;
  const add = async (who: InProcessNode, name: string, endpoint: string, key?: { key_id: string; public_key: string }) => {
    const added = await who.admin('POST', '/peers', { server_name: name, endpoint, ...(key ? { ...key, replace: true } : {}) });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
  };
  await add(alpha, 'beta.test', url(beta));
  await add(beta, 'alpha.test', url(alpha));
  await add(alpha, 'carol.test', proxy.url);
  await add(beta, 'carol.test', proxy.url);
  await add(carol, 'alpha.test', url(alpha));
  await add(carol, 'beta.test', url(beta));
  const roomId = await roomWithMembers(beta, 'through carol', [[alpha, '@owner:alpha.test']]);
  // From now on alpha and beta know each other at a closed port only.
  const keyOf = async (n: InProcessNode) => {
    const status = (await n.admin('GET', '/status')).body as { key_id: string; public_key: string };
    return { key_id: status.key_id, public_key: status.public_key };
  };
  await add(alpha, 'beta.test', `http://127.0.0.1:${await closedPort()}`, await keyOf(beta));
  await add(beta, 'alpha.test', `http://127.0.0.1:${await closedPort()}`, await keyOf(alpha));
  // beta's pulls from alpha fail from now on (none begun before is still open: alpha would serve
  // our messages through it, not leave them at carol).
  await eventually(async () => expect(count(beta, "SELECT COUNT(*) AS n FROM pull_sources WHERE server_name = 'alpha.test' AND last_error IS NOT NULL")).toBe(1), 30_000);
  // beta chose carol (its signed choice is there to show alpha).
  await eventually(async () => expect(count(carol, "SELECT COUNT(*) AS n FROM mailbox_choices WHERE recipient = 'beta.test'")).toBe(1), 30_000);
  return { alpha, beta, carol, proxy, roomId };
}

/** beta removes alpha's owner from its room (alpha is not told: beta cannot reach it). */
async function removeAlpha(beta: InProcessNode, roomId: string) {
  const removed = await beta.admin('POST', `/rooms/${enc(roomId)}/members/${enc('@owner:alpha.test')}/remove`, {});
  expect(removed.status, JSON.stringify(removed.body)).toBe(200);
}

/** alpha's message was left at carol (a deposit carol took, seen at the proxy). */
async function depositedAtCarol(proxy: { exchanges: Exchange[] }) {
  await eventually(async () => expect(proxy.exchanges.some((e) => e.path.startsWith(`${FED}/mailbox/deposit/beta.test/`) && e.status === 200)).toBe(true), 30_000, 100);
}

describe('mailbox refusals with a mailbox that refuses the new fields', () => {
  it('a recipient whose ack naming refusals is answered 400 (a mailbox that lists mailbox_refusals but does not take them) acknowledges the plain cursor: the mailbox deletes the item instead of keeping it for us', async ({ nodes }) => {
    const { alpha, beta, carol, proxy, roomId } = await homesBehindAProxy(nodes, {
      answer: (method, path, body) => (method === 'POST' && path === ACK && body?.refused !== undefined ? strict('refused') : null),
    });
    await removeAlpha(beta, roomId);
    const eventId = await send(alpha, roomId, 'after my removal');
    await depositedAtCarol(proxy);
    const acks = () => proxy.exchanges.filter((e) => e.path === ACK);
    // beta refuses it (403), names it in its ack, is answered 400, and acknowledges again without it.
    await eventually(async () => expect(acks().some((a) => a.status === 200 && a.body.refused === undefined)).toBe(true), 30_000, 100);
    const named = acks().findIndex((a) => a.body.refused !== undefined);
    expect(named).toBeGreaterThanOrEqual(0);
    const first = acks()[named]!;
    expect(first.status).toBe(400);
    expect(first.body.refused).toEqual([expect.objectContaining({ event_id: eventId, status: 403 })]);
    const item = first.body.refused[0].id as string;
    expect(acks()[named + 1]).toMatchObject({ status: 200, body: { cursor: first.body.cursor } });
    expect(acks()[named + 1]!.body.refused).toBeUndefined();
    // carol took that ack: it holds nothing more for beta, and keeps no refusal (it was given none).
    await eventually(async () => expect(count(carol, "SELECT COUNT(*) AS n FROM mailbox_items WHERE recipient = 'beta.test'")).toBe(0), 10_000, 100);
    expect(Number(first.body.cursor)).toBeGreaterThanOrEqual(Number(item));
    expect(count(carol, 'SELECT COUNT(*) AS n FROM mailbox_refusals')).toBe(0);
    // beta forgot its refusals once that ack was answered: they are not named again.
    await eventually(async () => expect(count(beta, 'SELECT COUNT(*) AS n FROM mailbox_refusals_out')).toBe(0), 10_000, 100);
    // alpha reads the item as taken (the mailbox's doing, as PROTOCOL.md says): delivered, not waiting.
    await eventually(async () => expect(count(alpha, 'SELECT COUNT(*) AS n FROM mailbox_deposits WHERE event_id = ?', eventId)).toBe(0), 10_000, 100);
  }, 90_000);

  it('a depositor whose held check with refused: true is answered 400 (a mailbox its cached discovery says keeps refusals, downgraded) asks again without it at once: its message does not stay "waiting at carol.test"', async ({ nodes }) => {
    const { alpha, beta, proxy, roomId } = await homesBehindAProxy(nodes, {
      answer: (method, path, body) => (method === 'POST' && path === HELD && body?.refused !== undefined ? strict('refused') : null),
    });
    const eventId = await send(alpha, roomId, 'through carol');
    await depositedAtCarol(proxy);
    await eventually(async () => expect(count(beta, 'SELECT COUNT(*) AS n FROM federation_events WHERE event_id = ?', eventId)).toBe(1), 30_000, 100);
    // Taken by beta: alpha's next check learns it, in the plain form, and forgets the deposit.
    await eventually(async () => expect(count(alpha, 'SELECT COUNT(*) AS n FROM mailbox_deposits WHERE event_id = ?', eventId)).toBe(0), 15_000, 100);
    const delivery = await deliveryOf(alpha, roomId, eventId);
    expect(delivery?.state).toBe('delivered');
    expect(delivery?.at_mailbox).toBeUndefined();
    // Each refused ask was followed at once by the plain one (the same ids).
    const held = proxy.exchanges.filter((e) => e.path === HELD);
    const refused = held.map((e, i) => [e, i] as const).filter(([e]) => e.body.refused === true);
    expect(refused.length).toBeGreaterThan(0);
    for (const [e, i] of refused) {
      expect(e.status).toBe(400);
      expect(held[i + 1]?.body).toEqual({ ids: e.body.ids });
    }
    expect(held.at(-1)).toMatchObject({ status: 200, answer: { held: [] } });
    expect(rowsFor(alpha, 'beta.test').filter((r) => r.state === 'failed')).toEqual([]);
  }, 90_000);
});

describe('the held check\'s `more`', () => {
  it('items a held answer names in `more` are asked about again at once, a few times per check, not 30 s later; a mailbox that always says more gets those few, then the normal schedule', async ({ nodes }) => {
    // carol's held answers with refusals, as the test says: as they are, or with the refused items
    // named in `more` instead (as carol does when they do not fit one answer), once or always.
    let mode: 'honest' | 'once' | 'always' = 'once';
    const { alpha, beta, proxy, roomId } = await homesBehindAProxy(nodes, {
      rewrite: (method, path, body, status, answer) => {
        if (mode === 'honest' || path !== HELD || body?.refused !== true || status !== 200 || answer.refused.length === 0) return answer;
        if (mode === 'once') mode = 'honest';
        return { held: answer.held, refused: [], more: [...new Set(answer.refused.map((r: { id: string }) => r.id))] };
      },
    }, { mailboxCheckSeconds: CHECK_S });
    await removeAlpha(beta, roomId);
    const failed = (eventId: string) => rowsFor(alpha, 'beta.test').find((r) => r.event_id === eventId)?.state === 'failed';
    const held = () => proxy.exchanges.filter((e) => e.path === HELD && e.status === 200);
    /** The first held answer that named `more`, from the `from`th held exchange on. */
    const firstMore = async (from: number) => eventually(async () => {
      const i = held().findIndex((e, j) => j >= from && e.answer.more !== undefined);
      expect(i).toBeGreaterThanOrEqual(0);
      return i;
    }, 30_000, 50);

    // Said once: the item is asked about again at once, and its refusal read; the message fails
    // within moments, not at the next check.
    const first = await send(alpha, roomId, 'one');
    const once = await firstMore(0);
    const saidMore = held()[once]!;
    await eventually(async () => expect(failed(first)).toBe(true), 3_000, 50);
    const followUp = held()[once + 1]!;
    expect(followUp.body).toEqual({ ids: saidMore.answer.more, refused: true, waiting: true });
    expect(followUp.at - saidMore.at).toBeLessThan(2_000);
    expect(followUp.answer.refused).toEqual([expect.objectContaining({ event_id: first, status: 403 })]);

    // Said always (a hostile mailbox): HELD_MORE_FOLLOW_UPS asks more in that check, then none
    // until the next one; meanwhile the message still waits at carol (neither failed nor delivered).
    mode = 'always';
    const before = held().length;
    const second = await send(alpha, roomId, 'two');
    const always = await firstMore(before);
    const start = held()[always]!.at;
    await new Promise((r) => setTimeout(r, 3_000));
    const burst = held().slice(always).filter((e) => e.at - start < (CHECK_S * 1_000) / 2);
    expect(burst).toHaveLength(1 + HELD_MORE_FOLLOW_UPS);
    for (const e of burst) expect(e.answer.more).toEqual(held()[always]!.answer.more);
    expect(failed(second)).toBe(false);
    expect(count(alpha, 'SELECT COUNT(*) AS n FROM mailbox_deposits WHERE event_id = ?', second)).toBe(1);
    expect((await deliveryOf(alpha, roomId, second))?.at_mailbox).toBeDefined();
    // carol answers honestly again: the next check reads the refusal.
    mode = 'honest';
    await eventually(async () => expect(failed(second)).toBe(true), (CHECK_S + 5) * 1_000, 100);
  }, 120_000);
});
