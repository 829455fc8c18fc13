/**
 * Issue #20 items 4 and 5 with real nodes: unread and mention counts per (local user, room),
 * read markers that survive a restart, and full-text search that follows edits and deletes,
 * searches only the rooms the user is in, highlights safely, and treats search syntax as words.
 */
import { beforeAll, describe, expect, it } from './helpers/fixtures.ts';
import type { NodeProcess } from './helpers/node-process.ts';
import { enc, eventually, inviteAndJoin, messages, roomWithMembers, send } from './helpers/rooms.ts';

let alpha: NodeProcess;
let beta: NodeProcess;
let lounge: string;
let secret: string;

const CAROL = '@carol:alpha.test';
const BETA = '@owner:beta.test';

async function counts(node: NodeProcess, userId: string, roomId: string): Promise<{ unread: number; mentions: number }> {
  const response = await node.admin('GET', `/rooms?user_id=${enc(userId)}`);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  const room = response.body.rooms.find((r: { room_id: string }) => r.room_id === roomId);
  return { unread: room.unread, mentions: room.mentions };
}

/** Waits for a delivery between the two nodes; on failure says why (queues, attempts, warnings). */
async function delivered(wait: () => Promise<unknown>): Promise<void> {
  try {
    await wait();
  } catch (error) {
    const state = async (node: NodeProcess, peer: string) =>
      `${node.serverName} queue: ${JSON.stringify((await node.admin('GET', '/queue')).body).slice(0, 1500)}\n` +
      `${node.serverName} attempts: ${JSON.stringify((await node.admin('GET', `/attempts?destination=${enc(peer)}`)).body).slice(0, 2500)}\n` +
      `${node.serverName} log:\n${node.stderr.split('\n').filter((l) => /"level":(40|50)|pull_mode|reachability_checked/.test(l)).slice(-15).join('\n')}`;
    throw new Error(`${(error as Error).message}\n${await state(alpha, 'beta.test')}\n${await state(beta, 'alpha.test')}`, { cause: error });
  }
}

async function search(node: NodeProcess, query: Record<string, string>) {
  return node.admin('GET', `/search?${new URLSearchParams(query).toString()}`);
}

beforeAll(async ({ pair }) => {
  ({ alpha, beta } = pair);
  expect((await alpha.admin('POST', '/users', { localpart: 'carol' })).status).toBe(200);
  lounge = await roomWithMembers(alpha, 'lounge', [[beta, BETA]]);
  await inviteAndJoin(alpha, lounge, alpha, CAROL);
  // A room carol is not in.
  secret = (await alpha.admin('POST', '/rooms', { name: 'secret' })).body.room_id;
}, 60_000);

