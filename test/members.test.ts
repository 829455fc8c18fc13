/**
 * Members (issue #34) through the real listeners of one in-process node on 127.0.0.1: the owner
 * invites on the admin API; the person joins with the link on the federation listener, signs in
 * with a cookie and chats in a room the owner invited them to — and may do nothing else: every
 * owner-only operation of the admin contract is refused on the client API, a member cookie opens
 * nothing on the admin API, another user's id, a room they are not in, a cross-site request, a
 * guessed passphrase (limited per account and per real client address behind a trusted proxy),
 * a used link and a disabled member's session are all refused.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { request } from 'undici';
import WebSocket from 'ws';
import { pino } from 'pino';
import { vi } from 'vitest';
import { beforeAll, describe, expect, it, type InProcessNode } from './helpers/fixtures.ts';
import { queryNodeDb } from './helpers/inspect-db.ts';
import Database from 'better-sqlite3';
const enc = encodeURIComponent;
import { LOG_LINES_PER_WINDOW } from '../main/core/log/rate-limit.ts';
import { adminOperations, memberUse, CLIENT_API_PREFIX, CLIENT_STREAM_PATH, ADMIN_API_PREFIX, ADMIN_STREAM_NOTIFICATIONS, type AdminOperationName } from '../shared/contract/admin-operations.ts';
import { REPO_ROOT } from './helpers/node-process.ts';
import { MEMBER_APP_PATH } from '../main/core/client/client-app.ts';
import { SoftAuthenticator } from './helpers/soft-authenticator.ts';
import { cookieOf, memberRequest, type MemberAnswer, type MemberRequestOptions } from './helpers/member-client.ts';

const SERVER = 'home.test';
const SAM = `@sam:${SERVER}`;
const OWNER = `@owner:${SERVER}`;
const PASSPHRASE = 'lantern orbit pickle seventeen';

let home: InProcessNode;
let base: string;
/** The node's log lines (warnings and up), as the owner's log file would have them. */
const logged: Array<Record<string, unknown>> = [];
let origin: string;

beforeAll(async ({ fileNodes }) => {
  home = await fileNodes.inProcess(SERVER, {
    log: pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line) as Record<string, unknown>) }),
    // Requests from this process come from 127.0.0.1: as a trusted proxy, its X-Forwarded-For names the client.
    config: { trustedProxies: ['127.0.0.1'], signInLimits: { perAccount: 3, perAddress: 4, windowMs: 10 * 60_000, confirmGapMs: 0 }, maxRoomsPerMember: 5 },
  });
  base = home.started.federation_url!;
  origin = new URL(base).origin;
});

type Answer = MemberAnswer;

/** A request to the client API as a browser page of this origin would make it (Origin set), with the member's cookie if given. */
const client = (method: string, path: string, options: MemberRequestOptions & { at?: string } = {}): Promise<Answer> => memberRequest(options.at ?? base, method, path, options);

async function memberLink(): Promise<string> {
  const created = await home.admin('POST', '/members/invites', { note: 'for Sam' });
  expect(created.status).toBe(200);
  expect(created.body.link).toMatch(new RegExp(`^${base}/app/#/join/[A-Za-z0-9_-]+$`));
  return (created.body.link as string).split('/').pop()!;
}

/** The device cookie an answer sets. */
const deviceOf = (answer: Answer) => String(answer.headers['set-cookie']).match(/paracord_device=([^;]*)/)?.[1];

async function signIn(localpart: string, passphrase: string, from = '198.51.100.1'): Promise<Answer> {
  return client('POST', '/sign-in', { body: { localpart, passphrase }, from });
}

let sam: string;
let roomId: string;

describe('a member joins by link and chats', () => {
  it('joins once with the link, over the federation listener, and gets a session cookie', async () => {
    const token = await memberLink();
    expect((await client('POST', '/links/look-up', { body: { token } })).body).toEqual({ purpose: 'join', user_id: null, server_name: SERVER });
    // Never in a path (an access log on the way keeps paths): the old GET answers nothing.
    expect([404, 405]).toContain((await client('GET', `/links/${token}`)).status);
    expect((await client('POST', '/links/look-up', { body: { token, more: 1 } })).body.error).toBe('invalid_input');
    const joined = await client('POST', '/join', { body: { token, localpart: 'sam', passphrase: PASSPHRASE } });
    expect(joined.status).toBe(200);
    expect(joined.body).toEqual({ user_id: SAM });
    const setCookie = String(joined.headers['set-cookie']);
    expect(setCookie).toMatch(/httponly/i);
    expect(setCookie).toMatch(/samesite=strict/i);
    expect(setCookie).not.toMatch(/secure/i); // plain HTTP here (--insecure-http)
    sam = cookieOf(joined)!;
    const me = await client('GET', '/me', { cookie: sam });
    expect(me.body).toEqual({ user_id: SAM, display_name: null, server_name: SERVER, may_create_rooms: true, secure: false });
    // The link works once.
    const again = await client('POST', '/join', { body: { token, localpart: 'sam2', passphrase: PASSPHRASE } });
    expect(again.status).toBe(404);
    expect(again.body.error).toBe('link_unusable');
    expect((await client('POST', '/links/look-up', { body: { token } })).status).toBe(404);
    const listed = (await home.admin('GET', '/members')).body.members as Array<{ user_id: string; sessions: number }>;
    expect(listed).toMatchObject([{ user_id: SAM, sessions: 1, disabled: false, passkeys: 0 }]);
    expect((await home.admin('GET', '/status')).body.members_signed_in).toBe(1);
  });

  it('accepts the owner\'s room invitation, lists its rooms, sends a message the owner sees', async () => {
    roomId = (await home.admin('POST', '/rooms', { name: 'Family' })).body.room_id as string;
    expect((await home.admin('POST', `/rooms/${roomId}/invites`, { user_id: SAM })).status).toBe(200);
    const invites = (await client('GET', '/invites', { cookie: sam })).body.invites as Array<{ invite_id: string; room_id: string }>;
    expect(invites).toMatchObject([{ room_id: roomId }]);
    expect((await client('POST', `/invites/${invites[0]!.invite_id}/accept`, { cookie: sam, body: {} })).status).toBe(200);
    const rooms = await client('GET', '/rooms', { cookie: sam });
    expect(rooms.body.rooms).toMatchObject([{ room_id: roomId, name: 'Family', membership: 'join' }]);
    const sent = await client('POST', `/rooms/${roomId}/messages`, { cookie: sam, body: { body: 'hello from my phone' } });
    expect(sent.status).toBe(200);
    const seen = (await home.admin('GET', `/rooms/${roomId}/messages`)).body.messages as Array<{ sender: string; body: string }>;
    expect(seen.at(-1)).toMatchObject({ sender: SAM, body: 'hello from my phone' });
    const room = await client('GET', `/rooms/${roomId}`, { cookie: sam });
    expect(room.body).toMatchObject({ room_id: roomId, membership: 'join', can_send: true });
    // The delivery of its own messages only: the owner's (whom it waits for, who refused it and why) is the owner's (before: every message's).
    expect((await home.admin('POST', `/rooms/${roomId}/messages`, { body: 'from the owner' })).status).toBe(200);
    const page = (await client('GET', `/rooms/${roomId}/messages`, { cookie: sam })).body.messages as Array<{ sender: string; body: string; delivery?: unknown }>;
    expect(page.map((m) => [m.body, m.delivery !== undefined])).toEqual([['hello from my phone', true], ['from the owner', false]]);
    expect(((await home.admin('GET', `/rooms/${roomId}/messages`)).body.messages as Array<{ delivery?: unknown }>).every((m) => m.delivery !== undefined)).toBe(true);
  });

  it('acts only as itself: another user in the acting field is refused', async () => {
    expect((await client('GET', `/rooms?user_id=${encodeURIComponent(OWNER)}`, { cookie: sam })).body.error).toBe('not_yours');
    const asOwner = await client('POST', `/rooms/${roomId}/messages`, { cookie: sam, body: { body: 'as the owner', user_id: OWNER } });
    expect(asOwner.status).toBe(403);
    expect(asOwner.body.error).toBe('not_yours');
    const invite = await client('POST', `/rooms/${roomId}/invites`, { cookie: sam, body: { user_id: OWNER, inviter: OWNER } });
    expect(invite.body.error).toBe('not_yours');
    expect(((await home.admin('GET', `/rooms/${roomId}/messages`)).body.messages as Array<{ body: string }>).map((m) => m.body)).not.toContain('as the owner');
  });

  it('does not see or touch a room it is not in (404, as a room that does not exist)', async () => {
    const owners = (await home.admin('POST', '/rooms', { name: 'Owner only' })).body.room_id as string;
    for (const [method, path, body] of [['GET', `/rooms/${owners}/messages`], ['GET', `/rooms/${owners}`], ['POST', `/rooms/${owners}/messages`, { body: 'hi' }], ['POST', `/rooms/${owners}/leave`, {}], ['GET', `/rooms/!nosuchroom:${SERVER}/messages`]] as const) {
      const answer = await client(method, path, { cookie: sam, body });
      expect(answer.status, `${method} ${path}`).toBe(404);
      expect(answer.body.error).toBe('room_not_found');
    }
    const rooms = (await client('GET', '/rooms', { cookie: sam })).body.rooms as Array<{ room_id: string }>;
    expect(rooms.map((r) => r.room_id)).toEqual([roomId]);
  });

  it('creates rooms only while the owner allows it', async () => {
    expect((await home.admin('PUT', '/policy', { members_may_create_rooms: false })).body.members_may_create_rooms).toBe(false);
    const refused = await client('POST', '/rooms', { cookie: sam, body: { name: 'Mine' } });
    expect(refused.status).toBe(403);
    expect(refused.body.error).toBe('room_creation_off');
    expect((await client('GET', '/me', { cookie: sam })).body.may_create_rooms).toBe(false);
    expect((await home.admin('PUT', '/policy', { members_may_create_rooms: true })).status).toBe(200);
    const created = await client('POST', '/rooms', { cookie: sam, body: { name: 'Mine' } });
    expect(created.status).toBe(200);
    expect(((await client('GET', `/rooms/${created.body.room_id as string}`, { cookie: sam })).body.members as Array<{ user_id: string; role: string }>)).toEqual([{ user_id: SAM, membership: 'join', role: 'owner' }]);
  });
  it('creates at most maxRoomsPerMember rooms (409 too_many_rooms): each costs every rooms list of the node, and none can be deleted', async () => {
    // All at once (a room is stored a turn after it is allowed: at once, each saw room for one more).
    const answers = await Promise.all(Array.from({ length: 10 }, (_, made) => client('POST', '/rooms', { cookie: sam, body: { name: `Room ${made}` } })));
    expect(answers.filter((a) => a.status === 409).map((a) => a.body.error)).toContain('too_many_rooms');
    expect(answers.filter((a) => a.status !== 200 && a.status !== 409)).toEqual([]);
    expect(queryNodeDb<{ n: number }>(home.dataDir, "SELECT COUNT(*) AS n FROM room_members WHERE user_id = ? AND role = 'owner'", SAM)[0]!.n).toBe(5);
    // The owner is not limited.
    expect((await home.admin('POST', '/rooms', { name: 'the owner\'s' })).status).toBe(200);
  });

  it('invites others only to rooms it owns or moderates (403 not_room_moderator otherwise)', async () => {
    const kim = (await home.admin('POST', '/users', { localpart: 'kim' })).body.user_id as string;
    const refused = await client('POST', `/rooms/${roomId}/invites`, { cookie: sam, body: { user_id: kim } });
    expect([refused.status, refused.body.error]).toEqual([403, 'not_room_moderator']);
    expect(refused.body.message).toBe('only the room\'s owner or one of its moderators may invite people to it');
    const members = async (room: string) => ((await home.admin('GET', `/rooms/${room}`)).body.members as Array<{ user_id: string }>).map((m) => m.user_id);
    expect(await members(roomId)).not.toContain(kim);
    // Made a moderator of the owner's room by its owner, it may.
    expect((await home.admin('PUT', `/rooms/${roomId}/members/${SAM}/role`, { role: 'moderator' })).status).toBe(200);
    expect((await client('POST', `/rooms/${roomId}/invites`, { cookie: sam, body: { user_id: kim } })).status).toBe(200);
    expect(await members(roomId)).toContain(kim);
    expect((await home.admin('PUT', `/rooms/${roomId}/members/${SAM}/role`, { role: 'member' })).status).toBe(200);
    // In a room of its own (it is the room's owner), it may too.
    const mine = (await client('GET', '/rooms', { cookie: sam })).body.rooms as Array<{ room_id: string; name: string }>;
    const own = mine.find((r) => r.name === 'Mine')!.room_id;
    expect((await client('POST', `/rooms/${own}/invites`, { cookie: sam, body: { user_id: kim } })).status).toBe(200);
    // The owner of the server, on the admin API, invites as before.
    const lee = (await home.admin('POST', '/users', { localpart: 'lee' })).body.user_id as string;
    expect((await home.admin('POST', `/rooms/${roomId}/invites`, { user_id: lee })).status).toBe(200);
  });

  it('invites no user of a server the owner never added: that server is not called (a red-team review)', async () => {
    const own = ((await client('GET', '/rooms', { cookie: sam })).body.rooms as Array<{ room_id: string; name: string }>).find((r) => r.name === 'Mine')!.room_id;
    const refused = await client('POST', `/rooms/${own}/invites`, { cookie: sam, body: { user_id: '@x:stranger.example' } });
    expect([refused.status, refused.body]).toEqual([403, { error: 'peer_not_allowed', message: 'stranger.example is not a peer of this server: add it first' }]);
    // The owner too (its join could not be taken), in the owner's words in the UI.
    expect((await home.admin('POST', `/rooms/${roomId}/invites`, { user_id: '@x:stranger.example' })).body.error).toBe('peer_not_allowed');
    expect(queryNodeDb<{ n: number }>(home.dataDir, "SELECT COUNT(*) AS n FROM federation_events WHERE state_key = '@x:stranger.example'")[0]!.n).toBe(0);
  });
});

