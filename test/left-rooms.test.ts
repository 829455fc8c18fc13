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

    it('the cut is the end of the latest join: a ban after leaving, an invitation after it withdrawn, refused by a ban or still open do not move it', async () => {
      const bodies = (page: Page) => page.messages.map((m) => m.body);
      const samLeaves = async (roomId: string) => expect((await memberRequest(alpha.started.federation_url!, 'POST', `/rooms/${enc(roomId)}/leave`, { cookie: samCookie, body: {} })).status).toBe(200);
      const asSam = async (roomId: string) => ((await alpha.admin('GET', `/rooms/${enc(roomId)}/messages?user_id=${enc(SAM)}`)).body.messages as View[]).map((m) => m.body);

      // Left, then banned: the ban (a later `leave` row) is not where its reading ends.
      const roomId = (await alpha.admin('POST', '/rooms', { name: 'late ban' })).body.room_id as string;
      await inviteAndJoin(alpha, roomId, alpha, SAM);
      await ownerSends(roomId, 'before leave');
      await samLeaves(roomId);
      await ownerSends(roomId, 'SECRET after leave, before ban');
      expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(SAM)}/remove`, { ban: true, reason: 'spam' })).status).toBe(200);
      await ownerSends(roomId, 'after ban');
      expect(bodies(await samReads(roomId))).toEqual(['before leave']);
      expect(await asSam(roomId)).toEqual(['before leave']);
      expect(await samLists(roomId)).toMatchObject({ membership: 'ban', left: { by: ALPHA_OWNER, reason: 'spam' } });

      // Left, invited again: it reads up to its leave (it was 404), and so after the invitation is withdrawn or ends in a ban.
      const hall = (await alpha.admin('POST', '/rooms', { name: 'again' })).body.room_id as string;
      await inviteAndJoin(alpha, hall, alpha, SAM);
      await ownerSends(hall, 'before leave');
      await samLeaves(hall);
      await ownerSends(hall, 'SECRET after leave');
      expect((await alpha.admin('POST', `/rooms/${enc(hall)}/invites`, { user_id: SAM })).status).toBe(200);
      expect(bodies(await samReads(hall))).toEqual(['before leave']);
      expect(await asSam(hall)).toEqual(['before leave']);
      await ownerSends(hall, 'SECRET while invited');
      expect((await alpha.admin('POST', `/rooms/${enc(hall)}/members/${enc(SAM)}/remove`, {})).status).toBe(200);
      await ownerSends(hall, 'SECRET after the withdrawal');
      expect(bodies(await samReads(hall))).toEqual(['before leave']);
      expect(await asSam(hall)).toEqual(['before leave']);
      // What ended what it had is its own leave, not the withdrawal.
      expect(await samLists(hall)).toMatchObject({ membership: 'leave', left: { by: SAM } });
      expect((await alpha.admin('POST', `/rooms/${enc(hall)}/invites`, { user_id: SAM })).status).toBe(200);
      expect((await alpha.admin('POST', `/rooms/${enc(hall)}/members/${enc(SAM)}/remove`, { ban: true })).status).toBe(200);
      expect(bodies(await samReads(hall))).toEqual(['before leave']);
      // Unbanned, joined again, left again: now it reads up to that second leave.
      expect((await alpha.admin('DELETE', `/rooms/${enc(hall)}/bans/${enc(SAM)}`)).status).toBe(200);
      await inviteAndJoin(alpha, hall, alpha, SAM);
      await ownerSends(hall, 'while back');
      await samLeaves(hall);
      await ownerSends(hall, 'after the second leave');
      expect(bodies(await samReads(hall))).toEqual(['before leave', 'SECRET after leave', 'SECRET while invited', 'SECRET after the withdrawal', 'while back']);
    });

    it('a reader who left: nothing after its leave changes a `since` answer, only a deletion of a message from before (who deleted it not told)', async () => {
      const roomId = (await alpha.admin('POST', '/rooms', { name: 'quiet since' })).body.room_id as string;
      await inviteAndJoin(alpha, roomId, alpha, SAM);
      const old = await ownerSends(roomId, 'old one');
      const sent = await memberRequest(alpha.started.federation_url!, 'POST', `/rooms/${enc(roomId)}/messages`, { cookie: samCookie, body: { body: 'sam says' } });
      expect(sent.status, JSON.stringify(sent.body)).toBe(200);
      const own = sent.body.event_id as string;
      const reacted = await ownerSends(roomId, 'old two');
      await react(roomId, reacted, '👍');
      expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(SAM)}/remove`, { reason: 'quiet' })).status).toBe(200);
      const page = await samReads(roomId);
      expect(page.messages.map((m) => m.event_id)).toEqual([old, own, reacted]);

      // After: three messages, an edit and a reaction of old messages, a reaction taken back.
      const later = [await ownerSends(roomId, 'later 1'), await ownerSends(roomId, 'later 2'), await ownerSends(roomId, 'later 3')];
      expect((await alpha.admin('PATCH', `/rooms/${enc(roomId)}/messages/${enc(old)}`, { body: 'old one, changed' })).status).toBe(200);
      await react(roomId, reacted, '🎉');
      await react(roomId, reacted, '👍', 'DELETE');
      await react(roomId, later[0]!, '🔥');
      // Nothing changed for sam: not a whole page (it told how many were sent), not the old messages named (which were edited or reacted to).
      const quiet = await samReads(roomId, `?limit=1&since=${enc(page.cursor)}`);
      expect(quiet).toMatchObject({ changes: true, messages: [] });
      expect(await samReads(roomId, `?limit=50&since=${enc(page.cursor)}`)).toMatchObject({ changes: true, messages: [] });

      // A deletion of its own old message by the owner: shown, but not who deleted it (that was after).
      expect((await alpha.admin('DELETE', `/rooms/${enc(roomId)}/messages/${enc(own)}`, {})).status).toBe(200);
      const gone = await samReads(roomId, `?limit=1&since=${enc(quiet.cursor)}`);
      expect(gone.changes).toBe(true);
      expect(gone.messages).toHaveLength(1);
      expect(gone.messages[0]).toMatchObject({ event_id: own, deleted: true });
      expect(gone.messages[0]!.deleted_by).toBeUndefined();
      expect(gone.messages[0]!.body).toBeUndefined();
      // A deletion of a later message: nothing.
      expect((await alpha.admin('DELETE', `/rooms/${enc(roomId)}/messages/${enc(later[1]!)}`, {})).status).toBe(200);
      expect(await samReads(roomId, `?limit=1&since=${enc(gone.cursor)}`)).toMatchObject({ changes: true, messages: [] });
      // The whole page says the same: the old text, the reaction as it was, the deletion without who.
      const whole = await samReads(roomId);
      expect(whole.messages.map((m) => m.event_id)).toEqual([old, own, reacted]);
      expect(whole.messages[0]).toMatchObject({ body: 'old one', edited: false });
      expect(whole.messages[1]!.deleted_by).toBeUndefined();
      expect(whole.messages[2]).toMatchObject({ reactions: { '👍': [ALPHA_OWNER] } });
      // The owner, still in the room, is told who deleted it.
      expect(((await alpha.admin('GET', `/rooms/${enc(roomId)}/messages`)).body.messages as View[]).find((m) => m.event_id === own)).toMatchObject({ deleted: true, deleted_by: ALPHA_OWNER });
    });

    it('a reader who left sees senders under the names they had at its leave, not one taken at a join after it', async () => {
      const roomId = (await alpha.admin('POST', '/rooms', { name: 'names then' })).body.room_id as string;
      const LEE = `@lee:${ALPHA}`;
      const lee = await memberByLink(alpha, 'lee');
      const named = async (name: string) => expect((await memberRequest(alpha.started.federation_url!, 'PUT', '/me', { cookie: lee, body: { display_name: name } })).status).toBe(200);
      await named('Lee Before');
      await inviteAndJoin(alpha, roomId, alpha, LEE);
      await inviteAndJoin(alpha, roomId, alpha, SAM);
      const said = await memberRequest(alpha.started.federation_url!, 'POST', `/rooms/${enc(roomId)}/messages`, { cookie: lee, body: { body: 'from lee' } });
      expect(said.status).toBe(200);
      expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(SAM)}/remove`, {})).status).toBe(200);
      // lee leaves, takes another name, comes back: its join carries the new one.
      expect((await memberRequest(alpha.started.federation_url!, 'POST', `/rooms/${enc(roomId)}/leave`, { cookie: lee, body: {} })).status).toBe(200);
      await named('Lee After');
      await inviteAndJoin(alpha, roomId, alpha, LEE);
      const owners = (await alpha.admin('GET', `/rooms/${enc(roomId)}/messages`)).body.messages as Array<View & { sender_display_name?: string }>;
      expect(owners.find((m) => m.event_id === said.body.event_id)?.sender_display_name).toBe('Lee After');
      const sams = (await samReads(roomId)).messages as Array<View & { sender_display_name?: string }>;
      expect(sams.find((m) => m.event_id === said.body.event_id)?.sender_display_name).toBe('Lee Before');
    });

    it('a message of its own written before its node heard of the removal stays in its sight, refused; nobody else\'s after the removal', async () => {
      const roomId = (await alpha.admin('POST', '/rooms', { name: 'told late' })).body.room_id as string;
      await inviteAndJoin(alpha, roomId, beta, BETA_OWNER);
      await ownerSends(roomId, 'before the removal');
      await eventually(async () => expect((await beta.admin('GET', `/rooms/${enc(roomId)}/messages`)).body.messages?.length).toBe(1));
      // alpha holds its deliveries: beta hears of the removal only once they go on.
      expect((await alpha.admin('POST', '/federation/pause', {})).status).toBe(200);
      expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(BETA_OWNER)}/remove`, {})).status).toBe(200);
      const mine = (await beta.admin('POST', `/rooms/${enc(roomId)}/messages`, { body: 'written unaware' })).body.event_id as string;
      await ownerSends(roomId, 'said after the removal');
      expect((await alpha.admin('POST', '/federation/resume', {})).status).toBe(200);
      await eventually(async () => expect((await listed(beta, roomId))?.membership).toBe('leave'));
      await eventually(async () => {
        const messages = (await beta.admin('GET', `/rooms/${enc(roomId)}/messages`)).body.messages as Array<View & { delivery?: { state: string } }>;
        expect(messages.map((m) => m.body)).toEqual(['before the removal', 'written unaware']);
        expect(messages.find((m) => m.event_id === mine)?.delivery?.state).toBe('refused');
      }, 30_000);
    });

    it('a friend server\'s user removed by the host reads on its own node up to its removal, though its node still hears the room', async () => {
      const roomId = (await alpha.admin('POST', '/rooms', { name: 'abroad diary' })).body.room_id as string;
      const kit = `@kit:${BETA}`;
      await memberByLink(beta, 'kit');
      await inviteAndJoin(alpha, roomId, beta, BETA_OWNER);
      await inviteAndJoin(alpha, roomId, beta, kit);
      const before = await ownerSends(roomId, 'before the removal');
      await eventually(async () => expect((await beta.admin('GET', `/rooms/${enc(roomId)}/messages`)).body.messages?.length).toBe(1));
      expect((await alpha.admin('POST', `/rooms/${enc(roomId)}/members/${enc(BETA_OWNER)}/remove`, { reason: 'cool down' })).status).toBe(200);
      await eventually(async () => expect((await listed(beta, roomId))?.membership).toBe('leave'));
      const cut = (await beta.admin('GET', `/rooms/${enc(roomId)}/messages`)).body as Page;
      const after = await ownerSends(roomId, 'after the removal');
      // Changes after the removal to a message from before: an edit and a reaction.
      expect((await alpha.admin('PATCH', `/rooms/${enc(roomId)}/messages/${enc(before)}`, { body: 'before, changed after' })).status).toBe(200);
      await react(roomId, before, '🎉');
      // kit, still in the room, hears all of it on beta; beta's owner is not shown it.
      const kitReads = async () => (await beta.admin('GET', `/rooms/${enc(roomId)}/messages?user_id=${enc(kit)}`)).body.messages as View[];
      await eventually(async () => expect((await kitReads()).map((m) => [m.body, Object.keys(m.reactions)])).toEqual([['before, changed after', ['🎉']], ['after the removal', []]]));
      const whole = (await beta.admin('GET', `/rooms/${enc(roomId)}/messages`)).body as Page;
      expect(whole.messages.map((m) => [m.body, m.edited, Object.keys(m.reactions)])).toEqual([['before the removal', false, []]]);
      // Nor through changes since its last page: neither the later message nor what became of the old one.
      const since = (await beta.admin('GET', `/rooms/${enc(roomId)}/messages?since=${enc(cut.cursor)}&also=${enc(after)}`)).body as Page;
      expect(since.messages.map((m) => m.event_id)).not.toContain(after);
      for (const m of since.messages) expect([m.body, m.edited, Object.keys(m.reactions)]).toEqual(['before the removal', false, []]);
      const sinceOne = (await beta.admin('GET', `/rooms/${enc(roomId)}/messages?limit=1&since=${enc(cut.cursor)}`)).body as Page;
      expect(sinceOne.messages).toEqual([]);
    });
  });
});
