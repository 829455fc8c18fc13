/**
 * Display names in rooms (docs/PROTOCOL.md "Display names"), through two real in-process nodes
 * peered on loopback: a member of alpha who set a display name on their Account page joins a
 * room, and every node of the room — its host, a friend's node, and the member's own view on the
 * members' API — lists that name beside the member's id, for the member and for their messages.
 * The owner sets theirs on the admin API (/owner/profile), and the joins made after it carry it.
 * A peer's join whose display name is not one (empty, too long, bidi or invisible characters, not
 * a string) is refused at the edge like any other malformed content, and stores nothing.
 */
import { beforeAll, describe, expect, it, type InProcessNode, type Nodes } from './helpers/fixtures.ts';
import { MEMBERSHIP_WIRE_ORDER, wireJson } from '../main/core/federation/wire-json.ts';
import { makeEvent } from './helpers/events.ts';
import type { FakePeer } from './helpers/fake-peer.ts';
import { cookieOf, memberRequest } from './helpers/member-client.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { enc, eventually, inviteAndJoin, send } from './helpers/rooms.ts';
import { sendSigned } from './helpers/signed-request.ts';

const ALPHA = 'alpha.test';
const BETA = 'beta.test';
const SAM = `@sam:${ALPHA}`;
const BETA_OWNER = `@owner:${BETA}`;

let alpha: InProcessNode;
let beta: InProcessNode;
let samCookie: string;

const startNode = (nodes: Nodes, serverName: string) => nodes.inProcess(serverName, { config: { retryInitialMs: 100, retryMaxMs: 400 }, graceMs: 1_000 });

beforeAll(async ({ fileNodes }) => {
  alpha = await startNode(fileNodes, ALPHA);
  beta = await startNode(fileNodes, BETA);
  expect((await alpha.admin('POST', '/peers', { server_name: BETA, endpoint: beta.started.federation_url })).status).toBe(200);
  expect((await beta.admin('POST', '/peers', { server_name: ALPHA, endpoint: alpha.started.federation_url })).status).toBe(200);
  // Sam becomes a member of alpha by link and names themself on the Account page.
  const base = alpha.started.federation_url!;
  const link = await alpha.admin('POST', '/members/invites', { note: 'for Sam' });
  expect(link.status).toBe(200);
  const token = (link.body.link as string).split('/').pop()!;
  const joined = await memberRequest(base, 'POST', '/join', { body: { token, localpart: 'sam', passphrase: 'lantern orbit pickle seventeen' } });
  expect(joined.status, JSON.stringify(joined.body)).toBe(200);
  samCookie = cookieOf(joined)!;
  const named = await memberRequest(base, 'PUT', '/me', { cookie: samCookie, body: { display_name: '  Sam Smith ' } });
  expect(named.status, JSON.stringify(named.body)).toBe(200);
  expect(named.body.display_name).toBe('Sam Smith');
});

/** The room's members as `node` lists them: user id → display name (undefined: none). */
async function memberNames(node: InProcessNode, roomId: string): Promise<Record<string, string | undefined>> {
  const room = await node.admin('GET', `/rooms/${enc(roomId)}`);
  expect(room.status, JSON.stringify(room.body)).toBe(200);
  return Object.fromEntries((room.body.members as Array<{ user_id: string; display_name?: string }>).map((m) => [m.user_id, m.display_name]));
}

/** The sender's display name `node` gives beside the message `eventId`. */
async function senderName(node: InProcessNode, roomId: string, eventId: string): Promise<string | undefined> {
  const page = await node.admin('GET', `/rooms/${enc(roomId)}/messages?limit=50`);
  expect(page.status, JSON.stringify(page.body)).toBe(200);
  const message = (page.body.messages as Array<{ event_id: string; sender: string; sender_display_name?: string }>).find((m) => m.event_id === eventId);
  expect(message, `message ${eventId}`).toBeDefined();
  return message!.sender_display_name;
}

