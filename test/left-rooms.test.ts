/**
 * Rooms a user left, was removed or banned from, on the admin API (`GET /rooms`, `GET /rooms/:id`)
 * and the members' API, through two real in-process nodes peered on loopback: each such room is
 * still listed, with `membership` `leave` or `ban` (a ban said `leave` before) and `left` saying who
 * ended it and why, for a local member and for a friend server's user removed by the host. An
 * invitation withdrawn before any join ends nothing: no `left`, and a member does not list it.
 */
import { beforeAll, describe, expect, it, type InProcessNode } from './helpers/fixtures.ts';
import { memberByLink, memberRequest } from './helpers/member-client.ts';
import { enc, eventually, inviteAndJoin } from './helpers/rooms.ts';

const [ALPHA, BETA] = ['alpha.test', 'beta.test'];
const [SAM, ALPHA_OWNER, BETA_OWNER] = [`@sam:${ALPHA}`, `@owner:${ALPHA}`, `@owner:${BETA}`];
let alpha: InProcessNode, beta: InProcessNode, samCookie: string;

beforeAll(async ({ fileNodes }) => {
  const fast = { config: { retryInitialMs: 100, retryMaxMs: 400 }, graceMs: 1_000 };
  [alpha, beta] = await Promise.all([fileNodes.inProcess(ALPHA, fast), fileNodes.inProcess(BETA, fast)]);
  for (const [node, other, name] of [[alpha, beta, BETA], [beta, alpha, ALPHA]] as const) {
    expect((await node.admin('POST', '/peers', { server_name: name, endpoint: other.started.federation_url })).status).toBe(200);
  }
  samCookie = await memberByLink(alpha, 'sam');
});

type Listed = { room_id: string; membership: string | null; left?: { by: string; reason: string | null; at: number }; joined_members: number };
const listed = async (node: InProcessNode, roomId: string, userId?: string): Promise<Listed | undefined> => {
  const answer = await node.admin('GET', `/rooms${userId ? `?user_id=${enc(userId)}` : ''}`);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return (answer.body.rooms as Listed[]).find((r) => r.room_id === roomId);
};
const samLists = async (roomId: string): Promise<Listed | undefined> => {
  const answer = await memberRequest(alpha.started.federation_url!, 'GET', '/rooms', { cookie: samCookie });
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  return (answer.body.rooms as Listed[]).find((r) => r.room_id === roomId);
};

describe('rooms a user is no longer in', () => {
  it('a local member removed with a reason, then banned: listed with who and why, `ban` once banned', async () => {
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'club' })).body.room_id as string;
    await inviteAndJoin(alpha, roomId, alpha, SAM);
    expect((await listed(alpha, roomId, SAM))?.left).toBeUndefined();
    const before = Date.now();
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(SAM)}/remove`, { reason: 'cool down for a day' })).status).toBe(200);
    const removed = await listed(alpha, roomId, SAM);
    expect(removed).toMatchObject({ membership: 'leave', left: { by: ALPHA_OWNER, reason: 'cool down for a day' }, joined_members: 1 });
    expect(removed!.left!.at).toBeGreaterThanOrEqual(before - 1_000);
    // The member's own list keeps it, saying the same; the room itself stays closed to it.
    expect(await samLists(roomId)).toMatchObject({ membership: 'leave', left: { by: ALPHA_OWNER, reason: 'cool down for a day' } });
    expect((await memberRequest(alpha.started.federation_url!, 'GET', `/rooms/${enc(roomId)}/messages`, { cookie: samCookie })).status).toBe(404);

    const banned = (await alpha.admin('POST', '/rooms', { name: 'lounge' })).body.room_id as string;
    await inviteAndJoin(alpha, banned, alpha, SAM);
    expect((await alpha.admin('POST', `/rooms/${enc(banned)}/members/${enc(SAM)}/remove`, { ban: true, reason: 'spam' })).status).toBe(200);
    expect(await listed(alpha, banned, SAM)).toMatchObject({ membership: 'ban', left: { by: ALPHA_OWNER, reason: 'spam' } });
    expect((await alpha.admin('GET', `/rooms/${enc(banned)}?user_id=${enc(SAM)}`)).body).toMatchObject({ membership: 'ban', left: { by: ALPHA_OWNER, reason: 'spam' }, can_send: false });
    expect(await samLists(banned)).toMatchObject({ membership: 'ban', left: { by: ALPHA_OWNER, reason: 'spam' } });
    // Unbanned: no longer `ban`, the removal still said.
    expect((await alpha.admin('DELETE', `/rooms/${enc(banned)}/bans/${enc(SAM)}`)).status).toBe(200);
    expect(await listed(alpha, banned, SAM)).toMatchObject({ membership: 'leave', left: { by: ALPHA_OWNER } });
  });

  it('a user who left: `left.by` is the user; an invitation withdrawn before a join has no `left`', async () => {
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'hall' })).body.room_id as string;
    await inviteAndJoin(alpha, roomId, alpha, SAM);
    expect((await memberRequest(alpha.started.federation_url!, 'POST', `/rooms/${enc(roomId)}/leave`, { cookie: samCookie, body: {} })).status).toBe(200);
    expect(await samLists(roomId)).toMatchObject({ membership: 'leave', left: { by: SAM, reason: null } });

    const invited = (await alpha.admin('POST', '/rooms', { name: 'never joined' })).body.room_id as string;
    expect((await alpha.admin('POST', `/rooms/${enc(invited)}/invites`, { user_id: SAM })).status).toBe(200);
    expect((await alpha.admin('POST', `/rooms/${enc(invited)}/members/${enc(SAM)}/remove`, {})).status).toBe(200);
    const withdrawn = await listed(alpha, invited, SAM);
    expect(withdrawn?.membership).toBe('leave');
    expect(withdrawn?.left).toBeUndefined();
    expect(await samLists(invited)).toBeUndefined();
  });

  it('a friend server\'s user removed, then banned, by the host: its own node says so', async () => {
    const roomId = (await alpha.admin('POST', '/rooms', { name: 'abroad' })).body.room_id as string;
    await inviteAndJoin(alpha, roomId, beta, BETA_OWNER);
    await eventually(async () => expect((await listed(beta, roomId))?.membership).toBe('join'));
    expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(BETA_OWNER)}/remove`, { reason: 'cool down for a day' })).status).toBe(200);
    await eventually(async () => expect(await listed(beta, roomId)).toMatchObject({ membership: 'leave', left: { by: ALPHA_OWNER, reason: 'cool down for a day' } }));

    const banned = (await alpha.admin('POST', '/rooms', { name: 'abroad 2' })).body.room_id as string;
    await inviteAndJoin(alpha, banned, beta, BETA_OWNER);
    await eventually(async () => expect((await listed(beta, banned))?.membership).toBe('join'));
    expect((await alpha.admin('POST', `/rooms/${enc(banned)}/members/${enc(BETA_OWNER)}/remove`, { ban: true, reason: 'spam' })).status).toBe(200);
    await eventually(async () => expect(await listed(beta, banned)).toMatchObject({ membership: 'ban', left: { by: ALPHA_OWNER, reason: 'spam' } }));
    expect(await listed(alpha, banned, ALPHA_OWNER)).toMatchObject({ membership: 'join' });
    expect((await listed(alpha, banned, ALPHA_OWNER))?.left).toBeUndefined();
  });
});
