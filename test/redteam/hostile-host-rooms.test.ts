/**
 * Red team (2026-11-26), native rooms with a hostile host: what a server that hosts a room one of
 * our users joined can do to our users elsewhere. A relation (edit, delete, reaction) is about a
 * message of its own room: the host authorizes that for rooms it hosts (authorize.ts
 * `targetMessage`), but a member applies what its host relays without authorizing it. The
 * timeline folded relations per room, while search and unread counts looked for deletes of a
 * message in every room: a delete relayed in the hostile host's room, naming a message of
 * another room, hid that message from our user's search and unread count there.
 */
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import type { Envelope } from '../../main/core/federation/envelope.ts';
import { makeEvent, wire } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import type { InProcessNode } from '../helpers/fixtures.ts';
import { adminApi } from '../helpers/admin-api.ts';
import { enc, eventually } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';

const FED = '/_paracord/federation/v1';

let alpha: InProcessNode;
let host: FakePeer;

beforeAll(async ({ fileNodes }) => {
  host = await fileNodes.fakePeer('evilhost.test', { roomHost: true });
  alpha = await fileNodes.inProcess('alpha.test');
  expect((await alpha.admin('POST', '/peers', { server_name: 'evilhost.test', endpoint: host.url })).status).toBe(200);
  expect((await alpha.admin('POST', '/users', { localpart: 'bob' })).status).toBe(200);
});

const push = (event: Envelope) => sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(event));

/** Our owner joins a room the hostile server hosts. */
async function joinHostileRoom(roomId: string): Promise<void> {
  expect((await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test')).status).toBe(200);
  const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: any) => i.room_id === roomId);
  const accepted = await alpha.admin('POST', `/invites/${invite.invite_id}/accept`);
  expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);
}

const unreadIn = async (node: InProcessNode, roomId: string) => {
  const rooms = (await node.admin('GET', '/rooms')).body.rooms as Array<{ room_id: string; unread?: number; mentions?: number }>;
  return rooms.find((r) => r.room_id === roomId);
};

describe('red team: a hostile host of another room', () => {
  it('a delete it relays in its own room, naming a message of another room, hides nothing there (search, unread, timeline)', async () => {
    // Room A: ours; bob writes to the owner, who has not read it yet.
    const roomA = (await adminApi(alpha).createRoom({ name: 'ours' })).room_id;
    await adminApi(alpha).inviteToRoom({ room_id: roomA, user_id: '@bob:alpha.test' });
    const bobInvite = (await adminApi(alpha).listInvites({ user_id: '@bob:alpha.test' })).invites.find((i) => i.room_id === roomA)!;
    await adminApi(alpha).acceptInvite({ invite_id: bobInvite.invite_id, user_id: '@bob:alpha.test' });
    const secret = (await adminApi(alpha).sendMessage({ room_id: roomA, body: 'zebracrossing at noon @owner', user_id: '@bob:alpha.test' })).event_id;
    const search = async () => (await alpha.admin('GET', `/search?q=zebracrossing`)).body.results.map((r: any) => r.event_id);
    await eventually(async () => expect(await search()).toEqual([secret]));
    expect(await unreadIn(alpha, roomA)).toMatchObject({ unread: 1, mentions: 1 });

    // Room B: the hostile host's. It relays, in room B, a delete of its own user naming room A's message.
    const roomB = '!b:evilhost.test';
    await joinHostileRoom(roomB);
    const sneaky = makeEvent(host.identity, {
      room_id: roomB, event_type: 'm.message.delete', sender: '@owner:evilhost.test', content: { target: secret },
    });
    const pushed = await push(sneaky);
    // Whether a member refuses it or stores it as a no-op, room A must not change.
    expect([202, 400, 403, 404]).toContain(pushed.status);
    const shown = (await alpha.admin('GET', `/rooms/${enc(roomA)}/messages`)).body.messages.find((m: any) => m.event_id === secret);
    expect(shown).toMatchObject({ deleted: false, body: 'zebracrossing at noon @owner' });
    // Give the search index its moment to fold the new event in, then ask.
    await new Promise((r) => setTimeout(r, 400));
    expect(await search()).toEqual([secret]);
    expect(await unreadIn(alpha, roomA)).toMatchObject({ unread: 1, mentions: 1 });
  });
});

describe('red team: what a host relays is shaped as the room types say', () => {
  it('a relayed message whose body is not text does not break the room page (pushed, or in the join snapshot)', async () => {
    const roomId = '!shapes:evilhost.test';
    host.snapshotEvents = () => [makeEvent(host.identity, { room_id: roomId, content: { body: 7 } })];
    await joinHostileRoom(roomId);
    host.snapshotEvents = () => [];
    const before = await alpha.admin('GET', `/rooms/${enc(roomId)}/messages`);
    expect(before.status).toBe(200);
    for (const content of [{ body: 42 }, { body: { text: 'x' } }, { body: ['a'] }, { body: null }]) {
      const pushed = await push(makeEvent(host.identity, { room_id: roomId, content: content as Record<string, unknown> }));
      expect(pushed.body, JSON.stringify(pushed.body)).toMatchObject({ error: 'invalid_content' });
    }
    const page = await alpha.admin('GET', `/rooms/${enc(roomId)}/messages`);
    expect(page.status, JSON.stringify(page.body)).toBe(200);
    for (const m of page.body.messages) if (!m.deleted) expect(typeof m.body).toBe('string');
  });
});
