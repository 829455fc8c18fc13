/**
 * The admin API additions of issue #16 through the real HTTP listener: sessions (persisted,
 * revocable, only a hash stored), the message page (before cursor, has_more, what the viewer may
 * do, delivery of own messages), declining invites, previewing an invite link — and bad input to
 * each, which gets a 4xx JSON error and changes nothing.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startInProcessNode } from './helpers/in-process-node.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import { removeTempDirs } from './helpers/temp-dir.ts';

let alpha: Awaited<ReturnType<typeof startInProcessNode>>;
let beta: Awaited<ReturnType<typeof startInProcessNode>>;

beforeAll(async () => {
  alpha = await startInProcessNode('alpha.test');
  beta = await startInProcessNode('beta.test');
  await alpha.admin('POST', '/peers', { server_name: 'beta.test', endpoint: beta.started.federation_url });
  await beta.admin('POST', '/peers', { server_name: 'alpha.test', endpoint: alpha.started.federation_url });
});
afterAll(async () => {
  await alpha?.node.stop();
  await beta?.node.stop();
  removeTempDirs();
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

describe('invites and links (items 8, 9)', () => {
  it('declines an invite (gone from the list), and refuses unknown or malformed ids', async () => {
    const gamma = await startInProcessNode('gamma.test');
    try {
      const room = (await gamma.admin('POST', '/rooms', { name: 'to decline' })).body.room_id as string;
      await gamma.admin('POST', '/users', { localpart: 'friend' });
      await gamma.admin('POST', `/rooms/${encodeURIComponent(room)}/invites`, { user_id: '@friend:gamma.test' });
      const invite = (await gamma.admin('GET', '/invites?user_id=%40friend%3Agamma.test')).body.invites[0];
      expect((await gamma.admin('POST', `/invites/${invite.invite_id}/decline`, { user_id: '@owner:gamma.test' })).status).toBe(404);
      expect((await gamma.admin('POST', `/invites/${invite.invite_id}/decline`, { user_id: '@friend:gamma.test' })).body).toEqual({ declined: true });
      expect((await gamma.admin('GET', '/invites?user_id=%40friend%3Agamma.test')).body.invites).toEqual([]);
      expect((await gamma.admin('POST', `/invites/${invite.invite_id}/decline`, {})).status).toBe(404);
      expect((await gamma.admin('POST', '/invites/bogus/decline', {})).status).toBe(400);
    } finally {
      await gamma.node.stop();
    }
  });

  it('previews a link without redeeming it: who, with the key fingerprint; bad links are refused and nothing is stored', async () => {
    const link = (await alpha.admin('POST', '/invites/peer', {})).body.link as string;
    const delta = await startInProcessNode('delta.test');
    try {
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
    } finally {
      await delta.node.stop();
    }
  });

  it('resets a peer rate limit to the default with null', async () => {
    await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow', rate_limit: { per_second: 3, burst: 9 } });
    expect((await alpha.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'beta.test').rate_limit).toEqual({ per_second: 3, burst: 9 });
    await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow', rate_limit: null });
    expect((await alpha.admin('GET', '/peers')).body.peers.find((p: { server_name: string }) => p.server_name === 'beta.test').rate_limit).toBeNull();
    expect((await alpha.admin('PUT', '/peers/beta.test/trust', { mode: 'allow', rate_limit: { per_second: -1, burst: 9 } })).status).toBe(400);
  });
});
