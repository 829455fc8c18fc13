/**
 * Red team (2026-11-26): a role is room state, and state must not depend on the order events
 * arrived in (docs/PROTOCOL.md "State is derived so that it does not depend on arrival order"). A
 * moderator's server sent the moderator's own leave dated between their join and their promotion
 * (within the reorder window, so the host took it): the host, which had applied the promotion
 * while they were in, reset the role at the leave; a server applying the same events in display
 * order (one that joins later, from the join snapshot and catch-up) applied the promotion to a
 * user who had left, and the role survived their return. After an invite and a join, the host said
 * "member" and the newcomer "moderator".
 */
import { beforeAll, describe, expect, it, type InProcessNode } from '../helpers/fixtures.ts';
import { MEMBERSHIP_WIRE_ORDER, wireJson } from '../../main/core/federation/wire-json.ts';
import { makeEvent, wire } from '../helpers/events.ts';
import type { FakePeer } from '../helpers/fake-peer.ts';
import { enc, eventually, inviteAndJoin } from '../helpers/rooms.ts';
import { sendSigned } from '../helpers/signed-request.ts';

const FED = '/_paracord/federation/v1';
let alpha: InProcessNode;
let beta: InProcessNode;
let fake: FakePeer;

beforeAll(async ({ fileNodes }) => {
  fake = await fileNodes.fakePeer('sly.test');
  [alpha, beta] = await Promise.all([fileNodes.inProcess('alpha.test'), fileNodes.inProcess('beta.test')]);
  expect((await alpha.admin('POST', '/peers', { server_name: 'sly.test', endpoint: fake.url })).status).toBe(200);
  expect((await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: beta.started.federation_url })).status).toBe(200);
  expect((await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: alpha.started.federation_url })).status).toBe(200);
});

const X = '@x:sly.test';
const roleOf = async (node: InProcessNode, roomId: string, user: string) => {
  const room = await node.admin('GET', `/rooms/${enc(roomId)}`);
  expect(room.status, JSON.stringify(room.body)).toBe(200);
  return (room.body.members as Array<{ user_id: string; membership: string; role: string }>).find((m) => m.user_id === user);
};

/** X joins alpha's room (invited by alpha's owner) with a join 10 ms after the invite; its depth. */
async function join(roomId: string): Promise<number> {
  expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/invites`, { user_id: X })).status).toBe(200);
  await new Promise((r) => setTimeout(r, 10));
  const depth = Date.now();
  const event = makeEvent(fake.identity, { room_id: roomId, event_type: 'm.member.join', sender: X, state_key: X, content: { membership: 'join' }, depth });
  const body = wireJson({ origin_server: 'sly.test', room_id: roomId, user_id: X, event }, MEMBERSHIP_WIRE_ORDER);
  const joined = await sendSigned(fake.identity, alpha.started.federation_url!, 'POST', `${FED}/join`, body);
  expect(joined.status, JSON.stringify(joined.body)).toBe(200);
  return depth;
}

describe('red team: roles and the order events arrive in', () => {
  it('a promotion placed after its subject\'s leave gives no role: the host and a server joining later agree', async () => {
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'roles' })).body.room_id as string;
    const joinedAt = await join(roomId);
    await new Promise((r) => setTimeout(r, 200));
    const promoted = await alpha.admin('PUT', `/rooms/${enc(roomId)}/members/${enc(X)}/role`, { role: 'moderator' });
    expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
    expect(await roleOf(alpha, roomId, X)).toMatchObject({ membership: 'join', role: 'moderator' });

    // X's own leave, dated between the join and the promotion: within the window, taken.
    const leave = makeEvent(fake.identity, { room_id: roomId, event_type: 'm.member.leave', sender: X, state_key: X, content: { membership: 'leave' }, depth: joinedAt + 100 });
    const left = await sendSigned(fake.identity, alpha.started.federation_url!, 'POST', `${FED}/event`, wire(leave));
    expect(left.status, JSON.stringify(left.body)).toBe(202);
    await join(roomId);
    const atHost = await roleOf(alpha, roomId, X);
    expect(atHost).toMatchObject({ membership: 'join', role: 'member' }); // the leave ended the role

    // beta joins: it applies the same events in display order.
    await inviteAndJoin(alpha, roomId, beta, '@owner:beta.test');
    await eventually(async () => expect(await roleOf(beta, roomId, X)).toMatchObject({ membership: 'join' }));
    expect((await roleOf(beta, roomId, X))!.role, 'beta and the host disagree on X\'s role').toBe(atHost!.role);
  });
});
