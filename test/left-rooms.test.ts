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
    // The member's own list keeps it, saying the same; its details stay closed to it (who is in it
    // now is not what it saw), its messages up to the removal it reads (below).
    expect(await samLists(roomId)).toMatchObject({ membership: 'leave', left: { by: ALPHA_OWNER, reason: 'cool down for a day' } });
    expect((await memberRequest(alpha.started.federation_url!, 'GET', `/rooms/${enc(roomId)}`, { cookie: samCookie })).status).toBe(404);

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

  describe('reading a room one left, was removed or banned from: its messages up to then, read-only', () => {
    type View = { event_id: string; body?: string; edited: boolean; deleted: boolean; deleted_by?: string; reactions: Record<string, string[]>; reaction_counts: Record<string, number>; can_edit?: boolean; can_delete?: boolean };
    type Page = { messages: View[]; has_more?: boolean; cursor: string; changes?: true };
    const samReads = async (roomId: string, query = ''): Promise<Page> => {
      const answer = await memberRequest(alpha.started.federation_url!, 'GET', `/rooms/${enc(roomId)}/messages${query}`, { cookie: samCookie });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      return answer.body as unknown as Page;
    };
    const ownerSends = async (roomId: string, body: string) => (await alpha.admin('POST', `/rooms/${enc(roomId)}/messages`, { body })).body.event_id as string;
    const react = async (roomId: string, eventId: string, key: string, method = 'PUT') => expect((await alpha.admin(method, `/rooms/${enc(roomId)}/messages/${enc(eventId)}/reactions/${enc(key)}`)).status).toBe(200);

    it('a removed member reads what was said before its removal, as it was then, deletions applied; nothing after', async () => {
      const roomId = (await alpha.admin('POST', '/rooms', { name: 'diary' })).body.room_id as string;
      await inviteAndJoin(alpha, roomId, alpha, SAM);
      const first = await ownerSends(roomId, 'hello sam');
      const own = (await memberRequest(alpha.started.federation_url!, 'POST', `/rooms/${enc(roomId)}/messages`, { cookie: samCookie, body: { body: 'hello owner' } })).body.event_id as string;
      const toEdit = await ownerSends(roomId, 'the plan as it was');
      const toDelete = await ownerSends(roomId, 'a slip of the tongue');
      const reacted = await ownerSends(roomId, 'react to this');
      await react(roomId, reacted, '👍');
      expect((await alpha.admin('PATCH', `/rooms/${enc(roomId)}/messages/${enc(toEdit)}`, { body: 'the plan, first fix' })).status).toBe(200);
      expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(SAM)}/remove`, { reason: 'cool down for a day' })).status).toBe(200);

      // After the removal: a message, an edit, reactions added and taken back, a deletion.
      const after = await ownerSends(roomId, 'said after sam was gone');
      expect((await alpha.admin('PATCH', `/rooms/${enc(roomId)}/messages/${enc(toEdit)}`, { body: 'the plan as changed later' })).status).toBe(200);
      await react(roomId, reacted, '🎉');
      await react(roomId, reacted, '👍', 'DELETE');
      await react(roomId, first, '🙈');
      expect((await alpha.admin('DELETE', `/rooms/${enc(roomId)}/messages/${enc(toDelete)}`, {})).status).toBe(200);

      const page = await samReads(roomId);
      expect(page.messages.map((m) => m.event_id)).toEqual([first, own, toEdit, toDelete, reacted]);
      expect(page.has_more).toBe(false);
      const byId = new Map(page.messages.map((m) => [m.event_id, m]));
      expect(byId.get(first)).toMatchObject({ body: 'hello sam', edited: false, deleted: false, reactions: {}, reaction_counts: {} });
      // The edit made before the removal shows; the one after does not.
      expect(byId.get(toEdit)).toMatchObject({ body: 'the plan, first fix', edited: true, deleted: false });
      // A deletion is applied whenever it was made: the message is gone for everyone.
      expect(byId.get(toDelete)).toMatchObject({ deleted: true, edited: false });
      expect(byId.get(toDelete)!.body).toBeUndefined();
      // The reactions as they were at the removal: 👍 still there, 🎉 not yet.
      expect(byId.get(reacted)).toMatchObject({ reactions: { '👍': [ALPHA_OWNER] }, reaction_counts: { '👍': 1 } });
      // Read-only: nothing offered.
      for (const m of page.messages) expect(m).toMatchObject({ can_edit: false, can_delete: false });
      expect(JSON.stringify(page)).not.toContain('said after');
      expect(JSON.stringify(page)).not.toContain('changed later');

      // The same through every way of paging: before a later message, a short page, the one above it, changes since a cursor.
      expect((await samReads(roomId, `?before=${enc(after)}`)).messages.map((m) => m.event_id)).toEqual([first, own, toEdit, toDelete, reacted]);
      const short = await samReads(roomId, '?limit=2');
      expect(short).toMatchObject({ has_more: true });
      expect(short.messages.map((m) => m.event_id)).toEqual([toDelete, reacted]);
      expect((await samReads(roomId, `?limit=2&before=${enc(toDelete)}`)).messages.map((m) => m.event_id)).toEqual([own, toEdit]);
      const later = await ownerSends(roomId, 'said even later');
      await react(roomId, reacted, '🔥');
      const since = await samReads(roomId, `?since=${enc(page.cursor)}&also=${enc(later)}`);
      expect(since.messages.map((m) => m.event_id)).not.toContain(later);
      expect(since.messages.map((m) => m.event_id)).not.toContain(after);
      for (const m of since.messages) expect(m.reactions['🔥']).toBeUndefined();

      // The owner reading as sam (the admin API's user_id) is shown the same.
      const asSam = await alpha.admin('GET', `/rooms/${enc(roomId)}/messages?user_id=${enc(SAM)}`);
      expect((asSam.body.messages as View[]).map((m) => m.event_id)).toEqual([first, own, toEdit, toDelete, reacted]);
      // The owner, still in the room, reads all of it.
      const all = await alpha.admin('GET', `/rooms/${enc(roomId)}/messages`);
      expect((all.body.messages as View[]).map((m) => m.event_id)).toEqual([first, own, toEdit, toDelete, reacted, after, later]);

      // Nothing can be done there: sending, reacting, editing, deleting answer as before (404 room_not_found).
      const refused = [
        await memberRequest(alpha.started.federation_url!, 'POST', `/rooms/${enc(roomId)}/messages`, { cookie: samCookie, body: { body: 'let me back' } }),
        await memberRequest(alpha.started.federation_url!, 'POST', `/rooms/${enc(roomId)}/messages/batch`, { cookie: samCookie, body: { messages: [{ body: 'let me back' }] } }),
        await memberRequest(alpha.started.federation_url!, 'PUT', `/rooms/${enc(roomId)}/messages/${enc(first)}/reactions/${enc('👍')}`, { cookie: samCookie, body: {} }),
        await memberRequest(alpha.started.federation_url!, 'PATCH', `/rooms/${enc(roomId)}/messages/${enc(own)}`, { cookie: samCookie, body: { body: 'changed' } }),
        await memberRequest(alpha.started.federation_url!, 'DELETE', `/rooms/${enc(roomId)}/messages/${enc(own)}`, { cookie: samCookie, body: {} }),
      ];
      for (const answer of refused) expect({ status: answer.status, error: answer.body.error }).toEqual({ status: 404, error: 'room_not_found' });
      expect((await samReads(roomId)).messages.map((m) => m.event_id)).toEqual([first, own, toEdit, toDelete, reacted]);

      // Search finds nothing of a room it is no longer in (only rooms one is in are searched), before or after.
      const searched = await memberRequest(alpha.started.federation_url!, 'GET', '/search?q=hello', { cookie: samCookie });
      expect(searched.status).toBe(200);
      expect((searched.body.results as Array<{ room_id: string }>).filter((r) => r.room_id === roomId)).toEqual([]);
      expect((await memberRequest(alpha.started.federation_url!, 'GET', `/search?q=hello&room_id=${enc(roomId)}`, { cookie: samCookie })).status).toBe(404);
    });

    it('a banned member and one who left read up to their ban or leave; a member never in the room, or only invited, gets 404', async () => {
      const roomId = (await alpha.admin('POST', '/rooms', { name: 'banned diary' })).body.room_id as string;
      await inviteAndJoin(alpha, roomId, alpha, SAM);
      const before = await ownerSends(roomId, 'before the ban');
      expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(SAM)}/remove`, { ban: true, reason: 'spam' })).status).toBe(200);
      await ownerSends(roomId, 'after the ban');
      expect((await samReads(roomId)).messages.map((m) => m.body)).toEqual(['before the ban']);
      expect((await memberRequest(alpha.started.federation_url!, 'PUT', `/rooms/${enc(roomId)}/messages/${enc(before)}/reactions/${enc('👍')}`, { cookie: samCookie, body: {} })).status).toBe(404);

      const hall = (await alpha.admin('POST', '/rooms', { name: 'left diary' })).body.room_id as string;
      await inviteAndJoin(alpha, hall, alpha, SAM);
      await ownerSends(hall, 'before sam left');
      expect((await memberRequest(alpha.started.federation_url!, 'POST', `/rooms/${enc(hall)}/leave`, { cookie: samCookie, body: {} })).status).toBe(200);
      await ownerSends(hall, 'after sam left');
      expect((await samReads(hall)).messages.map((m) => m.body)).toEqual(['before sam left']);

      // kim, a member of this server never in these rooms; then invited to one and the invitation withdrawn.
      const kim = await memberByLink(alpha, 'kim');
      for (const room of [roomId, hall]) {
        const answer = await memberRequest(alpha.started.federation_url!, 'GET', `/rooms/${enc(room)}/messages`, { cookie: kim });
        expect({ status: answer.status, error: answer.body.error }).toEqual({ status: 404, error: 'room_not_found' });
      }
      expect((await alpha.admin('POST', `/rooms/${enc(hall)}/invites`, { user_id: `@kim:${ALPHA}` })).status).toBe(200);
      expect((await alpha.admin('POST', `/rooms/${enc(hall)}/members/${enc(`@kim:${ALPHA}`)}/remove`, {})).status).toBe(200);
      expect((await memberRequest(alpha.started.federation_url!, 'GET', `/rooms/${enc(hall)}/messages`, { cookie: kim })).status).toBe(404);
    });

    it('a friend server\'s user removed by the host reads on its own node up to its removal, though its node still hears the room', async () => {
      const roomId = (await alpha.admin('POST', '/rooms', { name: 'abroad diary' })).body.room_id as string;
      const kit = `@kit:${BETA}`;
      await memberByLink(beta, 'kit');
      await inviteAndJoin(alpha, roomId, beta, BETA_OWNER);
      await inviteAndJoin(alpha, roomId, beta, kit);
      await ownerSends(roomId, 'before the removal');
      await eventually(async () => expect((await beta.admin('GET', `/rooms/${enc(roomId)}/messages`)).body.messages?.length).toBe(1));
      expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(BETA_OWNER)}/remove`, { reason: 'cool down' })).status).toBe(200);
      await eventually(async () => expect((await listed(beta, roomId))?.membership).toBe('leave'));
      await ownerSends(roomId, 'after the removal');
      // kit, still in the room, hears it on beta; beta's owner is not shown it.
      await eventually(async () => expect(((await beta.admin('GET', `/rooms/${enc(roomId)}/messages?user_id=${enc(kit)}`)).body.messages as View[]).map((m) => m.body)).toEqual(['before the removal', 'after the removal']));
      expect(((await beta.admin('GET', `/rooms/${enc(roomId)}/messages`)).body.messages as View[]).map((m) => m.body)).toEqual(['before the removal']);
    });
  });
});
