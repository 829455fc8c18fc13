/**
 * The admin API additions of issue #16 through the real HTTP listener: sessions (persisted,
 * revocable, only a hash stored), the message page (before cursor, has_more, what the viewer may
 * do, delivery of own messages), declining invites, previewing an invite link — and bad input to
 * each, which gets a 4xx JSON error and changes nothing.
 */
import { request } from 'undici';
import { beforeAll, describe, expect, it, type InProcessNode } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { eventually } from './helpers/rooms.ts';
import { closedPort } from './helpers/closed-port.ts';

let alpha: InProcessNode;
let beta: InProcessNode;

beforeAll(async ({ fileNodes }) => {
  alpha = await fileNodes.inProcess('alpha.test');
  beta = await fileNodes.inProcess('beta.test');
  await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: beta.started.federation_url });
  await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: alpha.started.federation_url });
});

async function login(node: typeof alpha): Promise<string> {
  const { login_url } = (await node.admin('POST', '/login-links', {})).body as { login_url: string };
  const response = await request(login_url, { headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0 Safari/537.36' } });
  await response.body.dump();
  expect(response.statusCode).toBe(302);
  const cookie = String(response.headers['set-cookie']).match(/paracord_session=([^;]+)/)![1]!;
  return cookie;
}
const withCookie = (node: typeof alpha, cookie: string, method: string, path: string) =>
  node.admin(method, path, method === 'GET' ? undefined : {}, { authorization: '', cookie: `paracord_session=${cookie}`, 'x-paracord-request': '1' });

describe('sessions (item 1)', () => {
  it('are stored as a hash, listed with the current one marked, revocable, and signing out ends only this one', async () => {
    const first = await login(alpha);
    const second = await login(alpha);
    const stored = queryNodeDb<{ id: string; token_hash: Buffer }>(alpha.dataDir, 'SELECT id, token_hash FROM admin_sessions WHERE revoked_at IS NULL');
    expect(stored.length).toBeGreaterThanOrEqual(2);
    for (const row of stored) expect(row.token_hash.length).toBe(32);
    const listed = await withCookie(alpha, first, 'GET', '/sessions');
    expect(listed.status).toBe(200);
    const sessions = listed.body.sessions as Array<{ id: string; current: boolean; user_agent: string }>;
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    expect(JSON.stringify(listed.body)).not.toContain(first);

    const out = await withCookie(alpha, first, 'POST', '/logout');
    expect(out).toMatchObject({ status: 200, body: { signed_out: true } });
    expect(String(out.headers['set-cookie'])).toMatch(/paracord_session=;/);
    expect((await withCookie(alpha, first, 'GET', '/status')).status).toBe(401);
    expect((await withCookie(alpha, second, 'GET', '/status')).status).toBe(200);

    const other = (await alpha.admin('GET', '/sessions')).body.sessions.find((s: { current: boolean }) => !s.current) as { id: string };
    expect((await alpha.admin('DELETE', `/sessions/${other.id}`)).body).toEqual({ revoked: true });
    expect((await alpha.admin('DELETE', `/sessions/${other.id}`)).body).toEqual({ revoked: false });
  });

  it('refuse bad ids and a cookie-less logout changes nothing', async () => {
    const before = queryNodeDb<{ n: number }>(alpha.dataDir, 'SELECT COUNT(*) AS n FROM admin_sessions WHERE revoked_at IS NULL')[0]!.n;
    const bad = await alpha.admin('DELETE', '/sessions/not-a-session');
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_input');
    expect((await alpha.admin('POST', '/logout', {})).body).toEqual({ signed_out: false });
    expect((await alpha.admin('POST', '/logout', { extra: 1 })).status).toBe(400);
    expect(queryNodeDb<{ n: number }>(alpha.dataDir, 'SELECT COUNT(*) AS n FROM admin_sessions WHERE revoked_at IS NULL')[0]!.n).toBe(before);
  });
});

describe('the message page (items 5, 6, 7)', () => {
  it('pages backwards with before, says has_more, and tells what the viewer may do and how delivery went', async () => {
    const room = (await alpha.admin('POST', '/rooms', { name: 'paging' })).body.room_id as string;
    const path = `/rooms/${encodeURIComponent(room)}`;
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) ids.push((await alpha.admin('POST', `${path}/messages`, { body: `m${i}` })).body.event_id);
    const latest = (await alpha.admin('GET', `${path}/messages?limit=3`)).body;
    expect(latest.messages.map((m: { body: string }) => m.body)).toEqual(['m4', 'm5', 'm6']);
    expect(latest.has_more).toBe(true);
    const older = (await alpha.admin('GET', `${path}/messages?limit=3&before=${encodeURIComponent(ids[4]!)}`)).body;
    expect(older.messages.map((m: { body: string }) => m.body)).toEqual(['m1', 'm2', 'm3']);
    expect(older.has_more).toBe(true);
    const oldest = (await alpha.admin('GET', `${path}/messages?limit=3&before=${encodeURIComponent(ids[1]!)}`)).body;
    expect(oldest.messages.map((m: { body: string }) => m.body)).toEqual(['m0']);
    expect(oldest.has_more).toBe(false);
    // Own messages: editable and deletable; delivered (no other server in the room).
    expect(latest.messages[0]).toMatchObject({ can_edit: true, can_delete: true, delivery: { state: 'delivered', pending_servers: [], refused: [] } });

    // beta joins; beta's owner may not edit or delete alpha's message, and may edit its own.
    await alpha.admin('POST', `${path}/invites`, { user_id: '@owner:beta.test' });
    const invite = (await beta.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === room);
    expect((await beta.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
    const own = (await beta.admin('POST', `${path}/messages`, { body: 'from beta' })).body.event_id as string;
    const seen = (await beta.admin('GET', `${path}/messages?limit=50`)).body.messages as Array<{ event_id: string; body: string; can_edit: boolean; can_delete: boolean }>;
    expect(seen.find((m) => m.body === 'm6')).toMatchObject({ can_edit: false, can_delete: false });
    expect(seen.find((m) => m.event_id === own)).toMatchObject({ can_edit: true, can_delete: true });
    // The room's owner on alpha may delete beta's message (moderator) but not edit it.
    await expect.poll(async () => ((await alpha.admin('GET', `${path}/messages?limit=50`)).body.messages as Array<{ event_id: string }>).some((m) => m.event_id === own), { timeout: 10_000 }).toBe(true);
    const onAlpha = ((await alpha.admin('GET', `${path}/messages?limit=50`)).body.messages as Array<{ event_id: string }>).find((m) => m.event_id === own);
    expect(onAlpha).toMatchObject({ can_edit: false, can_delete: true });
    expect(onAlpha).not.toHaveProperty('delivery'); // not sent from alpha

    // beta pauses federation (takes nothing in): alpha's next message waits for it, by name.
    await beta.admin('POST', '/federation/pause', {});
    const waiting = (await alpha.admin('POST', `${path}/messages`, { body: 'are you there' })).body.event_id as string;
    await expect
      .poll(async () => ((await alpha.admin('GET', `${path}/messages?limit=50`)).body.messages as Array<{ event_id: string; delivery?: { state: string; pending_servers: string[] } }>).find((m) => m.event_id === waiting)?.delivery, { timeout: 10_000 })
      .toMatchObject({ state: 'waiting', pending_servers: ['beta.test'] });
    // Only the sending server's own pause says "nothing is tried" on its pages.
    expect((await alpha.admin('GET', `${path}/messages?limit=50`)).body).not.toHaveProperty('sending_paused');
    expect((await beta.admin('GET', `${path}/messages?limit=50`)).body).toMatchObject({ sending_paused: true });
    // alpha's owner quarantines beta: nothing is sent to it, so the page names it held (not being tried); allowed, it is not.
    const deliveryOf = async () => ((await alpha.admin('GET', `${path}/messages?limit=50`)).body.messages as Array<{ event_id: string; delivery?: { held?: string[] } }>).find((m) => m.event_id === waiting)?.delivery;
    // Tried and refused (beta is paused): the error shows while it is being sent; held, an error from before the hold does not.
    await expect.poll(async () => ((await deliveryOf()) as { last_error?: string | null } | undefined)?.last_error ?? null, { timeout: 10_000 }).not.toBeNull();
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'quarantine' })).status).toBe(200);
    expect(await deliveryOf()).toMatchObject({ state: 'waiting', pending_servers: ['beta.test'], held: ['beta.test'], last_error: null });
    const queued = (await alpha.admin('GET', '/queue?destination=beta.test')).body.entries as Array<{ event_id: string; waiting: string }>;
    expect(queued.find((e) => e.event_id === waiting)?.waiting).toBe('held: nothing is sent to beta.test until you allow it');
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow' })).status).toBe(200);
    expect((await deliveryOf())?.held).toBeUndefined();
  });

  it('says a message went to nobody when no other server was in the room as it was sent, by the room\'s history, not by who is in it now', async () => {
    const room = (await alpha.admin('POST', '/rooms', { name: 'to whom' })).body.room_id as string;
    const path = `/rooms/${encodeURIComponent(room)}`;
    type Delivery = { state: string; to_nobody?: true };
    const deliveries = async () =>
      new Map(((await alpha.admin('GET', `${path}/messages?limit=50`)).body.messages as Array<{ body: string; delivery?: Delivery }>).map((m) => [m.body, m.delivery]));
    // The test before left beta paused.
    expect((await beta.admin('POST', '/federation/resume', {})).status).toBe(200);
    await alpha.admin('POST', `${path}/messages`, { body: 'alone' });
    expect((await deliveries()).get('alone')).toEqual({ state: 'delivered', pending_servers: [], refused: [], next_attempt_at: null, last_error: null, to_nobody: true });

    await alpha.admin('POST', `${path}/invites`, { user_id: '@owner:beta.test' });
    const invite = (await beta.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === room) as { invite_id: string };
    expect((await beta.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
    await alpha.admin('POST', `${path}/messages`, { body: 'with beta' });
    await expect.poll(async () => (await deliveries()).get('with beta')?.state, { timeout: 10_000 }).toBe('delivered');
    expect((await deliveries()).get('with beta')).not.toHaveProperty('to_nobody');
    // Someone joining later does not make the first message delivered to them.
    expect((await deliveries()).get('alone')?.to_nobody).toBe(true);

    // beta takes nothing in; the owner drops the entry: not delivered there, in words, not "delivered".
    expect((await beta.admin('POST', '/federation/pause', {})).status).toBe(200);
    const dropped = (await alpha.admin('POST', `${path}/messages`, { body: 'dropped' })).body.event_id as string;
    const entry = await eventually(async () => {
      const entries = (await alpha.admin('GET', '/queue?destination=beta.test')).body.entries as Array<{ id: number; event_id: string }>;
      const found = entries.find((e) => e.event_id === dropped);
      expect(found).toBeDefined();
      return found!;
    }, 10_000);
    // Its id in any other spelling than decimal digits is refused, and drops nothing (a review
    // 2026-12-01: `0x…` and `1e…` were read by Number()).
    for (const spelling of [`0x${entry.id.toString(16)}`, `${entry.id}e0`, `+${entry.id}`, `0${entry.id}`]) {
      const refused = await alpha.admin('DELETE', `/queue/${spelling}`);
      expect([refused.status, refused.body.error], spelling).toEqual([400, 'invalid_input']);
    }
    expect((await alpha.admin('DELETE', `/queue/${entry.id}`)).body).toEqual({ dropped: true });
    expect((await deliveries()).get('dropped')).toMatchObject({ state: 'refused', pending_servers: [], refused: [{ server: 'beta.test', reason: 'dropped' }] });
    expect((await deliveries()).get('dropped')).not.toHaveProperty('to_nobody');
    expect((await beta.admin('POST', '/federation/resume', {})).status).toBe(200);

    // beta leaves: what it got stays delivered; what is sent after goes to nobody again.
    expect((await beta.admin('POST', `${path}/leave`, {})).status).toBe(200);
    await expect
      .poll(async () => ((await alpha.admin('GET', path)).body.members as Array<{ user_id: string; membership: string }>).find((m) => m.user_id === '@owner:beta.test')?.membership, { timeout: 10_000 })
      .toBe('leave');
    await alpha.admin('POST', `${path}/messages`, { body: 'after beta left' });
    const after = await deliveries();
    expect(after.get('with beta')).toMatchObject({ state: 'delivered' });
    expect(after.get('with beta')).not.toHaveProperty('to_nobody');
    expect(after.get('after beta left')).toMatchObject({ state: 'delivered', to_nobody: true });
    expect(after.get('alone')?.to_nobody).toBe(true);
  });

  it('refuses a bad or foreign before cursor with a 4xx JSON error', async () => {
    const room = (await alpha.admin('POST', '/rooms', { name: 'cursor' })).body.room_id as string;
    const bad = await alpha.admin('GET', `/rooms/${encodeURIComponent(room)}/messages?before=nonsense`);
    expect(bad.status).toBe(400);
    expect(bad.body.error).toBe('invalid_input');
    const unknown = await alpha.admin('GET', `/rooms/${encodeURIComponent(room)}/messages?before=${encodeURIComponent('$nope:alpha.test')}`);
    expect(unknown).toMatchObject({ status: 404, body: { error: 'unknown_event' } });
  });
});

describe('changes since a cursor (issue #17: the open room reads only what changed)', () => {
  type View = { event_id: string; body: string; reactions: Record<string, string[]>; edited?: boolean; can_edit: boolean; can_delete: boolean; delivery?: { state: string } };
  type Answer = { messages: View[]; cursor: string; changes?: true; has_more?: boolean };

  it('answers with the new messages and those an edit, delete or reaction named, in display order, rights and delivery included', async () => {
    expect((await beta.admin('POST', '/federation/resume', {})).status).toBe(200); // paused by the test above
    const room = (await alpha.admin('POST', '/rooms', { name: 'changes' })).body.room_id as string;
    const path = `/rooms/${encodeURIComponent(room)}`;
    const list = async (query: string) => (await alpha.admin('GET', `${path}/messages?${query}`)).body as Answer;
    const first = (await alpha.admin('POST', `${path}/messages`, { body: 'first' })).body.event_id as string;
    const second = (await alpha.admin('POST', `${path}/messages`, { body: 'second' })).body.event_id as string;
    const untouched = (await alpha.admin('POST', `${path}/messages`, { body: 'untouched' })).body.event_id as string;
    await alpha.admin('POST', `${path}/invites`, { user_id: '@owner:beta.test' });
    const invite = (await beta.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === room);
    expect((await beta.admin('POST', `/invites/${invite.invite_id}/accept`)).status).toBe(200);
    await expect.poll(async () => (await alpha.admin('GET', path)).body.joined_members, { timeout: 10_000 }).toBe(2);

    const page = await list('limit=50');
    expect(page.changes).toBeUndefined();
    expect(page.cursor).toMatch(/^\d+-\d+$/);
    // Nothing since: an empty list of changes, and the same cursor.
    expect(await list(`since=${page.cursor}`)).toEqual({ room_id: room, messages: [], cursor: page.cursor, changes: true });

    const third = (await alpha.admin('POST', `${path}/messages`, { body: 'third' })).body.event_id as string;
    const fromBeta = (await beta.admin('POST', `${path}/messages`, { body: 'from beta' })).body.event_id as string;
    expect((await alpha.admin('PATCH', `${path}/messages/${encodeURIComponent(first)}`, { body: 'first, edited' })).status).toBe(200);
    expect((await beta.admin('PUT', `${path}/messages/${encodeURIComponent(second)}/reactions/${encodeURIComponent('👍')}`)).status).toBe(200);
    await expect.poll(async () => (await list('limit=50')).messages.find((m) => m.event_id === second)?.reactions['👍'], { timeout: 10_000 }).toEqual(['@owner:beta.test']);
    await expect.poll(async () => (await list('limit=50')).messages.some((m) => m.event_id === fromBeta), { timeout: 10_000 }).toBe(true);

    const changed = await list(`since=${page.cursor}`);
    expect(changed.changes).toBe(true);
    expect(changed.has_more).toBeUndefined();
    // Display order, as the whole page shows them; the untouched message is not in it.
    const whole = (await list('limit=50')).messages;
    expect(changed.messages.map((m) => m.event_id)).toEqual(whole.map((m) => m.event_id).filter((id) => id !== untouched));
    expect(changed.messages.map((m) => m.event_id)).toEqual(expect.arrayContaining([first, second, third, fromBeta]));
    // Each exactly as the whole page shows it (rights, reactions, edits, delivery).
    for (const message of changed.messages) expect(message).toEqual(whole.find((m) => m.event_id === message.event_id));
    expect(changed.messages.find((m) => m.event_id === first)).toMatchObject({ body: 'first, edited', edited: true, can_edit: true });
    expect(changed.messages.find((m) => m.event_id === fromBeta)).toMatchObject({ can_edit: false, can_delete: true });
    expect(changed.cursor).not.toBe(page.cursor);
    expect((await list(`since=${changed.cursor}`)).messages).toEqual([]);

    // also: named messages come back even unchanged (own messages whose delivery changed); another room's are not shown.
    const other = (await alpha.admin('POST', '/rooms', { name: 'elsewhere' })).body.room_id as string;
    const foreign = (await alpha.admin('POST', `/rooms/${encodeURIComponent(other)}/messages`, { body: 'elsewhere' })).body.event_id as string;
    const cursor = (await list('limit=1')).cursor;
    const withAlso = await list(`since=${cursor}&also=${encodeURIComponent(untouched)},${encodeURIComponent(foreign)}`);
    expect(withAlso).toMatchObject({ changes: true });
    expect(withAlso.messages.map((m) => m.event_id)).toEqual([untouched]);
    expect(withAlso.messages[0]).toMatchObject({ body: 'untouched', delivery: { state: 'delivered' } });
  });

  it('answers with the whole newest page when it cannot tell: a membership or role changed, too many changes, a cursor of another run or ahead of the events', async () => {
    const room = (await alpha.admin('POST', '/rooms', { name: 'fallback' })).body.room_id as string;
    const path = `/rooms/${encodeURIComponent(room)}`;
    const list = async (query: string) => (await alpha.admin('GET', `${path}/messages?${query}`)).body as Answer;
    for (let i = 0; i < 3; i++) await alpha.admin('POST', `${path}/messages`, { body: `m${i}` });
    const start = (await list('limit=2')).cursor;
    for (let i = 3; i < 6; i++) await alpha.admin('POST', `${path}/messages`, { body: `m${i}` });
    // Three changed, the limit is two: the newest page, with has_more.
    const tooMany = await list(`limit=2&since=${start}`);
    expect(tooMany.changes).toBeUndefined();
    expect(tooMany.messages.map((m) => m.body)).toEqual(['m4', 'm5']);
    expect(tooMany.has_more).toBe(true);
    expect((await list(`limit=3&since=${start}`)).changes).toBe(true);

    // An invitation (a membership event) may change what the viewer may do with any message.
    const before = (await list('limit=50')).cursor;
    await alpha.admin('POST', `/users`, { localpart: 'carol' });
    expect((await alpha.admin('POST', `${path}/invites`, { user_id: '@carol:alpha.test' })).status).toBe(200);
    const afterInvite = await list(`since=${before}`);
    expect(afterInvite.changes).toBeUndefined();
    expect(afterInvite.messages).toHaveLength(6);

    const [rowid, epoch] = (await list('limit=1')).cursor.split('-') as [string, string];
    const otherEpoch = `${rowid}-${(Number(epoch) % 2 ** 31) + 1}`;
    expect((await list(`since=${otherEpoch}`)).changes).toBeUndefined();
    expect((await list(`since=${Number(rowid) + 1000}-${epoch}`)).changes).toBeUndefined();
    expect((await list(`since=${rowid}-${epoch}`)).changes).toBe(true);
  });

  it('refuses a malformed cursor, since with before, also without since or with bad or too many ids, with a 400 JSON error', async () => {
    const room = (await alpha.admin('POST', '/rooms', { name: 'bad cursors' })).body.room_id as string;
    const path = `/rooms/${encodeURIComponent(room)}/messages`;
    const id = (await alpha.admin('POST', path, { body: 'x' })).body.event_id as string;
    const cursor = ((await alpha.admin('GET', path)).body as Answer).cursor;
    const ids = Array.from({ length: 101 }, () => id).join(',');
    for (const query of [
      'since=nonsense', 'since=1', 'since=-1-1', `since=${'9'.repeat(16)}-1`, 'since=1-12345678901', `since=${encodeURIComponent(`${cursor}\n`)}`,
      `since=${cursor}&before=${encodeURIComponent(id)}`, `also=${encodeURIComponent(id)}`,
      `since=${cursor}&also=nonsense`, `since=${cursor}&also=${encodeURIComponent(ids)}`, `since=${cursor}&also=`,
    ]) {
      const answer = await alpha.admin('GET', `${path}?${query}`);
      expect(answer.status, query).toBe(400);
      expect(answer.body, query).toMatchObject({ error: 'invalid_input', message: expect.any(String) });
    }
  });
});

describe('invites and links (items 8, 9)', () => {
  it('declines an invite (gone from the list), and refuses unknown or malformed ids', async ({ nodes }) => {
    const gamma = await nodes.inProcess('gamma.test');
    const room = (await gamma.admin('POST', '/rooms', { name: 'to decline' })).body.room_id as string;
    await gamma.admin('POST', '/users', { localpart: 'friend' });
    await gamma.admin('POST', `/rooms/${encodeURIComponent(room)}/invites`, { user_id: '@friend:gamma.test' });
    const invite = (await gamma.admin('GET', '/invites?user_id=%40friend%3Agamma.test')).body.invites[0];
    expect((await gamma.admin('POST', `/invites/${invite.invite_id}/decline`, { user_id: '@owner:gamma.test' })).status).toBe(404);
    expect((await gamma.admin('POST', `/invites/${invite.invite_id}/decline`, { user_id: '@friend:gamma.test' })).body).toEqual({ declined: true });
    expect((await gamma.admin('GET', '/invites?user_id=%40friend%3Agamma.test')).body.invites).toEqual([]);
    expect((await gamma.admin('POST', `/invites/${invite.invite_id}/decline`, {})).status).toBe(404);
    expect((await gamma.admin('POST', '/invites/bogus/decline', {})).status).toBe(400);
  });

  it('previews a link without redeeming it: who, with the key fingerprint; bad links are refused and nothing is stored', async ({ nodes }) => {
    const link = (await alpha.admin('POST', '/invites/peer', {})).body.link as string;
    const delta = await nodes.inProcess('delta.test');
    const preview = await delta.admin('POST', '/invites/peer/preview', { link });
    expect(preview.status).toBe(200);
    expect(preview.body).toMatchObject({ server_name: 'alpha.test', already_peer: false, key_fingerprint: (await alpha.admin('GET', '/status')).body.key_fingerprint });
    expect(preview.body.key_fingerprint).toMatch(/^([0-9A-F]{2}:){15}[0-9A-F]{2}$/);
    expect((await delta.admin('GET', '/peers')).body.peers).toEqual([]);
    expect((await alpha.admin('GET', '/invites/peer')).body.invites.find((i: { state: string }) => i.state === 'active')).toBeDefined();
    const damaged = await delta.admin('POST', '/invites/peer/preview', { link: `${link.slice(0, -4)}AAAA` });
    expect(damaged.status).toBe(400);
    expect(damaged.body.error).toBe('invalid_link');
    expect((await alpha.admin('POST', '/invites/peer/preview', { link })).body.error).toBe('invalid_link'); // own link
    expect((await delta.admin('POST', '/invites/peer/preview', { link: '' })).status).toBe(400);
    expect((await delta.admin('GET', '/peers')).body.peers).toEqual([]);
    expect(preview.body.already_peered_with_key).toBe(false);
    // Once peered, a link of that server with the key we hold says so (a user trial: checking a link
    // already used read as a fresh one, and only peering said it was used).
    expect((await delta.admin('POST', '/invites/peer/redeem', { link })).status).toBe(200);
    const again = await delta.admin('POST', '/invites/peer/preview', { link });
    expect(again.body).toMatchObject({ already_peer: true, already_peered_with_key: true });
  });

  it('a friend\'s server that cannot be reached: 502 {error, message} as ever, with why (reason) and who (server), whether redeeming its link, accepting its invite or inviting its user', async ({ nodes }) => {
    const delta = await nodes.inProcess('delta.test');
    // On ports of their own (closed-port.ts): once they stop, no other test's node is given them.
    const epsilon = await nodes.inProcess('epsilon.test', { listen: `127.0.0.1:${await closedPort()}` });
    await delta.admin('POST', '/peers', { server_name: 'epsilon.test', endpoint: epsilon.started.federation_url });
    await epsilon.admin('POST', '/peers', { server_name: 'delta.test', endpoint: delta.started.federation_url });
    const room = (await epsilon.admin('POST', '/rooms', { name: 'on epsilon' })).body.room_id as string;
    expect((await epsilon.admin('POST', `/rooms/${encodeURIComponent(room)}/invites`, { user_id: '@owner:delta.test' })).status).toBe(200);
    const invite = await eventually(async () => {
      const found = (await delta.admin('GET', '/invites')).body.invites.find((i: { room_id: string }) => i.room_id === room) as { invite_id: string } | undefined;
      expect(found).toBeDefined();
      return found!;
    });
    const ours = (await delta.admin('POST', '/rooms', { name: 'on delta' })).body.room_id as string;
    const zeta = await nodes.inProcess('zeta.test', { listen: `127.0.0.1:${await closedPort()}` });
    const link = (await zeta.admin('POST', '/invites/peer', {})).body.link as string;
    // Both stop: nothing listens at their ports any more.
    await epsilon.node.stop();
    await zeta.node.stop();

    const unreachable = (server: string) => ({ error: 'peer_unreachable', message: expect.stringMatching(new RegExp(`^${server.replace(/\./g, '\\.')} could not be reached: .*ECONNREFUSED`)), reason: 'refused', server });
    const accepted = await delta.admin('POST', `/invites/${invite.invite_id}/accept`);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(502);
    expect(accepted.body).toEqual(unreachable('epsilon.test'));
    const invited = await delta.admin('POST', `/rooms/${encodeURIComponent(ours)}/invites`, { user_id: '@owner:epsilon.test' });
    expect(invited.status, JSON.stringify(invited.body)).toBe(502);
    expect(invited.body).toEqual(unreachable('epsilon.test'));
    const redeemed = await delta.admin('POST', '/invites/peer/redeem', { link });
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(502);
    expect(redeemed.body).toEqual(unreachable('zeta.test'));
    expect((await delta.admin('GET', '/peers')).body.peers.map((p: { server_name: string }) => p.server_name)).toEqual(['epsilon.test']);
  });

  it('resets a peer rate limit to the default with null', async () => {
    await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow', rate_limit: { per_second: 3, burst: 9 } });
    expect((await alpha.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'beta.test').rate_limit).toEqual({ per_second: 3, burst: 9 });
    await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow', rate_limit: null });
    expect((await alpha.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'beta.test').rate_limit).toBeNull();
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow', rate_limit: { per_second: -1, burst: 9 } })).status).toBe(400);
  });
});
