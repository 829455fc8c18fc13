/**
 * Red team (issue 37 items 6 and 7), through real nodes' listeners:
 * - 6, a room made unjoinable within the limits: 105 messages of ~63 KB made a 5.9 MB join
 *   snapshot, over the 4 MiB our own client reads: a joining node of ours failed, yet the host
 *   had recorded it as joined, so it could never join again. Now every page the node serves is
 *   bounded in bytes (page-budget.ts, the same limit as the client's), and a join of a user
 *   already in is answered again (with the join that stands) instead of 409.
 * - 7, pages that stop short: more than a page of events at one depth: a caller following
 *   `since_depth` got 1,000 of 1,200 and then "complete". Now a depth-only page never ends
 *   inside a depth that fits in a page, and our own catch-up follows the (depth, event_id)
 *   cursor through a depth larger than a page.
 */
import { createServer } from 'node:http';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import type { Envelope } from '../../main/core/federation/envelope.ts';
import { MAX_RESPONSE_BYTES } from '../../main/core/federation/http-client.ts';
import { MEMBERSHIP_WIRE_ORDER, wireJson } from '../../main/core/federation/wire-json.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { makeEvent, wire } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { joinFakePeer } from '../helpers/fake-members.ts';
import { queryNodeDb } from '../helpers/inspect-db.ts';
import { startInProcessNode } from '../helpers/in-process-node.ts';
import type { NodeProcess } from '../helpers/node-process.ts';
import { enc, eventually, inviteAndJoin } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';

const FED = '/_paracord/federation/v1';

let alpha: Awaited<ReturnType<typeof startInProcessNode>>;
let beta: Awaited<ReturnType<typeof startInProcessNode>>;
let friend: FakePeer;

beforeAll(async ({ fileNodes }) => {
  [alpha, beta] = await Promise.all([fileNodes.inProcess('alpha.test'), fileNodes.inProcess('beta.test')]);
  friend = await fileNodes.fakePeer('friend.test');
  expect((await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: beta.started.federation_url })).status).toBe(200);
  expect((await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: alpha.started.federation_url })).status).toBe(200);
  expect((await beta.admin('POST', '/users', { localpart: 'bob' })).status).toBe(200);
});


/** A room of alpha where the friend's user is joined; its id and that user. */
async function roomWithFriend(name: string): Promise<{ roomId: string; user: string }> {
  const roomId = (await alpha.admin('POST', '/rooms', { name })).body.room_id as string;
  const asHost = { admin: alpha.admin, federationUrl: alpha.started.federation_url! } as unknown as NodeProcess;
  return { roomId, user: await joinFakePeer(asHost, roomId, friend) };
}

/** The friend sends `events` to alpha in batches (under 1 MiB, at most 100 events); every one is stored. */
async function post(events: Envelope[]): Promise<void> {
  let start = 0;
  while (start < events.length) {
    let end = start;
    let bytes = 0;
    while (end < events.length && end - start < 100 && (end === start || bytes + wire(events[end]!).length < 900_000)) bytes += wire(events[end++]!).length;
    const answer = await sendSigned(friend.identity, alpha.started.federation_url!, 'POST', `${FED}/events`, `{"events":[${events.slice(start, end).map(wire).join(',')}]}`);
    expect(answer.status, answer.text).toBe(200);
    expect(answer.body.results.filter((r: any) => r.inserted !== true), JSON.stringify(answer.body.results[0])).toEqual([]);
    start = end;
  }
}

/** Every message body a node shows in a room, paging up with `before` (pages are bounded in bytes). */
async function allBodies(node: typeof alpha, roomId: string): Promise<string[]> {
  const bodies: string[] = [];
  let before = '';
  for (let page = 0; page < 100; page++) {
    const answer = await node.admin('GET', `/rooms/${enc(roomId)}/messages?limit=500${before}`);
    expect(answer.status, JSON.stringify(answer.body).slice(0, 300)).toBe(200);
    const messages = answer.body.messages as Array<{ event_id: string; body?: string }>;
    bodies.unshift(...messages.map((m) => m.body ?? ''));
    if (!answer.body.has_more || messages.length === 0) return bodies;
    before = `&before=${enc(messages[0]!.event_id)}`;
  }
  throw new Error('more than 100 pages');
}