describe('a member with a display name joins a room', () => {
  it('in a room of its own server: the friend node lists the name for the member and their message', async () => {
    const { body } = await alpha.admin('POST', '/rooms', { name: 'names at home' });
    const roomId = body.room_id as string;
    await inviteAndJoin(alpha, roomId, beta, BETA_OWNER);
    await inviteAndJoin(alpha, roomId, alpha, SAM);
    const eventId = await send(alpha, roomId, 'hello from Sam zanzibar', SAM);
    // The join alpha made for Sam carries the name Sam set, as signed.
    const joins = queryNodeDb<{ content: string }>(alpha.dataDir, "SELECT content FROM federation_events WHERE room_id = ? AND event_type = 'm.member.join' AND state_key = ?", roomId, SAM);
    expect(joins.map((j) => JSON.parse(j.content).display_name)).toEqual(['Sam Smith']);
    for (const node of [alpha, beta]) {
      await eventually(async () => {
        expect((await memberNames(node, roomId))[SAM]).toBe('Sam Smith');
        expect(await senderName(node, roomId, eventId)).toBe('Sam Smith');
      });
      // Nobody else named themself: no name is made up for them.
      const names = await memberNames(node, roomId);
      expect(names[`@owner:${ALPHA}`]).toBeUndefined();
      expect(names[BETA_OWNER]).toBeUndefined();
    }
    // A search finds the message with the name beside its sender's id, on both nodes (beta's owner is in the room).
    for (const [node, userId] of [[alpha, SAM], [beta, BETA_OWNER]] as const) {
      const found = await node.admin('GET', `/search?q=zanzibar&user_id=${enc(userId)}&room_id=${enc(roomId)}`);
      expect(found.status, JSON.stringify(found.body)).toBe(200);
      expect(found.body.results).toEqual([expect.objectContaining({ event_id: eventId, sender: SAM, sender_display_name: 'Sam Smith' })]);
    }
    // Across all of a user's rooms too; a sender without a name has none made up.
    const owners = await alpha.admin('GET', `/search?q=zanzibar&user_id=${enc(`@owner:${ALPHA}`)}`);
    expect(owners.body.results).toEqual([expect.objectContaining({ event_id: eventId, sender_display_name: 'Sam Smith' })]);
    const ownEventId = await send(alpha, roomId, 'zanzibar from the owner');
    const both = await alpha.admin('GET', `/search?q=zanzibar&user_id=${enc(`@owner:${ALPHA}`)}`);
    expect((both.body.results as Array<Record<string, unknown>>).map((r) => [r.event_id, r.sender_display_name])).toEqual([[ownEventId, undefined], [eventId, 'Sam Smith']]);
    // Sam's own view, on the members' API, says the same.
    const own = await memberRequest(alpha.started.federation_url!, 'GET', `/rooms/${enc(roomId)}`, { cookie: samCookie });
    expect(own.status, JSON.stringify(own.body)).toBe(200);
    expect((own.body.members as Array<{ user_id: string; display_name?: string }>).find((m) => m.user_id === SAM)?.display_name).toBe('Sam Smith');
  });

  it("a friend node that joins later learns the name from the host's join answer", async () => {
    const { body } = await alpha.admin('POST', '/rooms', { name: 'names before' });
    const roomId = body.room_id as string;
    await inviteAndJoin(alpha, roomId, alpha, SAM);
    const eventId = await send(alpha, roomId, 'said before beta came', SAM);
    await inviteAndJoin(alpha, roomId, beta, BETA_OWNER);
    await eventually(async () => {
      expect((await memberNames(beta, roomId))[SAM]).toBe('Sam Smith');
      expect(await senderName(beta, roomId, eventId)).toBe('Sam Smith');
    });
  });

  it("in a friend's room: the join alpha signs for Sam carries the name to the host, which lists it", async () => {
    const { body } = await beta.admin('POST', '/rooms', { name: 'names abroad' });
    const roomId = body.room_id as string;
    await inviteAndJoin(beta, roomId, alpha, SAM);
    const eventId = await send(alpha, roomId, 'hello abroad', SAM);
    for (const node of [beta, alpha]) {
      await eventually(async () => {
        expect((await memberNames(node, roomId))[SAM]).toBe('Sam Smith');
        expect(await senderName(node, roomId, eventId)).toBe('Sam Smith');
      });
    }
  });
});

