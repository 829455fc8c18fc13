/**
 * Red team (issue 37 item 3, "a host planting members of our server"): a host's join snapshot
 * listed users of OUR server as joined — one who does not exist, one who never joined — and the
 * node believed it; the planted member then kept a room our last user had left open to the host's
 * pushes. The same through a pushed m.member.join the host made for one of our users. Now what
 * another server says of our users' membership is never taken (RoomStore.takes): it is what this
 * node did. The host's word about its own users is still taken, and a real host's room works.
 */
import { beforeAll, describe, expect, it } from '../helpers/fixtures.ts';
import type { Envelope } from '../../main/core/federation/envelope.ts';
import { makeEvent, wire } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { startInProcessNode } from '../helpers/in-process-node.ts';
import { enc, eventually, inviteAndJoin } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';

const FED = '/_paracord/federation/v1';

let alpha: Awaited<ReturnType<typeof startInProcessNode>>;
let beta: Awaited<ReturnType<typeof startInProcessNode>>;
let host: FakePeer;

beforeAll(async ({ fileNodes }) => {
  host = await fileNodes.fakePeer('plant.test', { roomHost: true });
  [alpha, beta] = await Promise.all([fileNodes.inProcess('alpha.test'), fileNodes.inProcess('beta.test')]);
  expect((await alpha.admin('POST', '/peers', { server_name: 'plant.test', endpoint: host.url })).status).toBe(200);
  expect((await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: beta.started.federation_url })).status).toBe(200);
  expect((await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: alpha.started.federation_url })).status).toBe(200);
  expect((await alpha.admin('POST', '/users', { localpart: 'bob' })).status).toBe(200);
});


const members = async (node: typeof alpha, roomId: string): Promise<Record<string, string>> => {
  const room = await node.admin('GET', `/rooms/${enc(roomId)}`);
  expect(room.status, JSON.stringify(room.body)).toBe(200);
  return Object.fromEntries((room.body.members as Array<{ user_id: string; membership: string }>).map((m) => [m.user_id, m.membership]));
};

/** A member row as a host's snapshot lists it. */
const row = (user_id: string, membership: string, role = 'member') => ({
  user_id, membership, role, invite_expires_at: null, event_id: `$m${Math.random().toString(36).slice(2)}:plant.test`, event_depth: Date.now() + 5_000, event_origin: 'plant.test',
});

const push = (event: Envelope) => sendSigned(host.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(event));

describe('red team: a host reports users of our server as members', () => {
  it('a snapshot listing our absent and non-existent users is not believed; its own users are; the room we leave stays closed', async () => {
    const roomId = '!planted:plant.test';
    host.snapshotMembers = () => [
      row('@ghost:alpha.test', 'join', 'owner'), // no such user here
      row('@bob:alpha.test', 'join'), // a real user who never joined
      row('@owner:alpha.test', 'leave'), // and our joining user "gone"
      row('@someone:plant.test', 'join'), // the host's own user: its word
    ];
    const hello = makeEvent(host.identity, { room_id: roomId, content: { body: 'welcome from the host' } });
    host.snapshotEvents = () => [hello];
    expect((await host.invite(alpha.started.federation_url!, roomId, '@owner:alpha.test')).status).toBe(200);
    const invite = (await alpha.admin('GET', '/invites')).body.invites.find((i: any) => i.room_id === roomId);
    const accepted = await alpha.admin('POST', `/invites/${invite.invite_id}/accept`);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(200);

    const listed = await members(alpha, roomId);
    expect(listed['@owner:alpha.test']).toBe('join'); // what alpha did: its own join
    expect(listed['@someone:plant.test']).toBe('join'); // the legitimate part of the snapshot
    expect(listed['@ghost:alpha.test']).toBeUndefined();
    expect(listed['@bob:alpha.test']).toBeUndefined();
    const shown = (await alpha.admin('GET', `/rooms/${enc(roomId)}/messages`)).body.messages.map((m: any) => m.body);
    expect(shown).toContain('welcome from the host');

    // A join the host made for one of our users (not signed by us) plants nobody either.
    const forged = makeEvent(host.identity, {
      room_id: roomId, event_type: 'm.member.join', sender: '@someone:plant.test', state_key: '@bob:alpha.test', content: { membership: 'join', role: 'owner' },
    });
    await push(forged);
    expect((await members(alpha, roomId))['@bob:alpha.test']).toBeUndefined();
    // While our user is in, the host's messages arrive.
    expect((await push(makeEvent(host.identity, { room_id: roomId, content: { body: 'while joined' } }))).status).toBe(202);

    // Our last user leaves: the room is closed to the host, whatever it claimed.
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/leave`)).status).toBe(200);
    const after = makeEvent(host.identity, { room_id: roomId, content: { body: 'after you left' } });
    const refused = await push(after);
    expect(refused.body, JSON.stringify(refused.body)).toMatchObject({ error: 'not_joined' });
    expect(refused.status).toBe(403);
    const still = (await alpha.admin('GET', `/rooms/${enc(roomId)}/messages`)).body.messages.map((m: any) => m.body);
    expect(still).not.toContain('after you left');
  });

  it('a real host: both our users join, each one\'s leave counts, and the room closes after the last', async () => {
    const roomId = (await beta.admin('POST', '/rooms', { name: 'real host' })).body.room_id as string;
    await inviteAndJoin(beta, roomId, alpha, '@owner:alpha.test');
    // Bob joins second: beta's snapshot lists alpha's owner as joined (taken from alpha's own join, not the report).
    await inviteAndJoin(beta, roomId, alpha, '@bob:alpha.test');
    expect(await members(alpha, roomId)).toMatchObject({ '@owner:alpha.test': 'join', '@bob:alpha.test': 'join', '@owner:beta.test': 'join' });
    expect((await beta.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'to both' })).status).toBe(200);
    await eventually(async () => expect((await alpha.admin('GET', `/rooms/${enc(roomId)}/messages`)).body.messages.map((m: any) => m.body)).toContain('to both'));

    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/leave`)).status).toBe(200);
    expect((await beta.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'bob is still here' })).status).toBe(200);
    // Read as bob, still in the room (the owner, who left, reads it up to its leave: README "Members").
    await eventually(async () => expect((await alpha.admin('GET', `/rooms/${enc(roomId)}/messages?user_id=${enc('@bob:alpha.test')}`)).body.messages.map((m: any) => m.body)).toContain('bob is still here'));

    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/leave`, { user_id: '@bob:alpha.test' })).status).toBe(200);
    await eventually(async () => expect((await members(beta, roomId))['@bob:alpha.test']).toBe('leave'));
    expect(await members(alpha, roomId)).toMatchObject({ '@owner:alpha.test': 'leave', '@bob:alpha.test': 'leave' });
  });
});
