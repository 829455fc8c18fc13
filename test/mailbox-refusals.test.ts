/**
 * What a recipient refuses of the requests a friend's mailbox carried for it (capability
 * `mailbox_refusals`, docs/PROTOCOL.md "Mailboxes"). Before, the recipient only logged such a
 * refusal and acknowledged the page; the depositor saw its deposit gone from the mailbox and took
 * it as delivered, so its user saw "Delivered" for a message the recipient refused. Now the
 * recipient names its refusals in its ack (`POST /mailbox/ack {cursor, refused}`), the mailbox
 * keeps them for the depositor (only for items that depositor left for that recipient), and the
 * depositor reads them with its held check (`POST /mailbox/held {ids, refused: true}`) and marks
 * exactly those entries failed, in the refusal's words.
 * Real node processes on 127.0.0.1 (alpha and beta reach only carol); a real in-process mailbox
 * with signed requests for the bad inputs.
 */
import { writeFileSync } from 'node:fs';
import { describe, expect, it, type Nodes } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { deliveryOf, rowsFor } from './helpers/refused-entries.ts';
import { enc, eventually, messages, send } from './helpers/rooms.ts';
import { twoHomesAndAFriend } from './helpers/mailbox-homes.ts';
import { sendSigned } from './helpers/signed-request.ts';
import { signRequestHeaders } from '../main/core/federation/request-signature.ts';
import type { Identity } from '../main/core/identity/identity.ts';
import { failedEntryWords } from '../renderer/src/lib/failed-entry.ts';

const FED = '/_paracord/federation/v1';