describe('6. a room with more than 4 MiB of messages within the limits', () => {
  it('a second node of ours joins it and sees every message; pages stay under the client\'s limit', async () => {
    const { roomId, user } = await roomWithFriend('big messages');
    const base = Date.now();
    const big = Array.from({ length: 105 }, (_, i) =>
      makeEvent(friend.identity, { room_id: roomId, sender: user, depth: base + i, content: { body: `big ${i}`, format: 'plain', pad: 'x'.repeat(62_000) } }));
    await post(big);
    expect(big.reduce((n, e) => n + wire(e).length, 0)).toBeGreaterThan(MAX_RESPONSE_BYTES * 1.5);

    // The join answer alpha gives is within what our client reads (it names the rest as to come).
    await inviteAndJoin(alpha, roomId, beta, '@owner:beta.test');
    const expected = big.map((e) => e.content.body);
    await eventually(async () => expect((await allBodies(beta, roomId)).filter((b) => b.startsWith('big '))).toEqual(expected), 60_000, 500);

    // Every catch-up page alpha serves fits, and the cursor walks the whole room exactly once.
    const seen: string[] = [];
    let query = 'since_depth=0&limit=500';
    for (let page = 0; page < 50; page++) {
      const answer = await sendSigned(friend.identity, alpha.started.federation_url!, 'GET', `${FED}/events?room_id=${enc(roomId)}&${query}`);
      expect(answer.status).toBe(200);
      expect(Buffer.byteLength(answer.text)).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
      seen.push(...answer.body.events.map((e: Envelope) => e.event_id));
      if (answer.body.complete) break;
      query = `since_depth=${answer.body.next_since_depth}&since_event_id=${enc(answer.body.next_since_event_id)}&limit=500`;
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const event of big) expect(seen).toContain(event.event_id);
  }, 120_000);

  it('a join whose answer never arrived: joining again succeeds and the joiner gets the room', async () => {
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'lost answer' })).body.room_id as string;
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'before bob' })).status).toBe(200);
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: '@bob:beta.test' })).status).toBe(200);
    // beta's join reaches alpha, which records it; its answer is lost on the way back.
    const betaIdentity = await Identity.open(join(beta.dataDir, 'identity.json'));
    const lost = makeEvent(betaIdentity, { room_id: roomId, event_type: 'm.member.join', sender: '@bob:beta.test', state_key: '@bob:beta.test', content: { membership: 'join' } });
    const body = wireJson({ origin_server: 'beta.test', room_id: roomId, user_id: '@bob:beta.test', event: lost }, MEMBERSHIP_WIRE_ORDER);
    expect((await sendSigned(betaIdentity, alpha.started.federation_url!, 'POST', `${FED}/join`, body)).status).toBe(200);

    // bob accepts the invite on beta (a new join event): alpha answers with the room and the join that stands.
    const invite = (await beta.admin('GET', '/invites?user_id=%40bob%3Abeta.test')).body.invites.find((i: any) => i.room_id === roomId);
    const accepted = await beta.admin('POST', `/invites/${invite.invite_id}/accept`, { user_id: '@bob:beta.test' });
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
    const room = (await beta.admin('GET', `/rooms/${enc(roomId)}`)).body;
    expect(room.members).toContainEqual(expect.objectContaining({ user_id: '@bob:beta.test', membership: 'join' }));
    expect(await allBodies(beta, roomId)).toContain('before bob');
    // beta holds the join alpha holds (one join of bob in the room's history), and new messages reach it.
    const joins = (node: typeof alpha) => queryNodeDb(node.dataDir, "SELECT event_id FROM federation_events WHERE room_id = ? AND event_type = 'm.member.join' AND sender = '@bob:beta.test'", roomId);
    expect(await joins(beta)).toEqual([{ event_id: lost.event_id }]);
    expect(await joins(alpha)).toEqual([{ event_id: lost.event_id }]);
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'after bob' })).status).toBe(200);
    await eventually(async () => expect(await allBodies(beta, roomId)).toContain('after bob'));
  }, 60_000);

  it('a join whose answer was lost is retried after the local invite expired; an expired invite never accepted is still refused', async () => {
    expect((await beta.admin('POST', '/users', { localpart: 'carol' })).status).toBe(200);
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'lost answer, expired invite' })).body.room_id as string;
    const other = (await alpha.admin('POST', '/rooms', { name: 'expired, never accepted' })).body.room_id as string;
    for (const room of [roomId, other]) expect((await alpha.admin('POST', `/rooms/${enc(room)}/invites`, { user_id: '@carol:beta.test' })).status).toBe(200);
    // A real listener between beta and alpha that loses the answer of the first join: alpha records
    // the join, beta never hears back.
    let joins = 0;
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const upstream = await fetch(`${alpha.started.federation_url}${req.url}`, {
          method: req.method, headers: Object.fromEntries(Object.entries(req.headers).filter(([k]) => !['host', 'connection', 'content-length'].includes(k)) as Array<[string, string]>),
          ...(chunks.length ? { body: Buffer.concat(chunks) } : {}),
        });
        const text = await upstream.text();
        if (req.url?.endsWith('/join') && joins++ === 0) return res.socket?.destroy();
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' }).end(text);
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxyUrl = `http://127.0.0.1:${(proxy.address() as { port: number }).port}`;
    const pointBeta = async (endpoint: string) => expect((await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint, replace: true })).status).toBe(200);
    try {
      await pointBeta(proxyUrl);
      const invites = async () => (await beta.admin('GET', '/invites?user_id=%40carol%3Abeta.test')).body.invites as Array<{ invite_id: string; room_id: string }>;
      const invite = (await invites()).find((i) => i.room_id === roomId)!;
      const otherInvite = (await invites()).find((i) => i.room_id === other)!;
      const lost = await beta.admin('POST', `/invites/${invite.invite_id}/accept`, { user_id: '@carol:beta.test' });
      expect(lost.status).toBe(502);
      expect(joins).toBe(1);
      // Its answer was lost: shown sent and unanswered (not refused, not waiting anywhere).
      expect(((await beta.admin('GET', '/invites?user_id=%40carol%3Abeta.test')).body.invites as Array<{ room_id: string; join?: { state: string } }>).find((i) => i.room_id === roomId)!.join).toMatchObject({ state: 'unanswered' });
      expect((await alpha.admin('GET', `/rooms/${enc(roomId)}`)).body.members).toContainEqual(expect.objectContaining({ user_id: '@carol:beta.test', membership: 'join' }));
      // Both local invites expire (the time passes while the user is away).
      const db = new Database(join(beta.dataDir, 'paracord.db'));
      try {
        db.pragma('busy_timeout = 5000');
        db.prepare("UPDATE room_invites SET expires_at = ? WHERE invitee = '@carol:beta.test'").run(Date.now() - 1000);
      } finally {
        db.close();
      }
      // The expired invite that was never accepted: refused, and no longer listed.
      const refused = await beta.admin('POST', `/invites/${otherInvite.invite_id}/accept`, { user_id: '@carol:beta.test' });
      expect(refused.status).toBe(403);
      expect(refused.body).toMatchObject({ error: 'invite_expired' });
      expect((await invites()).map((i) => i.room_id)).not.toContain(other);
      // The one whose join was sent: still listed, and the retry joins (the host holds carol as joined).
      expect((await invites()).map((i) => i.room_id)).toContain(roomId);
      const retried = await beta.admin('POST', `/invites/${invite.invite_id}/accept`, { user_id: '@carol:beta.test' });
      expect(retried.status, JSON.stringify(retried.body)).toBe(200);
      expect((await beta.admin('GET', `/rooms/${enc(roomId)}`)).body.members).toContainEqual(expect.objectContaining({ user_id: '@carol:beta.test', membership: 'join' }));
    } finally {
      await pointBeta(alpha.started.federation_url!);
      await new Promise((resolve) => proxy.close(resolve));
    }
  }, 60_000);

  it('a page of the admin API\'s messages stays within the page budget; paging up gets every message once', async () => {
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'long bodies' })).body.room_id as string;
    const sent: string[] = [];
    // 264 messages of 16 KB (4,000 characters of 4 bytes), in requests under the admin API's 256 KB.
    for (let batch = 0; batch < 22; batch++) {
      const messages = Array.from({ length: 12 }, (_, i) => ({ body: `${batch * 12 + i} ${'😀'.repeat(3990)}` }));
      const answer = await alpha.admin('POST', `/rooms/${enc(roomId)}/messages/batch`, { messages });
      expect(answer.status, JSON.stringify(answer.body).slice(0, 300)).toBe(200);
      sent.push(...messages.map((m) => m.body));
    }
    const first = await alpha.admin('GET', `/rooms/${enc(roomId)}/messages?limit=500`);
    expect(first.status).toBe(200);
    expect(Buffer.byteLength(JSON.stringify(first.body))).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
    expect(first.body.has_more).toBe(true);
    expect(await allBodies(alpha, roomId)).toEqual(sent);
  }, 60_000);
});