/** A path of the contract with every parameter filled (the answer is decided before the input is read). */
const pathOf = (path: string) => path.replace(/:([a-z_]+)/g, (_, name: string) => ({ room_id: `!r:${SERVER}`, event_id: `$e:${SERVER}`, user_id: SAM, key: 'x' })[name] ?? 'x');

describe('what a member may not do', () => {
  it('is refused every owner-only operation of the admin contract on the client API (403 owner_only)', async () => {
    const ownerOnly = (Object.keys(adminOperations) as AdminOperationName[]).filter((name) => !memberUse(name));
    // What a member may use, named here: a new operation is the owner's until someone decides otherwise.
    expect((Object.keys(adminOperations) as AdminOperationName[]).filter((name) => memberUse(name)).sort()).toEqual([
      'acceptInvite', 'addReaction', 'createRoom', 'declineInvite', 'deleteMessage', 'editMessage', 'getRoom', 'inviteToRoom', 'joinRemoteRoom', 'leaveRoom', 'listBans',
      'listInvites', 'listMessages', 'listRooms', 'markRead', 'removeMember', 'removeReaction', 'searchMessages', 'sendMessage', 'sendMessages', 'setMemberRole', 'unbanMember',
    ]);
    expect(ownerOnly.length).toBeGreaterThan(40);
    for (const name of ownerOnly) {
      const { method, path } = adminOperations[name];
      const answer = await client(method, pathOf(path), { cookie: sam, ...(method === 'GET' ? {} : { body: {} }) });
      expect([answer.status, answer.body.error], `${name}: ${method} ${path}`).toEqual([403, 'owner_only']);
    }
    // Not signed in: nothing at all.
    for (const name of Object.keys(adminOperations) as AdminOperationName[]) {
      const { method, path } = adminOperations[name];
      expect((await client(method, pathOf(path), method === 'GET' ? {} : { body: {} })).status, name).toBe(401);
    }
  });

  it('opens nothing on the admin API (loopback) with its cookie', async () => {
    for (const name of Object.keys(adminOperations) as AdminOperationName[]) {
      const { method, path } = adminOperations[name];
      const answer = await home.admin(method, pathOf(path), method === 'GET' ? undefined : {}, { authorization: '', cookie: `paracord_member=${sam}`, 'x-paracord-request': '1' });
      expect(answer.status, `${name}: ${method} ${path}`).toBe(401);
    }
  });

  it('cannot be made to act by another site (state-changing requests need same-origin)', async () => {
    const send = (headers: Record<string, string>) => client('POST', `/rooms/${roomId}/messages`, { cookie: sam, body: { body: 'forged' }, headers });
    const attempts: Array<Record<string, string>> = [{ origin: 'https://evil.example' }, { origin: '' }, { origin, 'sec-fetch-site': 'cross-site' }, { origin: '', 'sec-fetch-site': 'same-site' }];
    for (const headers of attempts) {
      const answer = await send(headers);
      expect([answer.status, answer.body.error], JSON.stringify(headers)).toEqual([403, 'cross_site']);
    }
    expect((await send({ origin: '', 'sec-fetch-site': 'same-origin' })).status).toBe(200);
    expect((await client('POST', '/sign-in', { body: { localpart: 'sam', passphrase: PASSPHRASE }, headers: { origin: 'https://evil.example' } })).body.error).toBe('cross_site');
  });

  it('keeps a session to the Host it was issued for', async () => {
    const answer = await client('GET', '/me', { cookie: sam, headers: { host: `localhost:${new URL(base).port}` } });
    expect([answer.status, answer.body.error]).toEqual([401, 'not_signed_in']);
  });
});