/** carol, a real in-process mailbox; alpha, beta and dave, fake peers signing their own requests (beta and dave fetch from carol). */
async function carolWithFakes(nodes: Nodes) {
  const carol = await nodes.inProcess('carol.test', { config: { pullWaitMs: 100 } });
  const base = carol.started.federation_url!;
  const [alpha, beta, dave] = await Promise.all(['alpha.test', 'beta.test', 'dave.test'].map((name) => nodes.fakePeer(name)));
  for (const peer of [alpha!, beta!, dave!]) expect((await carol.admin('POST', '/peers', { server_name: peer.serverName, endpoint: peer.url })).status).toBe(200);
  // beta and dave fetch from carol: carol keeps mail for them.
  for (const recipient of [beta!, dave!]) expect((await sendSigned(recipient.identity, base, 'GET', `${FED}/mailbox?cursor=&limit=100`, undefined)).status).toBe(200);
  const deposit = async (who: Identity, recipient: string, kind: 'event' | 'events', body: string): Promise<string> => {
    const inner = signRequestHeaders(who, 'POST', `${FED}/${kind}`, Buffer.from(body), Date.now(), recipient);
    const response = await sendSigned(who, base, 'POST', `${FED}/mailbox/deposit/${recipient}/${kind}`, body, {
      mutateHeaders: (h) => Object.assign(h, { 'x-paracord-inner-key-id': inner['X-Paracord-Key-Id'], 'x-paracord-inner-timestamp': inner['X-Paracord-Timestamp'], 'x-paracord-inner-signature': inner['X-Paracord-Signature'] }),
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body.id as string;
  };
  return { carol, base, alpha: alpha!, beta: beta!, dave: dave!, deposit };
}


describe('a mailbox tells the depositor what the recipient refused', () => {
  it('a message the recipient (the room\'s host, reached only through a mailbox) refuses ends failed on its sender\'s node, in the refusal\'s words; one it took ends delivered', async ({ nodes }) => {
    // beta hosts the room, alpha is in it; neither reaches the other, carol carries both ways.
    const { alpha, beta, carol, roomId } = await twoHomesAndAFriend(nodes, true, true, [], {}, 'beta');
    const before = await send(alpha, roomId, 'before');
    await eventually(async () => expect((await messages(beta, roomId)).map((m) => m.body)).toContain('before'), 60_000, 100);
    await eventually(async () => expect((await deliveryOf(alpha, roomId, before))?.state).toBe('delivered'), 60_000, 250);

    // beta removes alpha's user while alpha's federation is paused (it is not told yet), and alpha's
    // user writes meanwhile: once alpha resumes, that message goes to carol, and beta refuses it
    // when it takes it (403: not a member).
    expect((await alpha.admin('POST', '/federation/pause', {})).status).toBe(200);
    const removed = await beta.admin('POST', `/rooms/${enc(roomId)}/members/${enc('@owner:alpha.test')}/remove`, {});
    expect(removed.status, JSON.stringify(removed.body)).toBe(200);
    const after = await send(alpha, roomId, 'after my removal');
    expect((await alpha.admin('POST', '/federation/resume', {})).status).toBe(200);

    // alpha's entry comes back failed with beta's refusal, not deleted as delivered.
    try {
      await eventually(async () => expect(rowsFor(alpha, 'beta.test').find((r) => r.event_id === after)?.state).toBe('failed'), 90_000, 250);
    } catch (error) {
      for (const n of [alpha, beta, carol]) writeFileSync(`/tmp/mailbox-refusals-${n.serverName}.log`, n.stderr);
      throw error;
    }
    expect((await messages(beta, roomId)).map((m) => m.body)).not.toContain('after my removal');
    const row = rowsFor(alpha, 'beta.test').find((r) => r.event_id === after)!;
    expect(row.last_error).toMatch(/^HTTP 403 (not_a_member|not_joined|not_member)$/);
    const delivery = await deliveryOf(alpha, roomId, after);
    expect(delivery?.state).toBe('refused');
    expect(delivery?.refused).toEqual([{ server: 'beta.test', reason: row.last_error }]);
    expect(delivery?.at_mailbox).toBeUndefined();
    // The words the owner reads, as for a refusal a push or a pull ack brought.
    expect(failedEntryWords('beta.test', row.last_error, 'today').lead).toBe('beta.test refused something you sent today:');
    // The message taken before is still delivered; nothing else of alpha's to beta failed.
    expect((await deliveryOf(alpha, roomId, before))?.state).toBe('delivered');
    expect(rowsFor(alpha, 'beta.test').filter((r) => r.state === 'failed').map((r) => r.event_id)).toEqual([after]);
    // Read by alpha: carol forgets it within minutes (kept a while against a lost answer).
    expect(queryNodeDb<{ read_at: number | null }>(carol.dataDir, 'SELECT read_at FROM mailbox_refusals').every((r) => r.read_at !== null)).toBe(true);
    // Its owner may send it again, as any refused entry.
    const retried = await alpha.admin('POST', `/queue/${row.id}/retry`, {});
    expect(retried.status, JSON.stringify(retried.body)).toBe(200);
  }, 240_000);

  it('bad refusals in an ack (items not given to the caller, after the cursor, events an item does not carry, bad statuses, too many) are answered 400 and change nothing; good ones reach only their depositor', async ({ nodes }) => {
    const { carol, base, alpha, beta, dave, deposit } = await carolWithFakes(nodes);
    const forBeta = await deposit(alpha.identity, 'beta.test', 'event', JSON.stringify({ event_id: '$one:alpha.test' }));
    const forDave = await deposit(alpha.identity, 'dave.test', 'event', JSON.stringify({ event_id: '$dave:alpha.test' }));
    const batch = await deposit(alpha.identity, 'beta.test', 'events', JSON.stringify({ events: [{ event_id: '$b1:alpha.test' }, { event_id: '$b2:alpha.test' }] }));
    const page = await sendSigned(beta.identity, base, 'GET', `${FED}/mailbox?cursor=&limit=100`, undefined);
    expect(page.body.items.map((i: { id: string }) => i.id)).toEqual([forBeta, batch]);
    const cursor = page.body.cursor as string;
    expect(cursor).toBe(batch);
    const all = [forBeta, forDave, batch];
    const held = (refused?: true) => sendSigned(alpha.identity, base, 'POST', `${FED}/mailbox/held`, JSON.stringify(refused ? { ids: all, refused } : { ids: all }));
    const kept = () => queryNodeDb(carol.dataDir, 'SELECT * FROM mailbox_refusals');
    const refusal = (id: string, eventId: string, status: unknown = 403, error: unknown = 'not_member') => ({ id, event_id: eventId, status, error });
    const ack = (refused: unknown[], at = cursor) => sendSigned(beta.identity, base, 'POST', `${FED}/mailbox/ack`, JSON.stringify({ cursor: at, refused }));

    // An item held for another recipient is answered exactly as one never held (no oracle of
    // what waits for others): a later bad refusal decides, with the same words.
    const never = String(Number(forBeta) - 1);
    const cases: Array<[string, unknown[], string]> = [
      ['another recipient\'s item, then a bad one', [refusal(forDave, '$dave:alpha.test'), refusal(forBeta, '$other:alpha.test')], 'unknown_item'],
      ['an item never held, then a bad one', [refusal(never, '$dave:alpha.test'), refusal(forBeta, '$other:alpha.test')], 'unknown_item'],
      ['an item after the cursor', [refusal(String(Number(batch) + 1), '$x:alpha.test')], 'unknown_item'],
      ['an event the item does not carry', [refusal(forBeta, '$other:alpha.test')], 'unknown_item'],
      ['an event of another item of the caller', [refusal(forBeta, '$b1:alpha.test')], 'unknown_item'],
      ['a good one beside a bad one', [refusal(batch, '$b1:alpha.test'), refusal(forBeta, '$b2:alpha.test')], 'unknown_item'],
      ['status 399', [refusal(forBeta, '$one:alpha.test', 399)], 'invalid_request'],
      ['status 500', [refusal(forBeta, '$one:alpha.test', 500)], 'invalid_request'],
      ['status 429 (no refusal)', [refusal(forBeta, '$one:alpha.test', 429)], 'invalid_request'],
      ['status 403.5 (no JSON number we read)', [refusal(forBeta, '$one:alpha.test', 403.5)], 'invalid_number'],
      ['status as text', [refusal(forBeta, '$one:alpha.test', '403')], 'invalid_request'],
      ['an error that is no code', [refusal(forBeta, '$one:alpha.test', 403, 'Not Allowed!')], 'invalid_request'],
      ['an empty event id', [refusal(forBeta, '')], 'invalid_request'],
      ['an id that is no number', [refusal('1e3', '$one:alpha.test')], 'invalid_request'],
      ['a field more', [{ ...refusal(forBeta, '$one:alpha.test'), message: 'words' }], 'invalid_request'],
      ['1,001 refusals', Array.from({ length: 1001 }, () => refusal(forBeta, '$one:alpha.test')), 'invalid_request'],
    ];
    const answers = new Map<string, unknown>();
    for (const [what, refused, error] of cases) {
      const response = await ack(refused);
      answers.set(what, response.body);
      expect(response.status, what).toBe(400);
      expect(response.body, what).toMatchObject({ error });
      expect(typeof response.body.message, what).toBe('string');
      // Nothing changed: every item still held, nothing kept for alpha.
      expect((await held(true)).body, what).toEqual({ held: all, refused: [] });
      expect(kept(), what).toEqual([]);
    }

    expect(answers.get('another recipient\'s item, then a bad one')).toEqual(answers.get('an item never held, then a bad one'));
    // A good ack: the items go, the refusals stay for their depositor; one naming dave's item is
    // left out (as an item not held), and dave's item stays.
    const good = await ack([refusal(forBeta, '$one:alpha.test'), refusal(forDave, '$dave:alpha.test'), refusal(batch, '$b2:alpha.test', 409, 'depth_too_old')]);
    expect(good.status, JSON.stringify(good.body)).toBe(200);
    expect(good.body).toEqual({ acknowledged: 2, refused: 2 });
    // The event ids noted at deposit go with their items.
    expect(queryNodeDb(carol.dataDir, 'SELECT item_id, event_id FROM mailbox_item_events')).toEqual([{ item_id: Number(forDave), event_id: '$dave:alpha.test' }]);
    // An older depositor (no `refused` asked, or false) gets the answer it knows, exactly.
    expect((await held()).body).toEqual({ held: [forDave] });
    expect((await sendSigned(alpha.identity, base, 'POST', `${FED}/mailbox/held`, JSON.stringify({ ids: all, refused: false }))).body).toEqual({ held: [forDave] });
    expect((await held(true)).body).toEqual({
      held: [forDave],
      refused: [
        { id: forBeta, event_id: '$one:alpha.test', status: 403, error: 'not_member' },
        { id: batch, event_id: '$b2:alpha.test', status: 409, error: 'depth_too_old' },
      ],
    });
    // Another depositor asking about those ids learns nothing of them.
    expect((await sendSigned(dave.identity, base, 'POST', `${FED}/mailbox/held`, JSON.stringify({ ids: all, refused: true }))).body).toEqual({ held: [], refused: [] });
    // The same ack again (its answer lost): its items are gone, nothing more is kept.
    const again = await ack([refusal(forBeta, '$one:alpha.test')]);
    expect([again.status, again.body]).toEqual([200, { acknowledged: 0, refused: 0 }]);
    expect(kept()).toHaveLength(2);
    // A bad held request changes nothing either.
    const badHeld = await sendSigned(alpha.identity, base, 'POST', `${FED}/mailbox/held`, JSON.stringify({ ids: all, refused: 'yes' }));
    expect([badHeld.status, badHeld.body.error]).toEqual([400, 'invalid_request']);
    // Advertised, so recipients and depositors send the fields (an older mailbox's schemas are strict).
    const discovery = await fetch(`${base}/.well-known/paracord/server`).then((r) => r.json() as Promise<{ capabilities: string[] }>);
    expect(discovery.capabilities).toContain('mailbox_refusals');
  }, 120_000);

  it('items a recipient keeps to take later (`waiting`, `settled`): only its own, up to its cursor; bad lists change nothing; named apart only to their own depositor', async ({ nodes }) => {
    const { carol, base, alpha, beta, dave, deposit } = await carolWithFakes(nodes);
    // dave's first: an item beta's cursor covers, held for another recipient.
    const forDave = await deposit(alpha.identity, 'dave.test', 'event', JSON.stringify({ event_id: '$wd:alpha.test' }));
    const first = await deposit(alpha.identity, 'beta.test', 'event', JSON.stringify({ event_id: '$w1:alpha.test' }));
    const second = await deposit(alpha.identity, 'beta.test', 'event', JSON.stringify({ event_id: '$w2:alpha.test' }));
    const ack = (who: Identity, body: unknown) => sendSigned(who, base, 'POST', `${FED}/mailbox/ack`, JSON.stringify(body));
    const all = [forDave, first, second];
    const held = async (body: Record<string, unknown> = {}) => (await sendSigned(alpha.identity, base, 'POST', `${FED}/mailbox/held`, JSON.stringify({ ids: all, ...body }))).body;
    // Bad lists: 400, and nothing changes.
    const cases: Array<[string, unknown, string]> = [
      ['an item after the cursor', { cursor: first, waiting: [second] }, 'unknown_item'],
      ['settled after the cursor', { cursor: first, settled: [second] }, 'unknown_item'],
      ['an id that is no number', { cursor: second, waiting: ['x'] }, 'invalid_request'],
      ['not a list', { cursor: second, waiting: first }, 'invalid_request'],
      ['1,001 ids', { cursor: second, settled: Array.from({ length: 1001 }, () => first) }, 'invalid_request'],
    ];
    for (const [what, body, error] of cases) {
      const response = await ack(beta.identity, body);
      expect([response.status, response.body.error], what).toEqual([400, error]);
      expect(await held({ refused: true, waiting: true }), what).toEqual({ held: all, refused: [], waiting: [] });
    }
    // beta takes both, keeps the second to take later; it names dave's item too (left out, as one not held).
    const kept = await ack(beta.identity, { cursor: second, waiting: [second, forDave] });
    expect([kept.status, kept.body]).toEqual([200, { acknowledged: 1 }]);
    // alpha asking with `waiting: true` reads it apart; asking with refused only, in `more`; asking with neither, held.
    expect(await held({ refused: true, waiting: true })).toEqual({ held: [forDave], refused: [], waiting: [second] });
    expect(await held({ refused: true })).toEqual({ held: [forDave], refused: [], more: [second] });
    expect(await held()).toEqual({ held: [forDave, second] });
    expect(await held({ waiting: true })).toEqual({ held: [forDave], waiting: [second] });
    // Another depositor learns nothing of them.
    expect((await sendSigned(dave.identity, base, 'POST', `${FED}/mailbox/held`, JSON.stringify({ ids: all, refused: true, waiting: true }))).body).toEqual({ held: [], refused: [], waiting: [] });
    // dave cannot settle beta's item (its ack takes only its own); beta's later acks leave it.
    expect((await ack(dave.identity, { cursor: second, settled: [second] })).body).toEqual({ acknowledged: 1 });
    expect((await ack(beta.identity, { cursor: second })).body).toEqual({ acknowledged: 0 });
    expect(await held({ refused: true, waiting: true })).toEqual({ held: [], refused: [], waiting: [second] });
    // beta refuses it when it takes it at last: named settled with the refusal, it goes; alpha reads the refusal.
    const settled = await ack(beta.identity, { cursor: second, settled: [second], refused: [{ id: second, event_id: '$w2:alpha.test', status: 403, error: 'origin_blocked' }] });
    expect([settled.status, settled.body]).toEqual([200, { acknowledged: 1, refused: 1 }]);
    expect(await held({ refused: true, waiting: true })).toEqual({ held: [], refused: [{ id: second, event_id: '$w2:alpha.test', status: 403, error: 'origin_blocked' }], waiting: [] });
    expect(queryNodeDb(carol.dataDir, 'SELECT COUNT(*) AS n FROM mailbox_items_waiting')).toEqual([{ n: 0 }]);
  }, 120_000);

  it('items taken whose refusals do not fit one held answer are named in `more`, not said held (their depositor would take them for seen held now, and sent again as taken late what was delivered)', async ({ nodes }) => {
    const { base, alpha, beta, deposit } = await carolWithFakes(nodes);
    const batchOf = (tag: string) => Array.from({ length: 600 }, (_, i) => `$${tag}${i}:alpha.test`);
    const first = await deposit(alpha.identity, 'beta.test', 'events', JSON.stringify({ events: batchOf('a').map((event_id) => ({ event_id })) }));
    const second = await deposit(alpha.identity, 'beta.test', 'events', JSON.stringify({ events: batchOf('b').map((event_id) => ({ event_id })) }));
    const third = await deposit(alpha.identity, 'beta.test', 'event', JSON.stringify({ event_id: '$c:alpha.test' }));
    // beta refuses both batches whole (600 refusals each: an ack carries 1,000, so one ack each), takes the third.
    for (const [item, tag] of [[first, 'a'], [second, 'b']] as const) {
      const acked = await sendSigned(beta.identity, base, 'POST', `${FED}/mailbox/ack`, JSON.stringify({ cursor: item, refused: batchOf(tag).map((event_id) => ({ id: item, event_id, status: 403, error: 'not_member' })) }));
      expect([acked.status, acked.body]).toEqual([200, { acknowledged: 1, refused: 600 }]);
    }
    expect((await sendSigned(beta.identity, base, 'POST', `${FED}/mailbox/ack`, JSON.stringify({ cursor: third }))).status).toBe(200);
    const held = async () => (await sendSigned(alpha.identity, base, 'POST', `${FED}/mailbox/held`, JSON.stringify({ ids: [first, second, third], refused: true }))).body as { held: string[]; refused: Array<{ id: string }>; more?: string[] };
    // The first item's 600 fit; the second's do not: named in `more`, none said held.
    const answer = await held();
    expect(answer.held).toEqual([]);
    expect(answer.more).toEqual([second]);
    expect(new Set(answer.refused.map((r) => r.id))).toEqual(new Set([first]));
    expect(answer.refused).toHaveLength(600);
    // Asked again (the first's read, kept a while against a lost answer), still not said held.
    expect((await held()).held).toEqual([]);
    // Asked about the second alone, its refusals come.
    const rest = (await sendSigned(alpha.identity, base, 'POST', `${FED}/mailbox/held`, JSON.stringify({ ids: [second], refused: true }))).body as { held: string[]; refused: Array<{ id: string }>; more?: string[] };
    expect([rest.held, rest.more, rest.refused.length, rest.refused.every((r) => r.id === second)]).toEqual([[], undefined, 600, true]);
  }, 120_000);
});