describe('unread counts and mentions', () => {
  it('counts messages by others after the marker, mentions separately, and survives a restart', async () => {
    expect(await counts(alpha, CAROL, lounge)).toEqual({ unread: 0, mentions: 0 });
    const ids: string[] = [];
    ids.push(await send(beta, lounge, 'hello everyone'));
    ids.push(await send(beta, lounge, 'hey @carol, look at this'));
    ids.push(await send(beta, lounge, `and @${CAROL.slice(1)} again`));
    ids.push(await send(beta, lounge, 'not a mention: @carolyn or @carol:other.test or email carol@example.org'));
    ids.push(await send(alpha, lounge, 'the owner speaks'));
    await send(alpha, lounge, 'carol speaks herself @carol', CAROL); // her own: never unread
    await eventually(async () => expect(await counts(alpha, CAROL, lounge)).toEqual({ unread: 5, mentions: 2 }));
    // beta's owner, on its own server: alpha's messages (the owner's and carol's) are unread there.
    await eventually(async () => expect(await counts(beta, BETA, lounge)).toEqual({ unread: 2, mentions: 0 }));

    // Reading up to the second message.
    const read = await alpha.admin('POST', `/rooms/${enc(lounge)}/read`, { event_id: ids[1], user_id: CAROL });
    expect(read.status, JSON.stringify(read.body)).toBe(200);
    expect(read.body).toMatchObject({ room_id: lounge, event_id: ids[1], unread: 3, mentions: 1 });
    // The marker never moves back.
    expect((await alpha.admin('POST', `/rooms/${enc(lounge)}/read`, { event_id: ids[0], user_id: CAROL })).body).toMatchObject({ unread: 3 });
    // A deleted unread message no longer counts.
    expect((await beta.admin('DELETE', `/rooms/${enc(lounge)}/messages/${enc(ids[3]!)}`)).status).toBe(200);
    await eventually(async () => expect(await counts(alpha, CAROL, lounge)).toEqual({ unread: 2, mentions: 1 }));

    // Bad input: unknown event, an event of another room, a room she is not in, unknown user.
    const otherRoomEvent = await send(alpha, secret, 'elsewhere');
    const cases: Array<[string, unknown, number, string]> = [
      [lounge, { event_id: '$nope:alpha.test', user_id: CAROL }, 404, 'unknown_event'],
      [lounge, { event_id: otherRoomEvent, user_id: CAROL }, 404, 'unknown_event'],
      [secret, { event_id: otherRoomEvent, user_id: CAROL }, 403, 'not_a_member'],
      [lounge, { event_id: ids[4]!, user_id: '@ghost:alpha.test' }, 404, 'unknown_user'],
      [lounge, { event_id: 'not an id', user_id: CAROL }, 400, 'invalid_input'],
    ];
    for (const [roomId, body, status, error] of cases) {
      const response = await alpha.admin('POST', `/rooms/${enc(roomId)}/read`, body);
      expect(response.status, JSON.stringify(response.body)).toBe(status);
      expect(response.body.error).toBe(error);
    }
    expect(await counts(alpha, CAROL, lounge)).toEqual({ unread: 2, mentions: 1 });

    // A restart keeps the markers (and so the counts), on both servers.
    expect(await alpha.stop()).toBe(0);
    expect(await beta.stop()).toBe(0);
    await Promise.all([alpha.start(), beta.start()]);
    expect(await counts(alpha, CAROL, lounge)).toEqual({ unread: 2, mentions: 1 });
    expect(await counts(beta, BETA, lounge)).toEqual({ unread: 2, mentions: 0 });
    expect((await alpha.admin('POST', `/rooms/${enc(lounge)}/read`, { event_id: ids[4], user_id: CAROL })).body).toMatchObject({ unread: 0, mentions: 0 });
  });

  it('counts the current text: a mention an edit adds to an unread message counts, one it removes does not', async () => {
    const plain = await send(beta, lounge, 'lunch at noon?');
    const pinged = await send(beta, lounge, 'hey @carol, lunch?');
    await eventually(async () => expect(await counts(alpha, CAROL, lounge)).toEqual({ unread: 2, mentions: 1 }));
    expect((await beta.admin('PATCH', `/rooms/${enc(lounge)}/messages/${enc(plain)}`, { body: 'lunch at noon, @carol?' })).status).toBe(200);
    await eventually(async () => expect(await counts(alpha, CAROL, lounge)).toEqual({ unread: 2, mentions: 2 }));
    expect((await beta.admin('PATCH', `/rooms/${enc(lounge)}/messages/${enc(pinged)}`, { body: 'hey all, lunch?' })).status).toBe(200);
    await eventually(async () => expect(await counts(alpha, CAROL, lounge)).toEqual({ unread: 2, mentions: 1 }));
    expect((await alpha.admin('POST', `/rooms/${enc(lounge)}/read`, { event_id: pinged, user_id: CAROL })).body).toMatchObject({ unread: 0, mentions: 0 });
  });
});