describe('signing in', () => {
  it('answers a wrong passphrase 401, then 429 per account with the time to wait; the real client address behind the proxy is what counts', async () => {
    // A passphrase typed into the user-name field: not written to the owner's log (checked below).
    expect((await signIn(PASSPHRASE, 'a guess at the passphrase', '198.51.100.30')).status).toBe(401);
    const wrong = await signIn('sam', 'not the passphrase at all', '198.51.100.7');
    expect([wrong.status, wrong.body.error]).toEqual([401, 'bad_credentials']);
    const nobody = await signIn('nobody', 'not the passphrase at all', '198.51.100.7');
    expect(nobody.body).toEqual(wrong.body); // the same answer whether the member exists
    // Per account: 3 failures (from anywhere), then refused without checking.
    await signIn('nobody', 'still wrong passphrase', '198.51.100.8');
    await signIn('nobody', 'still wrong passphrase', '198.51.100.9');
    const limited = await signIn('nobody', 'still wrong passphrase', '198.51.100.10');
    expect(limited.status).toBe(429);
    expect(limited.body).toMatchObject({ error: 'too_many_attempts', message: expect.stringMatching(/^too many attempts, try again in \d+ minutes?$/) });
    // Per address: 198.51.100.7 failed twice; two more (other names), then that address is refused, others are not.
    await signIn('alice', 'wrong wrong wrong', '198.51.100.7');
    await signIn('bob', 'wrong wrong wrong', '198.51.100.7');
    expect((await signIn('sam', PASSPHRASE, '198.51.100.7')).status).toBe(429);
    const ok = await signIn('sam', PASSPHRASE, '198.51.100.20');
    expect(ok.status).toBe(200);
    const second = cookieOf(ok)!;
    const sessions = (await client('GET', '/me/sessions', { cookie: second })).body.sessions as Array<{ id: string; current: boolean }>;
    expect(sessions).toHaveLength(2);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);
    expect((await client('POST', '/sign-out', { cookie: second, body: {} })).status).toBe(200);
    expect((await client('GET', '/me', { cookie: second })).status).toBe(401);
    // Logged for the owner, rate-limited: eight failures above, at most a window's lines in all; never the passphrase.
    const lines = logged.filter((line) => line.event === 'member_sign_in_failed');
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.length).toBeLessThanOrEqual(LOG_LINES_PER_WINDOW);
    expect(lines[0]).toMatchObject({ localpart: null, address: expect.any(String) });
    expect(lines[1]).toMatchObject({ localpart: 'sam' });
    expect(JSON.stringify(logged)).not.toMatch(/passphrase at all|still wrong passphrase|wrong wrong wrong|lantern orbit/);
  });

  it('a browser the member signed in from before has a count of its own: strangers\' guesses hold the account at 429, not it', async () => {
    const token = await memberLink();
    const joined = await client('POST', '/join', { body: { token, localpart: 'ivy', passphrase: PASSPHRASE }, from: '203.0.113.60' });
    expect(joined.status).toBe(200);
    // The device cookie: random, HttpOnly, SameSite=Strict, kept for 400 days, kept across a sign-out.
    const device = deviceOf(joined)!;
    expect(device).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const deviceCookie = [joined.headers['set-cookie'] ?? []].flat().find((line) => line.startsWith('paracord_device=')) ?? '';
    expect(deviceCookie).toMatch(/httponly/i);
    expect(deviceCookie).toMatch(/samesite=strict/i);
    const expires = Date.parse(deviceCookie.match(/expires=([^;]*)/i)?.[1] ?? '') - Date.now();
    expect(expires).toBeGreaterThan(399 * 86_400_000);
    expect(expires).toBeLessThan(401 * 86_400_000);
    const signedOut = await client('POST', '/sign-out', { cookie: cookieOf(joined), body: {}, from: '203.0.113.60' });
    expect(String(signedOut.headers['set-cookie'])).not.toContain('paracord_device');
    // Strangers from three addresses guess ivy's passphrase (the limit per account is 3 here).
    for (const from of ['203.0.113.61', '203.0.113.62', '203.0.113.63']) expect((await signIn('ivy', 'a stranger guessing it', from)).status).toBe(401);
    expect((await signIn('ivy', PASSPHRASE, '203.0.113.64')).body.error).toBe('too_many_attempts');
    // Ivy's browser, from anywhere, with its device cookie (any other value exempts nothing): signed in.
    const withDevice = (value: string, from: string, passphrase = PASSPHRASE) => client('POST', '/sign-in', { body: { localpart: 'ivy', passphrase }, from, headers: { cookie: `paracord_device=${value}` } });
    expect((await withDevice('A'.repeat(43), '203.0.113.65')).body.error).toBe('too_many_attempts');
    expect((await withDevice(`${device}x`, '203.0.113.65')).body.error).toBe('too_many_attempts');
    const back = await withDevice(device, '203.0.113.66');
    expect(back.status, JSON.stringify(back.body)).toBe(200);
    expect(deviceOf(back)).toBe(device);
    expect((await client('GET', '/me', { cookie: cookieOf(back) })).body.user_id).toBe(`@ivy:${SERVER}`);
    // Its own wrong passphrases count against it: three, then it is refused too.
    for (const from of ['203.0.113.67', '203.0.113.68', '203.0.113.69']) expect((await withDevice(device, from, 'ivy mistyped it')).status).toBe(401);
    expect((await withDevice(device, '203.0.113.70')).body.error).toBe('too_many_attempts');
    expect((await client('POST', '/sign-out', { cookie: cookieOf(back), body: {} })).status).toBe(200);
  });

  it('ending a lost phone\'s session from another browser forgets the phone as a known device; signing out does not', async () => {
    const token = await memberLink();
    const phone = await client('POST', '/join', { body: { token, localpart: 'kit', passphrase: PASSPHRASE }, from: '203.0.113.80' });
    const laptop = await signIn('kit', PASSPHRASE, '203.0.113.81');
    expect([phone.status, laptop.status]).toEqual([200, 200]);
    const sessions = (await client('GET', '/me/sessions', { cookie: cookieOf(laptop) })).body.sessions as Array<{ id: string; current: boolean }>;
    const phoneSession = sessions.find((s) => !s.current)!;
    // An id that is no session id is refused as bad input, as every other input is (a review, 2026-12-01).
    for (const bad of ['x', `${phoneSession.id}%20`, `${phoneSession.id}'%20OR%201=1`]) {
      const refused = await client('DELETE', `/me/sessions/${bad}`, { cookie: cookieOf(laptop) });
      expect([refused.status, refused.body.error], bad).toEqual([400, 'invalid_input']);
    }
    expect((await client('GET', '/me/sessions', { cookie: cookieOf(laptop) })).body.sessions).toHaveLength(2);
    expect((await client('DELETE', `/me/sessions/${phoneSession.id}`, { cookie: cookieOf(laptop) })).status).toBe(200);
    // The phone's cookie is known no more: signing in with it makes a new one.
    const withDevice = (device: string) => client('POST', '/sign-in', { body: { localpart: 'kit', passphrase: PASSPHRASE }, from: '203.0.113.82', headers: { cookie: `paracord_device=${device}` } });
    const phoneAgain = await withDevice(deviceOf(phone)!);
    expect(phoneAgain.status).toBe(200);
    expect(deviceOf(phoneAgain)).not.toBe(deviceOf(phone));
    // The laptop signs out: its device stays known (the same cookie kept).
    expect((await client('POST', '/sign-out', { cookie: cookieOf(laptop), body: {} })).status).toBe(200);
    const laptopAgain = await withDevice(deviceOf(laptop)!);
    expect(deviceOf(laptopAgain)).toBe(deviceOf(laptop));
    for (const signedIn of [phoneAgain, laptopAgain]) expect((await client('POST', '/sign-out', { cookie: cookieOf(signedIn), body: {} })).status).toBe(200);
  });

  it('a session in use renews the device cookie of the device that opened it, once a minute at most, and no other', async () => {
    const token = await memberLink();
    const joined = await client('POST', '/join', { body: { token, localpart: 'ned', passphrase: PASSPHRASE }, from: '203.0.113.90' });
    expect(joined.status, JSON.stringify(joined.body)).toBe(200);
    const [session, device] = [cookieOf(joined)!, deviceOf(joined)!];
    // The session's last use two minutes back (as if the member had been away), written in the node's database.
    const ageSession = () => {
      const db = new Database(join(home.dataDir, 'paracord.db'));
      try {
        db.prepare('UPDATE member_sessions SET last_seen_at = last_seen_at - 120000 WHERE user_id = ?').run(`@ned:${SERVER}`);
      } finally {
        db.close();
      }
    };
    const me = (cookies: string) => client('GET', '/me', { headers: { cookie: cookies } });
    ageSession();
    const renewed = await me(`paracord_member=${session}; paracord_device=${device}`);
    expect(renewed.status).toBe(200);
    expect(deviceOf(renewed)).toBe(device);
    // Within the minute: nothing written, no cookie.
    expect((await me(`paracord_member=${session}; paracord_device=${device}`)).headers['set-cookie']).toBeUndefined();
    // Another device's token (or a made-up one) beside the session: not renewed.
    ageSession();
    expect((await me(`paracord_member=${session}; paracord_device=${'B'.repeat(43)}`)).headers['set-cookie']).toBeUndefined();
    expect((await client('POST', '/sign-out', { cookie: session, body: {} })).status).toBe(200);
  });

  it('marks the cookie Secure behind a trusted proxy that speaks HTTPS to the browser', async () => {
    const https = { 'x-forwarded-proto': 'https', origin: origin.replace(/^http:/, 'https:') };
    const answer = await client('POST', '/sign-in', { body: { localpart: 'sam', passphrase: PASSPHRASE }, from: '198.51.100.50', headers: https });
    expect(answer.status).toBe(200);
    expect(String(answer.headers['set-cookie'])).toMatch(/;\s*secure/i);
    // Over HTTPS the device cookie is a __Host- cookie (Secure, this host, every path): nothing else may plant one that shadows it.
    const hostDevice = [answer.headers['set-cookie'] ?? []].flat().find((line) => line.startsWith('__Host-paracord_device='));
    expect(hostDevice).toMatch(/;\s*secure/i);
    expect(hostDevice).toMatch(/;\s*path=\//i);
    expect(hostDevice).not.toMatch(/domain=/i);
    const token = hostDevice!.match(/^__Host-paracord_device=([^;]*)/)![1]!;
    // Presented back over HTTPS it is known (the same token kept); under the plain name there it is not (a new one).
    const again = await client('POST', '/sign-in', { body: { localpart: 'sam', passphrase: PASSPHRASE }, from: '198.51.100.50', headers: { ...https, cookie: `__Host-paracord_device=${token}` } });
    expect(String(again.headers['set-cookie'])).toContain(`__Host-paracord_device=${token}`);
    const planted = await client('POST', '/sign-in', { body: { localpart: 'sam', passphrase: PASSPHRASE }, from: '198.51.100.50', headers: { ...https, cookie: `paracord_device=${token}` } });
    expect(String(planted.headers['set-cookie'])).not.toContain(token);
    for (const signedIn of [again, planted]) expect((await client('POST', '/sign-out', { cookie: cookieOf(signedIn), body: {}, headers: https })).status).toBe(200);
    // The session cookie too: a plain paracord_member planted beside an HTTPS page signs nobody in there.
    expect(String(answer.headers['set-cookie'])).toMatch(/(^|[\s,])__Host-paracord_member=/);
    expect((await client('GET', '/me', { headers: { ...https, cookie: `paracord_member=${cookieOf(answer)}` } })).status).toBe(401);
    const me = await client('GET', '/me', { cookie: cookieOf(answer), headers: https });
    expect(me.body.secure).toBe(true);
    // The plain-HTTP origin is not this request's origin any more.
    expect((await client('POST', '/sign-out', { cookie: cookieOf(answer), body: {}, headers: { 'x-forwarded-proto': 'https' } })).body.error).toBe('cross_site');
    expect((await client('POST', '/sign-out', { cookie: cookieOf(answer), body: {}, headers: https })).status).toBe(200);
  });

  it('ends a disabled member\'s sessions at once and refuses its sign-in until enabled', async () => {
    expect((await client('GET', '/rooms', { cookie: sam })).status).toBe(200);
    const disabled = await home.admin('POST', `/members/${SAM}/disable`, {});
    expect(disabled.body).toMatchObject({ user_id: SAM, disabled: true, sessions: 0 });
    expect((await client('GET', '/rooms', { cookie: sam })).status).toBe(401);
    expect((await client('POST', `/rooms/${roomId}/messages`, { cookie: sam, body: { body: 'after' } })).status).toBe(401);
    expect((await signIn('sam', PASSPHRASE, '198.51.100.30')).body.error).toBe('bad_credentials');
    expect((await home.admin('GET', '/status')).body.members_signed_in).toBe(0);
    expect((await home.admin('POST', `/members/${SAM}/enable`, {})).body.disabled).toBe(false);
    expect((await signIn('sam', PASSPHRASE, '198.51.100.30')).status).toBe(200);
  });

  it('sets a new passphrase with a reset link (once), which ends the other sessions', async () => {
    const before = cookieOf(await signIn('sam', PASSPHRASE, '198.51.100.40'))!;
    const reset = await home.admin('POST', `/members/${SAM}/reset`, {});
    const token = (reset.body.link as string).split('#/reset/')[1]!;
    expect((await client('POST', '/links/look-up', { body: { token } })).body).toEqual({ purpose: 'reset', user_id: SAM, server_name: SERVER });
    const next = 'violet harbour thimble ninety';
    const answer = await client('POST', '/reset', { body: { token, passphrase: next } });
    expect(answer.body).toEqual({ user_id: SAM });
    expect((await client('GET', '/me', { cookie: before })).status).toBe(401);
    expect((await client('GET', '/me', { cookie: cookieOf(answer) })).status).toBe(200);
    expect((await client('POST', '/reset', { body: { token, passphrase: next } })).body.error).toBe('link_unusable');
    const links = (await home.admin('GET', '/members/invites')).body.invites as Array<{ purpose: string; state: string }>;
    expect(links.map((l) => [l.purpose, l.state])).toEqual([['reset', 'used'], ['join', 'used'], ['join', 'used'], ['join', 'used'], ['join', 'used']]);
  });

  it("takes the contract's fields for a link: display_name is the member's name once it joins (and the note when none), expires_in_seconds its lifetime", async () => {
    const before = Date.now();
    const created = await home.admin('POST', '/members/invites', { display_name: 'Sam Quill', expires_in_seconds: 3600 });
    expect(created.status, JSON.stringify(created.body)).toBe(200);
    expect(created.body.expires_at as number).toBeGreaterThanOrEqual(before + 3600_000);
    expect(created.body.expires_at as number).toBeLessThan(before + 3600_000 + 60_000);
    const listed = (await home.admin('GET', '/members/invites')).body.invites as Array<{ id: string; note: string | null; display_name: string | null }>;
    expect(listed.find((l) => l.id === created.body.id)).toMatchObject({ note: 'Sam Quill', display_name: 'Sam Quill' });
    const token = (created.body.link as string).split('#/join/')[1]!;
    expect((await client('POST', '/join', { body: { token, localpart: 'quill', passphrase: PASSPHRASE } })).status).toBe(200);
    const members = (await home.admin('GET', '/members')).body.members as Array<{ user_id: string; display_name: string | null }>;
    expect(members.find((m) => m.user_id === `@quill:${SERVER}`)?.display_name).toBe('Sam Quill');
    // A note of the owner's own stays the owner's; the two lifetimes must agree; a bad value or name is refused. Nothing is made then.
    const both = await home.admin('POST', '/members/invites', { note: 'from the climbing club', display_name: 'Ria' });
    expect(((await home.admin('GET', '/members/invites')).body.invites as Array<{ id: string }>).find((l) => l.id === both.body.id)).toMatchObject({ note: 'from the climbing club', display_name: 'Ria' });
    const count = ((await home.admin('GET', '/members/invites')).body.invites as unknown[]).length;
    for (const body of [{ lifetime_seconds: 3600, expires_in_seconds: 7200 }, { expires_in_seconds: 0 }, { display_name: 'Sam\u202Eevil' }, { display_name: ' ' }]) {
      const refused = await home.admin('POST', '/members/invites', body);
      expect(refused.status, JSON.stringify(body)).toBe(400);
      expect(refused.body.error).toBe('invalid_input');
    }
    expect(((await home.admin('GET', '/members/invites')).body.invites as unknown[]).length).toBe(count);
    await home.admin('DELETE', `/members/invites/${both.body.id as string}`);
  });

  it('revokes an unused member link', async () => {
    const created = await home.admin('POST', '/members/invites', {});
    const revoked = await home.admin('DELETE', `/members/invites/${created.body.id as string}`);
    expect(revoked.body).toMatchObject({ id: created.body.id, state: 'revoked' });
    const token = (created.body.link as string).split('#/join/')[1]!;
    expect((await client('POST', '/join', { body: { token, localpart: 'eve', passphrase: PASSPHRASE } })).body.error).toBe('link_unusable');
  });
});