describe("the owner's display name", () => {
  it('is set on the admin API and carried by the joins made after it, in a friend\'s room and in a room the owner creates', async () => {
    expect((await beta.admin('GET', '/owner/profile')).body).toEqual({ user_id: BETA_OWNER, display_name: null });
    for (const bad of ['Bea\u202E', 'x'.repeat(101), '\u200B']) {
      const refused = await beta.admin('PUT', '/owner/profile', { display_name: bad });
      expect(refused.status, JSON.stringify(refused.body)).toBe(400);
    }
    const set = await beta.admin('PUT', '/owner/profile', { display_name: ' Bea Owner ' });
    expect(set.status, JSON.stringify(set.body)).toBe(200);
    expect(set.body).toEqual({ user_id: BETA_OWNER, display_name: 'Bea Owner' });
    expect((await beta.admin('GET', '/owner/profile')).body.display_name).toBe('Bea Owner');
    // A room of alpha that beta's owner joins now: alpha lists the name, for the member and their message.
    const { body } = await alpha.admin('POST', '/rooms', { name: 'owners' });
    const roomId = body.room_id as string;
    await inviteAndJoin(alpha, roomId, beta, BETA_OWNER);
    const eventId = await send(beta, roomId, 'hello from Bea');
    for (const node of [alpha, beta]) {
      await eventually(async () => {
        expect((await memberNames(node, roomId))[BETA_OWNER]).toBe('Bea Owner');
        expect(await senderName(node, roomId, eventId)).toBe('Bea Owner');
      });
    }
    // A room beta's owner creates: its first join carries the name too.
    const own = (await beta.admin('POST', '/rooms', { name: 'bea room' })).body.room_id as string;
    expect((await memberNames(beta, own))[BETA_OWNER]).toBe('Bea Owner');
    // Cleared: later joins carry none ('' and null both mean none).
    expect((await beta.admin('PUT', '/owner/profile', { display_name: '' })).body.display_name).toBeNull();
    const plain = (await beta.admin('POST', '/rooms', { name: 'plain room' })).body.room_id as string;
    expect((await memberNames(beta, plain))[BETA_OWNER]).toBeUndefined();
  });
});

describe("a peer's join with a display name", () => {
  let fake: FakePeer;
  let roomId: string;
  /** Joins' depths: after each other and after their invite (stamped with alpha's clock when made; the file may run long before this). */
  let depth = Date.now() + 10_000;

  beforeAll(async ({ fileNodes }) => {
    fake = await fileNodes.fakePeer('hostile.test');
    expect((await alpha.admin('POST', '/peers', { server_name: fake.serverName, endpoint: fake.url })).status).toBe(200);
    roomId = (await alpha.admin('POST', '/rooms', { name: 'names from a peer' })).body.room_id as string;
  });

  /** A signed join of `@localpart:hostile.test` (invited first) with this content; the host's answer. */
  async function joinWith(localpart: string, content: Record<string, unknown>) {
    const userId = `@${localpart}:${fake.serverName}`;
    const invited = await alpha.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: userId });
    expect(invited.status, JSON.stringify(invited.body)).toBe(200);
    const join = makeEvent(fake.identity, { room_id: roomId, event_type: 'm.member.join', sender: userId, state_key: userId, content: { membership: 'join', ...content }, depth: (depth = Math.max(depth + 100, Date.now() + 2_000)) });
    const body = wireJson({ origin_server: fake.serverName, room_id: roomId, user_id: userId, event: join }, MEMBERSHIP_WIRE_ORDER);
    return { userId, answer: await sendSigned(fake.identity, alpha.started.federation_url!, 'POST', '/_paracord/federation/v1/join', body) };
  }

  it('is refused when the name is empty, too long, not a string, or would display as something else', async () => {
    const bad: Array<[string, unknown]> = [
      ['empty', '   '],
      ['long', 'x'.repeat(101)],
      ['number', 42],
      ['bidi', 'Sam \u202Eevil'],
      ['invisible', '\u200B\u200B'],
      ['control', 'Sam\nSmith'],
    ];
    for (const [localpart, name] of bad) {
      const { userId, answer } = await joinWith(localpart, { display_name: name });
      expect(answer.status, `${localpart}: ${JSON.stringify(answer.body)}`).toBe(400);
      expect(answer.body).toMatchObject({ error: 'invalid_content' });
      expect(String((answer.body as { message?: string }).message)).toMatch(/display_name/);
      expect((await memberNames(alpha, roomId))[userId]).toBeUndefined();
      expect(queryNodeDb(alpha.dataDir, 'SELECT 1 FROM room_member_names WHERE user_id = ?', userId)).toEqual([]);
    }
  });

  it('is listed, trimmed, when it is a name (100 characters at most)', async () => {
    const { userId, answer } = await joinWith('fine', { display_name: ' Fine Name 🙂 ' });
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect((await memberNames(alpha, roomId))[userId]).toBe('Fine Name 🙂');
    const longest = await joinWith('longest', { display_name: 'y'.repeat(100) });
    expect(longest.answer.status, JSON.stringify(longest.answer.body)).toBe(200);
    expect((await memberNames(alpha, roomId))[longest.userId]).toBe('y'.repeat(100));
  });
});