describe('search', () => {
  let edited: string;
  let removed: string;
  let tricky: string;

  beforeAll(async () => {
    edited = await send(beta, lounge, 'pineapple pizza is great');
    removed = await send(alpha, lounge, 'the pineapple tree', CAROL);
    tricky = await send(beta, lounge, '<b>Pineapple</b> & "NEAR(" * AND OR Ünïcode');
    await send(alpha, secret, 'a secret pineapple');
    await delivered(() => eventually(async () => expect((await messages(alpha, lounge)).map((m) => m.event_id)).toContain(tricky)));
  });

  it('finds messages of the rooms the user is in, newest first, highlighted and HTML-escaped', async () => {
    const found = await search(alpha, { q: 'pineapple', user_id: CAROL });
    expect(found.status, JSON.stringify(found.body)).toBe(200);
    expect(found.body.results.map((r: { event_id: string }) => r.event_id)).toEqual([tricky, removed, edited]);
    const first = found.body.results[0];
    expect(first).toMatchObject({ room_id: lounge, sender: BETA, body: '<b>Pineapple</b> & "NEAR(" * AND OR Ünïcode', origin_ts: expect.any(Number) });
    expect(first.highlight).toBe('&lt;b&gt;<mark>Pineapple</mark>&lt;/b&gt; &amp; &quot;NEAR(&quot; * AND OR Ünïcode');
    // The owner is in both rooms: finds the secret one too. A room filter narrows.
    expect((await search(alpha, { q: 'pineapple' })).body.results).toHaveLength(4);
    expect((await search(alpha, { q: 'pineapple', room_id: secret })).body.results.map((r: { room_id: string }) => r.room_id)).toEqual([secret]);
    // carol may not search a room she is not in.
    const forbidden = await search(alpha, { q: 'pineapple', room_id: secret, user_id: CAROL });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error).toBe('not_a_member');
    // Diacritics and case fold; the member server searches its own copy.
    expect((await search(alpha, { q: 'unicode', user_id: CAROL })).body.results.map((r: { event_id: string }) => r.event_id)).toEqual([tricky]);
    await delivered(() => eventually(async () => expect((await search(beta, { q: 'PINEAPPLE' })).body.results).toHaveLength(3)));
  });

  it('follows edits and deletes, never returning deleted or edited-away text', async () => {
    expect((await beta.admin('PATCH', `/rooms/${enc(lounge)}/messages/${enc(edited)}`, { body: 'mango pizza is great' })).status).toBe(200);
    expect((await alpha.admin('DELETE', `/rooms/${enc(lounge)}/messages/${enc(removed)}`, { user_id: CAROL })).status).toBe(200);
    for (const node of [alpha, beta]) {
      await eventually(async () => {
        const userId = node === alpha ? CAROL : BETA;
        expect((await search(node, { q: 'pineapple', user_id: userId })).body.results.map((r: { event_id: string }) => r.event_id)).toEqual([tricky]);
        expect((await search(node, { q: 'mango', user_id: userId })).body.results.map((r: { event_id: string; highlight: string }) => [r.event_id, r.highlight])).toEqual([
          [edited, '<mark>mango</mark> pizza is great'],
        ]);
        expect((await search(node, { q: 'tree', user_id: userId })).body.results).toEqual([]);
      });
    }
  });

  it('search syntax is searched as plain words; empty or oversized queries are refused', async () => {
    for (const q of ['NEAR(pineapple', '"pineapple', 'pineapple AND', 'pineapple OR nothing-like-this']) {
      const response = await search(alpha, { q, user_id: CAROL });
      expect(response.status, `${q}: ${JSON.stringify(response.body)}`).toBe(200);
    }
    // Each word must be present: NEAR and AND are words of the tricky message only.
    expect((await search(alpha, { q: 'NEAR(pineapple', user_id: CAROL })).body.results.map((r: { event_id: string }) => r.event_id)).toEqual([tricky]);
    expect((await search(alpha, { q: 'pineapple AND', user_id: CAROL })).body.results.map((r: { event_id: string }) => r.event_id)).toEqual([tricky]);
    expect((await search(alpha, { q: 'pineapple OR nothing', user_id: CAROL })).body.results).toEqual([]);
    // A prefix star is not a wildcard.
    expect((await search(alpha, { q: 'pine*', user_id: CAROL })).body.results).toEqual([]);
    expect((await search(alpha, { q: 'body:pineapple', user_id: CAROL })).body.results).toEqual([]);
    // A minus is no NOT: both words are required (the edited message reads "mango pizza is great").
    expect((await search(alpha, { q: 'pizza -mango', user_id: CAROL })).body.results.map((r: { event_id: string }) => r.event_id)).toEqual([edited]);
    expect((await search(alpha, { q: 'pizza NOT mango', user_id: CAROL })).body.results).toEqual([]);
    // No operator reaches beyond her rooms: the secret room's pineapple stays out of every form.
    for (const q of ['secret OR pineapple', 'NEAR(secret pineapple)', '"secret" pineapple', 'secret*', '-lounge secret', '{room_id} : secret']) {
      const response = await search(alpha, { q, user_id: CAROL });
      expect(response.status, q).toBe(200);
      expect(response.body.results.filter((r: { room_id: string }) => r.room_id !== lounge), q).toEqual([]);
    }
    for (const q of ['', '   ', '"', '*', 'NEAR(']) {
      const response = await search(alpha, { q, user_id: CAROL });
      if (q === 'NEAR(') {
        expect(response.status).toBe(200);
        expect(response.body.results.map((r: { event_id: string }) => r.event_id)).toEqual([tricky]);
        continue;
      }
      expect(response.status, q).toBe(400);
      expect(response.body.error).toBe('empty_query');
    }
    expect((await search(alpha, { q: 'x'.repeat(501) })).status).toBe(400);
    expect((await search(alpha, { q: 'pineapple', limit: '0' })).status).toBe(400);
    expect((await search(alpha, { q: 'pineapple', room_id: 'bad' })).status).toBe(400);
    expect((await search(alpha, { q: 'pineapple', user_id: '@ghost:alpha.test' })).status).toBe(404);
  });

  it('still finds after a restart', async () => {
    expect(await alpha.stop()).toBe(0);
    await alpha.start();
    expect((await search(alpha, { q: 'mango', user_id: CAROL })).body.results.map((r: { event_id: string }) => r.event_id)).toEqual([edited]);
  });
});