type Frame = { id?: number | string | null; ok?: boolean; result?: Record<string, unknown>; status?: number; error?: string; message?: string; retry_after?: number; notification?: { type: string; room_id?: string; sender?: string; scope?: string } };

/** Opens the members' stream as a browser page of the node's origin would (the answer's status: 101 when it opened). */
async function openStream(cookie: string | undefined, options: { at?: string; from?: string } = {}) {
  const root = options.at ?? base;
  const headers = { origin: new URL(root).origin, ...(cookie ? { cookie: `paracord_member=${cookie}` } : {}), ...(options.from ? { 'x-forwarded-for': options.from } : {}) };
  const ws = new WebSocket(`${root.replace(/^http/, 'ws')}${CLIENT_STREAM_PATH}`, ADMIN_STREAM_NOTIFICATIONS, { headers });
  const frames: Frame[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as Frame);
    waiters.splice(0).forEach((w) => w());
  });
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)));
  const status = await new Promise<number>((resolve, reject) => {
    ws.once('open', () => resolve(101));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      ws.on('error', () => undefined);
      ws.terminate();
      resolve(res.statusCode ?? 0);
    });
  });
  const next = async (match: (f: Frame) => boolean): Promise<Frame> => {
    for (;;) {
      const found = frames.find(match);
      if (found) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { ws, frames, next, closed, status };
}

describe('the members\' stream', () => {
  it('runs the member\'s operations as the member, carries only its rooms\' notifications, and ends with its session', async () => {
    const cookie = cookieOf(await signIn('sam', 'violet harbour thimble ninety', '198.51.100.60'))!;
    const { ws, next, frames, closed } = await openStream(cookie);
    ws.send(JSON.stringify({ id: 1, op: 'listRooms', input: {} }));
    ws.send(JSON.stringify({ id: 2, op: 'getStatus', input: {} }));
    ws.send(JSON.stringify({ id: 3, op: 'listRooms', input: { user_id: OWNER } }));
    const rooms = (await next((f) => f.id === 1)).result!.rooms as Array<{ room_id: string }>;
    expect(rooms.map((r) => r.room_id)).toContain(roomId);
    expect(await next((f) => f.id === 2)).toMatchObject({ ok: false, status: 403, error: 'owner_only' });
    expect(await next((f) => f.id === 3)).toMatchObject({ ok: false, status: 403, error: 'not_yours' });
    // The owner writes in a room Sam is not in, then in Sam's: Sam hears of the second only.
    const owners = (await home.admin('POST', '/rooms', { name: 'Owner again' })).body.room_id as string;
    await home.admin('POST', `/rooms/${owners}/messages`, { body: 'private' });
    await home.admin('POST', `/rooms/${roomId}/messages`, { body: 'for everyone' });
    const heard = await next((f) => f.notification?.type === 'room' && f.notification.room_id === roomId);
    expect(heard.notification!.sender).toBe(OWNER);
    expect(frames.filter((f) => f.notification && f.notification.room_id !== roomId)).toEqual([]);
    ws.send(JSON.stringify({ id: 4, op: 'sendMessage', input: { room_id: roomId, body: 'over the stream' } }));
    expect((await next((f) => f.id === 4)).ok).toBe(true);
    expect(((await home.admin('GET', `/rooms/${roomId}/messages`)).body.messages as Array<{ sender: string; body: string }>).at(-1)).toMatchObject({ sender: SAM, body: 'over the stream' });
    // The owner pauses federation: Sam hears it (no other status), and Sam's page says nothing waiting is tried.
    expect((await home.admin('POST', '/federation/pause', {})).status).toBe(200);
    try {
      await next((f) => f.notification?.type === 'status');
      expect(frames.filter((f) => f.notification?.type === 'status').map((f) => f.notification)).toEqual([{ type: 'status', scope: 'federation' }]);
      ws.send(JSON.stringify({ id: 6, op: 'listMessages', input: { room_id: roomId } }));
      expect((await next((f) => f.id === 6)).result).toMatchObject({ sending_paused: true });
    } finally {
      expect((await home.admin('POST', '/federation/resume', {})).status).toBe(200);
    }
    ws.send(JSON.stringify({ id: 7, op: 'listMessages', input: { room_id: roomId } }));
    expect((await next((f) => f.id === 7)).result).not.toHaveProperty('sending_paused');
    // The owner turns room creation off, then on: Sam hears each (its app offers "Create room" or not, live); the same value again says nothing.
    try {
      expect((await home.admin('PUT', '/policy', { members_may_create_rooms: false })).status).toBe(200);
      await next((f) => f.notification?.type === 'status' && f.notification.scope === 'members');
    } finally {
      expect((await home.admin('PUT', '/policy', { members_may_create_rooms: true })).status).toBe(200);
    }
    const told = () => frames.filter((f) => f.notification?.type === 'status' && f.notification.scope === 'members').length;
    await next(() => told() === 2);
    expect((await home.admin('PUT', '/policy', { members_may_create_rooms: true })).status).toBe(200);
    ws.send(JSON.stringify({ id: 8, op: 'listRooms', input: {} }));
    await next((f) => f.id === 8);
    expect(told()).toBe(2);
    // Signed out elsewhere (the session ended): the stream closes (1008) — at once, on the status
    // change the sign-out makes, or at the next request, which is refused.
    await client('DELETE', `/me/sessions/${((await client('GET', '/me/sessions', { cookie })).body.sessions as Array<{ id: string; current: boolean }>).find((x) => x.current)!.id}`, { cookie, body: {} });
    if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ id: 5, op: 'listRooms', input: {} }));
    expect(await closed).toBe(1008);
    for (const answer of frames.filter((f) => f.id === 5)) expect(answer).toMatchObject({ ok: false, status: 401 });
  });

  it('is refused without a session', async () => {
    expect((await openStream(undefined)).status).toBe(401);
  });
});