describe('7. more than a page of events at one depth', () => {
  it('a caller that follows since_depth alone gets all 1,200, and "complete" only at the end', async () => {
    const { roomId, user } = await roomWithFriend('one depth');
    const depth = Date.now();
    const flood = Array.from({ length: 1_200 }, (_, i) => makeEvent(friend.identity, { room_id: roomId, sender: user, depth, origin_ts: depth, content: { body: `same depth ${i}` } }));
    await post(flood);
    const seen: string[] = [];
    let since = depth - 1;
    for (let page = 0; page < 20; page++) {
      const answer = await sendSigned(friend.identity, alpha.started.federation_url!, 'GET', `${FED}/events?room_id=${enc(roomId)}&since_depth=${since}&limit=500`);
      expect(answer.status).toBe(200);
      seen.push(...answer.body.events.map((e: Envelope) => e.event_id));
      if (answer.body.complete) break;
      since = answer.body.next_since_depth;
    }
    expect(new Set(seen).size).toBe(seen.length);
    expect(flood.filter((e) => !seen.includes(e.event_id))).toEqual([]);
  }, 60_000);

  it('a depth larger than a page: a node of ours that joins gets all 1,200 through the (depth, event_id) cursor', async () => {
    const { roomId, user } = await roomWithFriend('one big depth');
    const depth = Date.now();
    const flood = Array.from({ length: 1_200 }, (_, i) =>
      makeEvent(friend.identity, { room_id: roomId, sender: user, depth, origin_ts: depth, content: { body: `wide ${i}`, pad: 'y'.repeat(5_000) } }));
    await post(flood);
    expect(flood.reduce((n, e) => n + wire(e).length, 0)).toBeGreaterThan(MAX_RESPONSE_BYTES);
    await inviteAndJoin(alpha, roomId, beta, '@owner:beta.test');
    const expected = new Set(flood.map((e) => e.content.body as string));
    await eventually(async () => {
      const shown = (await allBodies(beta, roomId)).filter((b) => b.startsWith('wide '));
      expect(shown.length).toBe(1_200);
      expect(new Set(shown)).toEqual(expected);
    }, 60_000, 500);
  }, 120_000);
});