describe('the CLI', () => {
  const cli = (...args: string[]) => promisify(execFile)(process.execPath, [join(REPO_ROOT, 'bin', 'paracord-node.js'), 'member', ...args, '--data', home.dataDir]);

  it('prints a member link (member invite) and lists the members (member list)', async () => {
    const invited = await cli('invite', '--note', 'for Kim');
    expect(invited.stdout.trim()).toMatch(new RegExp(`^${base}/app/#/join/[A-Za-z0-9_-]+$`));
    const listed = JSON.parse((await cli('list')).stdout) as { members: Array<{ user_id: string }> };
    // (Other tests of this file add members of their own: the CLI lists what the admin API lists.)
    const viaApi = (await home.admin('GET', '/members')).body.members as Array<{ user_id: string }>;
    expect(listed.members.map((m) => m.user_id).sort()).toEqual(viaApi.map((m) => m.user_id).sort());
    expect(listed.members.map((m) => m.user_id)).toContain(SAM);
    const links = (await home.admin('GET', '/members/invites')).body.invites as Array<{ note: string | null; state: string }>;
    expect(links[0]).toMatchObject({ note: 'for Kim', state: 'active' });
  });

  it('disables and enables a member and prints a new-passphrase link (member disable|enable|reset), by user name or id', async () => {
    const cookie = cookieOf(await signIn('sam', 'violet harbour thimble ninety', '198.51.100.90'))!;
    expect(JSON.parse((await cli('disable', 'sam')).stdout)).toMatchObject({ user_id: SAM, disabled: true, sessions: 0 });
    expect((await client('GET', '/me', { cookie })).status).toBe(401);
    expect(JSON.parse((await cli('enable', SAM)).stdout)).toMatchObject({ user_id: SAM, disabled: false });
    const link = (await cli('reset', 'sam', '--expires-in', '1')).stdout.trim();
    expect(link).toMatch(new RegExp(`^${base}/app/#/reset/[A-Za-z0-9_-]+$`));
    expect((await client('POST', '/links/look-up', { body: { token: link.split('#/reset/')[1]! } })).body).toEqual({ purpose: 'reset', user_id: SAM, server_name: SERVER });
    const unknown = await cli('disable', 'nobody').then(() => null, (error: { code: number; stderr: string }) => error);
    expect(unknown?.code).toBe(1);
    expect(unknown?.stderr).toMatch(/nobody is not a member of this server/);
    // The unused reset link does not stay about.
    const reset = ((await home.admin('GET', '/members/invites')).body.invites as Array<{ id: string; purpose: string; state: string }>).find((l) => l.purpose === 'reset' && l.state === 'active')!;
    expect((await home.admin('DELETE', `/members/invites/${reset.id}`)).status).toBe(200);
  });
});

describe('the member app', () => {
  it('is served at /app/ on the federation listener, next to the federation API', async () => {
    const app = await request(`${base}/app/`, { reset: true });
    const text = await app.body.text();
    expect(app.statusCode).toBe(200); // the test suite runs after `npm run build`
    expect(text).toMatch(/<!doctype html>/i);
    expect(app.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    // Its scripts, next to it at /app/assets/ (vite base './'), are served; nothing of the UI's folder outside /app/.
    const script = text.match(/src="\.\/(assets\/[^"]+\.js)"/)?.[1];
    expect(script, 'the page names its script relative to /app/').toBeTruthy();
    const asset = await request(`${base}/app/${script}`, { reset: true });
    await asset.body.dump();
    expect(asset.statusCode).toBe(200);
    const outside = await request(`${base}/${script}`, { reset: true });
    await outside.body.dump();
    expect(outside.statusCode).toBe(404);
    const redirect = await request(`${base}/app`, { reset: true });
    await redirect.body.dump();
    expect(redirect.statusCode).toBe(302);
    // The server's address alone, from a browser: the app (it was the federation listener's JSON 404);
    // from anything else that asks for /: still that 404.
    const root = await request(`${base}/`, { reset: true, headers: { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } });
    await root.body.dump();
    expect([root.statusCode, root.headers.location]).toEqual([302, MEMBER_APP_PATH]);
    const rootJson = await request(`${base}/`, { reset: true });
    expect(rootJson.statusCode).toBe(404);
    expect(await rootJson.body.json()).toMatchObject({ error: 'not_found' });
    const unknown = await request(`${base}${CLIENT_API_PREFIX}/nothing-here`, { reset: true });
    expect(unknown.statusCode).toBe(404);
    await unknown.body.dump();
    expect(ADMIN_API_PREFIX).not.toBe(CLIENT_API_PREFIX);
  });

  it('serves its service worker and manifest at /app/, with their content types, so a phone can install it', async () => {
    const sw = await request(`${base}/app/sw.js`, { reset: true });
    const script = await sw.body.text();
    expect(sw.statusCode).toBe(200);
    expect(sw.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(sw.headers['cache-control']).toBe('no-cache'); // a new version is seen at the next visit
    expect(script).toContain('manifest.webmanifest'); // the shell it caches (not the built index.html)
    const manifest = await request(`${base}/app/manifest.webmanifest`, { reset: true });
    expect(manifest.statusCode).toBe(200);
    expect(manifest.headers['content-type']).toMatch(/^application\/manifest\+json(;|$)/);
    expect(JSON.parse(await manifest.body.text())).toMatchObject({ name: 'Paracord', start_url: '/app/', scope: '/app/', display: 'standalone' });
  });
});

describe('passkeys', () => {
  // WebAuthn needs a name, and a secure context: http://localhost is one (an IP address is not a name).
  let local = '';
  beforeAll(() => {
    local = `localhost:${new URL(base).port}`;
  });
  const at = (extra: Record<string, string> = {}) => ({ host: local, origin: `http://${local}`, ...extra });
  const key = new SoftAuthenticator();
  let passkeyId: string;
  const passkeySignIn = async (authenticator: SoftAuthenticator, from: string, pageOrigin = `http://${local}`) => {
    const started = await client('POST', '/passkeys/sign-in-options', { body: {}, headers: at(), from });
    expect(started.status).toBe(200);
    const response = authenticator.get(started.body.options as never, pageOrigin);
    return { attempt: started.body.attempt as string, response, answer: await client('POST', '/passkeys/sign-in', { body: { attempt: started.body.attempt, response }, headers: at(), from }) };
  };

  it('a signed-in member registers one for the host the page came from, once per challenge of its own session', async () => {
    const signedIn = await client('POST', '/sign-in', { body: { localpart: 'sam', passphrase: 'violet harbour thimble ninety' }, headers: at(), from: '198.51.100.70' });
    const cookie = cookieOf(signedIn);
    const other = cookieOf(await client('POST', '/sign-in', { body: { localpart: 'sam', passphrase: 'violet harbour thimble ninety' }, headers: at(), from: '198.51.100.70' }));
    // Not over a plain-HTTP address that is not localhost, nor for an IP address.
    const byAddress = cookieOf(await client('POST', '/sign-in', { body: { localpart: 'sam', passphrase: 'violet harbour thimble ninety' }, from: '198.51.100.70' }));
    const unavailable = await client('POST', '/passkeys/register-options', { cookie: byAddress, body: { passphrase: 'violet harbour thimble ninety' } });
    expect([unavailable.status, unavailable.body.error, unavailable.body.message]).toEqual([400, 'passkeys_unavailable', 'passkeys need the server\'s name in the address, not an IP address (127.0.0.1)']);
    expect((await client('POST', '/passkeys/register-options', { body: { passphrase: 'violet harbour thimble ninety' }, headers: at() })).status).toBe(401);
    // The passphrase first: a session alone (a stolen cookie) adds no passkey, which would outlive it.
    const bare = await client('POST', '/passkeys/register-options', { cookie, body: {}, headers: at() });
    expect([bare.status, bare.body.error]).toEqual([400, 'invalid_input']);
    const wrong = await client('POST', '/passkeys/register-options', { cookie, body: { passphrase: 'not the passphrase at all' }, headers: at() });
    expect([wrong.status, wrong.body]).toEqual([401, { error: 'wrong_passphrase', message: 'the passphrase is not right' }]);
    expect(logged.filter((line) => line.event === 'member_passphrase_confirm_failed')).toMatchObject([{ user_id: SAM, limited: false }]);
    // No challenge was made for it: an answer to a challenge of the caller's own making is refused.
    const guessed = new SoftAuthenticator().create({ challenge: 'AAAAAAAAAAAAAAAAAAAAAA', rp: { id: 'localhost', name: SERVER }, user: { id: 'AAAA', name: SAM, displayName: 'sam' }, pubKeyCredParams: [{ type: 'public-key', alg: -8 }] } as never, `http://${local}`);
    expect((await client('POST', '/passkeys/register', { cookie, body: { response: guessed }, headers: at() })).body).toMatchObject({ error: 'passkey_not_accepted', message: 'this passkey request expired or was already answered; try again' });
    const options = await client('POST', '/passkeys/register-options', { cookie, body: { passphrase: 'violet harbour thimble ninety' }, headers: at() });
    expect(options.body).toMatchObject({ rp: { id: 'localhost', name: SERVER }, user: { name: SAM }, authenticatorSelection: { residentKey: 'required', userVerification: 'required' } });
    const response = key.create(options.body as never, `http://${local}`);
    // Another session of the same member cannot answer this session's challenge.
    expect((await client('POST', '/passkeys/register', { cookie: other, body: { response }, headers: at() })).body.error).toBe('passkey_not_accepted');
    const added = await client('POST', '/passkeys/register', { cookie, body: { response, name: 'Phone' }, headers: at() });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    expect(added.body).toMatchObject({ id: key.id, name: 'Phone', rp_id: 'localhost', last_used_at: null });
    passkeyId = key.id;
    // The challenge was used: the same answer again is refused.
    expect((await client('POST', '/passkeys/register', { cookie, body: { response }, headers: at() })).body.error).toBe('passkey_not_accepted');
    // A page of another origin (a forged clientDataJSON) is refused.
    const forged = new SoftAuthenticator().create((await client('POST', '/passkeys/register-options', { cookie, body: { passphrase: 'violet harbour thimble ninety' }, headers: at() })).body as never, 'http://evil.localhost');
    expect((await client('POST', '/passkeys/register', { cookie, body: { response: forged }, headers: at() })).body).toMatchObject({ error: 'passkey_not_accepted', message: expect.stringContaining('origin') });
    expect((await client('POST', '/passkeys/register', { cookie, body: { response: { id: 'not base64!' } }, headers: at() })).body.error).toBe('invalid_input');
    expect(((await client('GET', '/me/passkeys', { cookie, headers: at() })).body.passkeys as unknown[])).toMatchObject([{ id: key.id, name: 'Phone' }]);
    // The owner sees how many (not which).
    expect(((await home.admin('GET', '/members')).body.members as Array<{ user_id: string }>).find((m) => m.user_id === SAM)).toMatchObject({ passkeys: 1 });
  });

  it('signs in with it instead of a passphrase', async () => {
    const { answer } = await passkeySignIn(key, '198.51.100.71');
    expect([answer.status, answer.body]).toEqual([200, { user_id: SAM }]);
    const me = await client('GET', '/me', { cookie: cookieOf(answer), headers: at() });
    expect(me.body.user_id).toBe(SAM);
    const listed = (await client('GET', '/me/passkeys', { cookie: cookieOf(answer), headers: at() })).body.passkeys as Array<{ last_used_at: number | null }>;
    expect(listed[0]!.last_used_at).not.toBeNull();
  });

  it('refuses a replayed challenge, another origin, an unknown passkey and a disabled member alike, under the sign-in limits', async () => {
    const used = await passkeySignIn(key, '198.51.100.72');
    expect(used.answer.status).toBe(200);
    const replayed = await client('POST', '/passkeys/sign-in', { body: { attempt: used.attempt, response: used.response }, headers: at(), from: '198.51.100.72' });
    const failed = { error: 'bad_credentials', message: 'that passkey does not sign in a member of this server' };
    expect([replayed.status, replayed.body]).toEqual([401, failed]);
    const elsewhere = await passkeySignIn(key, '198.51.100.73', 'http://evil.localhost');
    expect([elsewhere.answer.status, elsewhere.answer.body]).toEqual([401, failed]);
    const stranger = await passkeySignIn(new SoftAuthenticator(), '198.51.100.74');
    expect([stranger.answer.status, stranger.answer.body]).toEqual([401, failed]);
    expect((await home.admin('POST', `/members/${SAM}/disable`, {})).status).toBe(200);
    const disabled = await passkeySignIn(key, '198.51.100.75');
    expect([disabled.answer.status, disabled.answer.body]).toEqual([401, failed]);
    expect((await home.admin('POST', `/members/${SAM}/enable`, {})).status).toBe(200);
    // Three failures naming sam's passkey (the limit here): it is refused too, for now (its own
    // count: sam's passphrase is not locked by them, nor it by wrong passphrases: passkeys.test.ts).
    expect((await passkeySignIn(key, '198.51.100.76')).answer.body.error).toBe('too_many_attempts');
    expect((await client('POST', '/sign-in', { body: { localpart: 'sam', passphrase: 'violet harbour thimble ninety' }, headers: at(), from: '198.51.100.76' })).status).toBe(200);
  });

  it('is removed by its member only', async () => {
    const cookie = cookieOf(await client('POST', '/sign-in', { body: { localpart: 'sam', passphrase: 'violet harbour thimble ninety' }, headers: at(), from: '198.51.100.78' }))!;
    expect((await client('DELETE', '/me/passkeys/nosuchkey', { cookie, body: {}, headers: at() })).body.error).toBe('unknown_passkey');
    expect((await client('DELETE', `/me/passkeys/${passkeyId}%2B`, { cookie, body: {}, headers: at() })).body.error).toBe('invalid_input');
    expect((await client('DELETE', `/me/passkeys/${passkeyId}`, { cookie, body: {}, headers: at() })).status).toBe(200);
    expect((await client('GET', '/me/passkeys', { cookie, headers: at() })).body.passkeys).toEqual([]);
    // Gone: it signs in no more (refused before its check while its failures above still count).
    expect((await passkeySignIn(key, '198.51.100.77')).answer.status).not.toBe(200);
  });

  it('goes with a reset link: the owner\'s way back into an account leaves no passkey someone added meanwhile', async () => {
    const cookie = cookieOf(await client('POST', '/sign-in', { body: { localpart: 'sam', passphrase: 'violet harbour thimble ninety' }, headers: at(), from: '198.51.100.79' }))!;
    const added = new SoftAuthenticator();
    const options = await client('POST', '/passkeys/register-options', { cookie, body: { passphrase: 'violet harbour thimble ninety' }, headers: at() });
    expect((await client('POST', '/passkeys/register', { cookie, body: { response: added.create(options.body as never, `http://${local}`), name: 'Not mine' }, headers: at() })).status).toBe(200);
    expect((await passkeySignIn(added, '198.51.100.81')).answer.status).toBe(200);
    const token = ((await home.admin('POST', `/members/${SAM}/reset`, {})).body.link as string).split('#/reset/')[1];
    const reset = await client('POST', '/reset', { body: { token, passphrase: 'kestrel meadow copper ninety' }, headers: at() });
    expect(reset.status, JSON.stringify(reset.body)).toBe(200);
    expect((await client('GET', '/me/passkeys', { cookie: cookieOf(reset), headers: at() })).body.passkeys).toEqual([]);
    expect(((await home.admin('GET', '/members')).body.members as Array<{ user_id: string }>).find((m) => m.user_id === SAM)).toMatchObject({ passkeys: 0 });
    expect((await passkeySignIn(added, '198.51.100.82')).answer.body).toEqual({ error: 'bad_credentials', message: 'that passkey does not sign in a member of this server' });
  });
});

describe('member links and the account', () => {
  const DEE = `@dee:${SERVER}`;
  let dee: string;

  it('makes a link that works for 7 days by default', async () => {
    const before = Date.now();
    const created = await home.admin('POST', '/members/invites', { note: 'for Dee' });
    const after = Date.now();
    const week = 7 * 24 * 3600 * 1000;
    expect(created.body.expires_at).toBeGreaterThanOrEqual(before + week - 1000);
    expect(created.body.expires_at).toBeLessThanOrEqual(after + week + 1000);
    const token = (created.body.link as string).split('#/join/')[1]!;
    const joined = await client('POST', '/join', { body: { token, localpart: 'dee', passphrase: PASSPHRASE }, from: '198.51.100.80' });
    expect(joined.body).toEqual({ user_id: DEE });
    dee = cookieOf(joined)!;
  });

  it('refuses a link past its lifetime (404 link_unusable, saying it expired)', async () => {
    const created = await home.admin('POST', '/members/invites', { lifetime_seconds: 60 });
    expect(Math.abs((created.body.expires_at as number) - (Date.now() + 60_000))).toBeLessThan(5_000);
    const token = (created.body.link as string).split('#/join/')[1]!;
    expect((await client('POST', '/links/look-up', { body: { token } })).status).toBe(200);
    // The node runs in this process: its clock is moved past the link's end (only Date; timers run as they do).
    vi.useFakeTimers({ toFake: ['Date'], now: (created.body.expires_at as number) + 1 });
    try {
      const looked = await client('POST', '/links/look-up', { body: { token } });
      expect([looked.status, looked.body.error, looked.body.message]).toEqual([404, 'link_unusable', 'this member link has expired; ask the owner for a new one']);
      const joined = await client('POST', '/join', { body: { token, localpart: 'late', passphrase: PASSPHRASE }, from: '198.51.100.81' });
      expect([joined.status, joined.body.error]).toEqual([404, 'link_unusable']);
    } finally {
      vi.useRealTimers();
    }
    const listed = (await home.admin('GET', '/members')).body.members as Array<{ user_id: string }>;
    expect(listed.map((m) => m.user_id)).not.toContain(`@late:${SERVER}`);
  });

  it('changes its display name (PUT /me); bad input is refused and changes nothing', async () => {
    const named = await client('PUT', '/me', { cookie: dee, body: { display_name: '  Dee Dee  ' } });
    expect([named.status, named.body.display_name]).toEqual([200, 'Dee Dee']);
    const listed = async () => ((await home.admin('GET', '/members')).body.members as Array<{ user_id: string; display_name: string | null }>).find((m) => m.user_id === DEE)?.display_name;
    expect(await listed()).toBe('Dee Dee');
    for (const body of [{ display_name: 'Dee\u202eevil' }, { display_name: 'x'.repeat(101) }, { display_name: 42 }, {}, { display_name: 'Dee', user_id: OWNER }]) {
      const answer = await client('PUT', '/me', { cookie: dee, body });
      expect([answer.status, answer.body.error], JSON.stringify(body)).toEqual([400, 'invalid_input']);
      expect(answer.body.message).toEqual(expect.any(String));
    }
    expect((await client('GET', '/me', { cookie: dee })).body.display_name).toBe('Dee Dee');
    expect(await listed()).toBe('Dee Dee');
    expect((await client('PUT', '/me', { cookie: dee, body: { display_name: '' } })).body.display_name).toBeNull();
  });

  it('changes its passphrase (POST /me/passphrase): every other session ends, this device goes on with a new cookie', async () => {
    const other = cookieOf(await signIn('dee', PASSPHRASE, '198.51.100.82'))!;
    const next = 'marble falcon tundra fourteen';
    // A wrong current passphrase, or a weak new one: refused, nothing changes.
    const wrong = await client('POST', '/me/passphrase', { cookie: dee, body: { current: 'not my passphrase at all', next } });
    expect([wrong.status, wrong.body.error]).toEqual([401, 'wrong_passphrase']);
    const weak = await client('POST', '/me/passphrase', { cookie: dee, body: { current: PASSPHRASE, next: 'password123' } });
    expect([weak.status, weak.body.error]).toEqual([400, 'weak_passphrase']);
    expect((await client('GET', '/me', { cookie: other })).status).toBe(200);
    const changed = await client('POST', '/me/passphrase', { cookie: dee, body: { current: PASSPHRASE, next } });
    expect(changed.status).toBe(200);
    const renewed = cookieOf(changed)!;
    expect(renewed).not.toBe(dee);
    expect((await client('GET', '/me', { cookie: renewed })).body.user_id).toBe(DEE);
    expect(((await client('GET', '/me/sessions', { cookie: renewed })).body.sessions as unknown[])).toHaveLength(1);
    for (const ended of [other, dee]) expect((await client('GET', '/me', { cookie: ended })).body.error).toBe('not_signed_in');
    expect((await signIn('dee', PASSPHRASE, '198.51.100.83')).body.error).toBe('bad_credentials');
    expect((await signIn('dee', next, '198.51.100.84')).status).toBe(200);
  });
});

describe('the members\' rate limits', () => {
  // A node of its own with small limits (the defaults are far above what a person does); a token
  // comes back every 1000 s, so none does during the test.
  let tight: InProcessNode;
  let at = '';
  beforeAll(async ({ fileNodes }) => {
    tight = await fileNodes.inProcess('limits.test', {
      config: { trustedProxies: ['127.0.0.1'], memberRequestLimits: { perMember: { per_second: 0.001, burst: 6 }, perAddress: { per_second: 0.001, burst: 4 } } },
    });
    at = tight.started.federation_url!;
  });
  let addresses = 0;
  /** An address no request came from yet (behind the trusted proxy). */
  const fresh = () => `203.0.113.${++addresses}`;
  const join = async (localpart: string): Promise<string> => {
    const token = ((await tight.admin('POST', '/members/invites', {})).body.link as string).split('#/join/')[1]!;
    const joined = await client('POST', '/join', { at, from: fresh(), body: { token, localpart, passphrase: PASSPHRASE } });
    expect(joined.status).toBe(200);
    return cookieOf(joined)!;
  };

  it('refuses a member past its own limit from any address: 429 rate_limited with Retry-After, and nothing changes', async () => {
    const ann = await join('ann');
    expect((await client('POST', '/rooms', { at, cookie: ann, body: { name: 'Busy' }, from: fresh() })).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await client('GET', '/me', { at, cookie: ann, from: fresh() })).status).toBe(200);
    const refused = await client('PUT', '/me', { at, cookie: ann, body: { display_name: 'Too Many' }, from: fresh() });
    expect([refused.status, refused.body.error]).toEqual([429, 'rate_limited']);
    expect(refused.body.message).toMatch(/^too many requests from you \(@ann:limits\.test\); retry in \d+ s$/);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    const listed = (await tight.admin('GET', '/members')).body.members as Array<{ user_id: string; display_name: string | null }>;
    expect(listed.find((m) => m.user_id === '@ann:limits.test')?.display_name).toBeNull();
    // Nor does its stream open.
    expect((await openStream(ann, { at, from: fresh() })).status).toBe(429);
  });

  it('refuses an address past its limit, signed in or not, while the member goes on from elsewhere', async () => {
    const bea = await join('bea');
    const shared = fresh();
    for (let i = 0; i < 4; i++) expect((await client('GET', '/me', { at, cookie: bea, from: shared })).status).toBe(200);
    const refused = await client('GET', '/me', { at, cookie: bea, from: shared });
    expect([refused.status, refused.body.error]).toEqual([429, 'rate_limited']);
    expect(refused.body.message).toMatch(new RegExp(`^too many requests from ${shared.replace(/\./g, '\\.')}; retry in \\d+ s$`));
    expect((await client('POST', '/sign-in', { at, body: { localpart: 'bea', passphrase: PASSPHRASE }, from: shared })).status).toBe(429);
    expect((await client('GET', '/me', { at, cookie: bea, from: fresh() })).status).toBe(200);
  });

  it('limits the stream\'s frames too: past the limit a frame is answered 429 and not run', async () => {
    const cy = await join('cy');
    const room = (await client('POST', '/rooms', { at, cookie: cy, body: { name: 'Cy' }, from: fresh() })).body.room_id as string;
    // The set-up takes a token from the member and its address, each frame one more: the address's fifth is refused.
    const stream = await openStream(cy, { at, from: fresh() });
    expect(stream.status).toBe(101);
    for (let id = 1; id <= 3; id++) stream.ws.send(JSON.stringify({ id, op: 'listRooms', input: {} }));
    stream.ws.send(JSON.stringify({ id: 4, op: 'sendMessage', input: { room_id: room, body: 'over the limit' } }));
    for (let id = 1; id <= 3; id++) expect((await stream.next((f) => f.id === id)).ok).toBe(true);
    expect(await stream.next((f) => f.id === 4)).toMatchObject({ ok: false, status: 429, error: 'rate_limited', retry_after: expect.any(Number) });
    stream.ws.close();
    const messages = (await client('GET', `/rooms/${room}/messages`, { at, cookie: cy, from: fresh() })).body.messages as Array<{ body?: string }>;
    expect(messages.map((m) => m.body)).not.toContain('over the limit');
  });

  it('a frame takes its token before it is read: frames refused 400 or 404 count too, past the limit one is answered 429 unread (with the id it opens with), and 20 refused in a row close the stream', async () => {
    const dot = await join('dot');
    const stream = await openStream(dot, { at, from: fresh() });
    expect(stream.status).toBe(101);
    // The set-up took the address's first token; three bad frames take the other three (before: none, they were parsed and checked for free).
    stream.ws.send('{"id": 1, "op": not json');
    stream.ws.send(JSON.stringify({ id: 2, op: 'noSuchOperation', input: {} }));
    stream.ws.send(JSON.stringify({ id: 3, op: 'sendMessage', input: { room_id: 42 } }));
    expect((await stream.next((f) => f.id === null)).error).toBe('malformed_frame');
    expect((await stream.next((f) => f.id === 2)).error).toBe('unknown_operation');
    expect((await stream.next((f) => f.id === 3)).error).toBe('invalid_input');
    stream.ws.send(JSON.stringify({ id: 'fourth', op: 'listRooms', input: {} }));
    expect(await stream.next((f) => f.id === 'fourth')).toMatchObject({ ok: false, status: 429, error: 'rate_limited', retry_after: expect.any(Number) });
    // A client that does not wait as told is cut off: nineteen more refused frames (not parsed: junk after the id) end the stream.
    for (let i = 0; i < 19; i++) stream.ws.send(`{"id": ${100 + i}, ${'['.repeat(10_000)}`);
    // What it sends after the twentieth is not read (nor answered, nor logged).
    for (let i = 0; i < 5; i++) stream.ws.send(`{"id": ${200 + i}, "op": "listRooms", "input": {}}`);
    // Closed with 1013 (try again later), not the 1008 of an ended session (its app would act signed out).
    expect(await stream.closed).toBe(1013);
    expect(stream.frames.filter((f) => f.error === 'rate_limited').map((f) => f.id)).toEqual(['fourth', ...Array.from({ length: 19 }, (_, i) => 100 + i)]);
    expect(stream.frames.filter((f) => typeof f.id === 'number' && f.id >= 200)).toEqual([]);
  });

  it('sends that arrive together (one call for the group) cost a token each, as their frames paid coming in: not twice', async () => {
    const eve = await join('eve');
    const room = (await client('POST', '/rooms', { at, cookie: eve, body: { name: 'Eve' }, from: fresh() })).body.room_id as string;
    // The set-up takes the fresh address's first token; three sends take the other three (before: the group's call took two more, and all three were refused 429).
    const stream = await openStream(eve, { at, from: fresh() });
    expect(stream.status).toBe(101);
    for (let id = 1; id <= 3; id++) stream.ws.send(JSON.stringify({ id, op: 'sendMessage', input: { room_id: room, body: `together ${id}` } }));
    for (let id = 1; id <= 3; id++) expect(await stream.next((f) => f.id === id)).toMatchObject({ ok: true });
    stream.ws.close();
  });
});

describe('what a member\'s sends may cost friends\' servers in a day', () => {
  // Requests were counted, not bytes: 10 long messages a second filled a friend's daily quota for
  // the whole server in minutes (a helper's review). A node whose members may cost friends 200,000
  // bytes a day, 50,000 at once (an event ~1,600 bytes and its body five times: member-limits.ts).
  let wordy: InProcessNode;
  let at = '';
  beforeAll(async ({ fileNodes }) => {
    wordy = await fileNodes.inProcess('wordy.test', {
      config: { trustedProxies: ['127.0.0.1'], memberRequestLimits: { perMember: { per_second: 10, burst: 600 }, perAddress: { per_second: 40, burst: 2_000 }, sendBytesPerDay: 200_000 } },
    });
    at = wordy.started.federation_url!;
  });

  it('sends and edits up to its share, then 429 send_limit_reached and nothing stored; a refused send costs nothing; the owner is not limited', async () => {
    const token = ((await wordy.admin('POST', '/members/invites', {})).body.link as string).split('#/join/')[1]!;
    const joined = await client('POST', '/join', { at, from: '203.0.113.200', body: { token, localpart: 'liz', passphrase: PASSPHRASE } });
    const liz = cookieOf(joined)!;
    const roomId = (await client('POST', '/rooms', { at, cookie: liz, body: { name: 'Long' } })).body.room_id as string;
    const long = 'x'.repeat(4_000);
    const first = await client('POST', `/rooms/${enc(roomId)}/messages`, { at, cookie: liz, body: { body: long } });
    expect(first.status).toBe(200);
    expect((await client('PATCH', `/rooms/${enc(roomId)}/messages/${enc(first.body.event_id as string)}`, { at, cookie: liz, body: { body: long.replace('x', 'y') } })).status).toBe(200);
    const refused = await client('POST', `/rooms/${enc(roomId)}/messages`, { at, cookie: liz, body: { body: long } });
    expect([refused.status, refused.body.error]).toEqual([429, 'send_limit_reached']);
    expect(refused.body.message).toMatch(/have sent as much as a member may for now; try again in \d+ s$/);
    // A send the node refuses (a room it is not in) takes nothing.
    const elsewhere = (await wordy.admin('POST', '/rooms', { name: 'not hers' })).body.room_id as string;
    for (let i = 0; i < 3; i++) expect((await client('POST', `/rooms/${enc(elsewhere)}/messages`, { at, cookie: liz, body: { body: 'x' } })).status).toBe(404);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // A short one still fits; nothing of the refused one was stored.
    expect((await client('POST', `/rooms/${enc(roomId)}/messages`, { at, cookie: liz, body: { body: 'short' } })).status).toBe(200);
    const bodies = ((await wordy.admin('GET', `/rooms/${enc(roomId)}/messages?limit=50`)).body.messages as Array<{ body: string }>).map((m) => m.body.length);
    expect(bodies).toEqual([4_000, 5]);
    const owners = (await wordy.admin('POST', '/rooms', { name: 'the owner\'s' })).body.room_id as string;
    for (let i = 0; i < 4; i++) expect((await wordy.admin('POST', `/rooms/${enc(owners)}/messages`, { body: long })).status).toBe(200);
  });

  it('a message sent again with its txn_id (a retry after a lost answer) costs nothing again: it answers the first event even with the share spent', async () => {
    const token = ((await wordy.admin('POST', '/members/invites', {})).body.link as string).split('#/join/')[1]!;
    const max = cookieOf(await client('POST', '/join', { at, from: '203.0.113.201', body: { token, localpart: 'max', passphrase: PASSPHRASE } }))!;
    const roomId = (await client('POST', '/rooms', { at, cookie: max, body: { name: 'Retries' } })).body.room_id as string;
    const long = 'z'.repeat(4_000);
    const send = (txn_id: string) => client('POST', `/rooms/${enc(roomId)}/messages`, { at, cookie: max, body: { body: long, txn_id } });
    // The room and two long messages leave less than a third of the burst.
    const first = await send('t1');
    const second = await send('t2');
    expect([first.status, second.status]).toEqual([200, 200]);
    // The retries answer the first events (before: 429 send_limit_reached, and a client retrying a lost answer was told it had sent too much).
    for (let i = 0; i < 3; i++) {
      const again = await send('t1');
      expect([again.status, again.body.event_id]).toEqual([200, first.body.event_id]);
    }
    expect((await send('t2')).body.event_id).toBe(second.body.event_id);
    expect((await send('t3')).body.error).toBe('send_limit_reached');
    const bodies = ((await wordy.admin('GET', `/rooms/${enc(roomId)}/messages?limit=50`)).body.messages as Array<{ body: string }>).map((m) => m.body);
    expect(bodies).toEqual([long, long]);
  });
});
