/**
 * Red team (issue #34, docs/SECURITY.md "Members"): a hostile member, or a hostile outsider on
 * the internet, against the members' API of one in-process node (real listeners on 127.0.0.1,
 * real HTTP; 127.0.0.1 is a trusted proxy so X-Forwarded-For names the client).
 */
import WebSocket from 'ws';
import { beforeAll, describe, expect, it, type InProcessNode } from '../helpers/fixtures.ts';
import { ADMIN_STREAM_NOTIFICATIONS, CLIENT_STREAM_PATH } from '../../shared/contract/admin-operations.ts';
import { cookieOf, memberRequest, type MemberAnswer, type MemberRequestOptions } from '../helpers/member-client.ts';

const SERVER = 'home.test';
const PASSPHRASE = 'lantern orbit pickle seventeen';

let home: InProcessNode;
let base: string;

beforeAll(async ({ fileNodes }) => {
  home = await fileNodes.inProcess(SERVER, {
    config: { trustedProxies: ['127.0.0.1'], signInLimits: { perAccount: 3, perAddress: 3, windowMs: 10 * 60_000 } },
  });
  base = home.started.federation_url!;
});

type Answer = MemberAnswer;

const client = (method: string, path: string, options: MemberRequestOptions = {}): Promise<Answer> => memberRequest(base, method, path, options);

async function newMember(localpart: string): Promise<string> {
  const created = await home.admin('POST', '/members/invites', {});
  const token = (created.body.link as string).split('/').pop()!;
  const joined = await client('POST', '/join', { body: { token, localpart, passphrase: PASSPHRASE }, from: '203.0.113.1' });
  expect(joined.status).toBe(200);
  return cookieOf(joined)!;
}

describe('red team: guessing a member\'s passphrase', () => {
  it('guesses sent all at once are limited as if sent one by one (per account and per address)', async () => {
    await newMember('ana');
    // Per account (3): 20 guesses at once, each from its own address.
    const perAccount = await Promise.all(Array.from({ length: 20 }, (_, i) => client('POST', '/sign-in', { body: { localpart: 'ana', passphrase: `guess number ${i} of many` }, from: `198.51.100.${i + 1}` })));
    const checked = perAccount.filter((a) => a.status === 401).length;
    expect(perAccount.every((a) => a.status === 401 || a.status === 429)).toBe(true);
    expect(checked, 'passphrases checked for one account').toBeLessThanOrEqual(3);
    // Per address (3): 20 guesses at once from one address, each at another name.
    const perAddress = await Promise.all(Array.from({ length: 20 }, (_, i) => client('POST', '/sign-in', { body: { localpart: `name${i}`, passphrase: 'guess guess guess' }, from: '192.0.2.77' })));
    expect(perAddress.filter((a) => a.status === 401).length, 'passphrases checked for one address').toBeLessThanOrEqual(3);
    // A sign-in that succeeds is not held against its address: four in a row from one (limit 3).
    await newMember('bea');
    for (let i = 0; i < 4; i++) expect((await client('POST', '/sign-in', { body: { localpart: 'bea', passphrase: PASSPHRASE }, from: '198.51.100.200' })).status).toBe(200);
  }, 60_000);
});

type Frame = { id?: number | string | null; ok?: boolean; result?: Record<string, unknown>; status?: number; error?: string; notification?: { type: string; room_id?: string; event_type?: string; sender?: string } };

/** The status the members' stream's opening answers (101: opened), with these headers. */
async function streamStatus(headers: Record<string, string>): Promise<number> {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${CLIENT_STREAM_PATH}`, ADMIN_STREAM_NOTIFICATIONS, { headers });
  return new Promise<number>((resolve, reject) => {
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      ws.on('error', () => undefined);
      ws.terminate();
      resolve(res.statusCode ?? 0);
    });
  });
}

/** The members' stream as the member app opens it (with the notifications). */
async function openStream(cookie: string) {
  const ws = new WebSocket(`${base.replace(/^http/, 'ws')}${CLIENT_STREAM_PATH}`, ADMIN_STREAM_NOTIFICATIONS, { headers: { origin: new URL(base).origin, cookie: `paracord_member=${cookie}` } });
  const frames: Frame[] = [];
  const waiters: Array<() => void> = [];
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)) as Frame);
    waiters.splice(0).forEach((w) => w());
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const next = async (match: (f: Frame) => boolean): Promise<Frame> => {
    for (;;) {
      const found = frames.find(match);
      if (found) return found;
      await new Promise<void>((resolve) => waiters.push(resolve));
    }
  };
  return { ws, frames, next };
}

describe('red team: keeping every member from signing in', () => {
  it('requests one address is refused take nothing from everybody\'s limit, and link look-ups from many cannot empty the one sign-ins need', async () => {
    await newMember('cyd');
    // One address: its first 30 look-ups are answered, the rest refused by its own limit (but for the
    // half a look-up a second it earns back meanwhile: 130 requests took over 2 s on a loaded CI run).
    const oneAddress: Answer[] = [];
    const startedAt = Date.now();
    for (let i = 0; i < 130; i++) oneAddress.push(await client('POST', '/links/look-up', { body: { token: 'no-such-link' }, from: '203.0.113.90' }));
    const earned = Math.floor(((Date.now() - startedAt) / 1000) * 0.5);
    const answered = oneAddress.filter((a) => a.status === 404).length;
    expect(oneAddress.slice(0, 30).every((a) => a.status === 404)).toBe(true);
    expect(answered).toBeGreaterThanOrEqual(30);
    expect(answered).toBeLessThanOrEqual(30 + earned);
    expect(oneAddress.filter((a) => a.status !== 404).every((a) => a.status === 429 && /from /.test(String(a.body.message)))).toBe(true);
    expect(oneAddress.filter((a) => a.status === 429).length).toBeGreaterThanOrEqual(100 - earned);
    // Four more addresses, 35 each: everybody's look-up limit (a burst of 100) runs out.
    const many = await Promise.all(Array.from({ length: 4 }, async (_, n) => {
      const answers: Answer[] = [];
      for (let i = 0; i < 35; i++) answers.push(await client('POST', '/links/look-up', { body: { token: 'no-such-link' }, from: `203.0.113.${100 + n}` }));
      return answers;
    }));
    expect(many.flat().some((a) => a.status === 429 && /right now/.test(String(a.body.message)))).toBe(true);
    // A member still signs in, from an address of its own.
    const signedIn = await client('POST', '/sign-in', { body: { localpart: 'cyd', passphrase: PASSPHRASE }, from: '198.51.100.250' });
    expect(signedIn.status, JSON.stringify(signedIn.body)).toBe(200);
  }, 60_000);
});

describe('red team: guessing the passphrase with a stolen session', () => {
  it('the current passphrase a new one needs (POST /me/passphrase) is guessed under the sign-in limits, not freely', async () => {
    const gus = await newMember('gus');
    const next = 'copper meadow lantern ninety';
    const answers: Answer[] = [];
    for (let i = 0; i < 6; i++) answers.push(await client('POST', '/me/passphrase', { cookie: gus, body: { current: `is it this one ${i}?`, next }, from: '192.0.2.150' }));
    // Three wrong guesses (the limit per account), then refused without checking, as a sign-in is.
    expect(answers.map((a) => a.status)).toEqual([401, 401, 401, 429, 429, 429]);
    expect(answers[3]!.body.error).toBe('too_many_attempts');
    // They count for the account: signing in is limited too, from anywhere, even with the right passphrase.
    expect((await client('POST', '/sign-in', { body: { localpart: 'gus', passphrase: PASSPHRASE }, from: '192.0.2.151' })).status).toBe(429);
    // Nothing changed: the session still works and the passphrase is the old one.
    expect((await client('GET', '/me', { cookie: gus })).status).toBe(200);
  });
});

describe('red team: a member and the rooms it is not in', () => {
  it('an invitation that expired unanswered shows the room no more: not listed, not readable, no notifications', async () => {
    const cid = await newMember('cid');
    const cidId = `@cid:${SERVER}`;
    const secret = (await home.admin('POST', '/rooms', { name: 'Surprise for Cid' })).body.room_id as string;
    expect((await home.admin('POST', `/rooms/${secret}/invites`, { user_id: cidId, max_age_seconds: 1 })).status).toBe(200);
    // While invited, Cid sees the room (its name and members) and may accept.
    expect(((await client('GET', '/rooms', { cookie: cid })).body.rooms as Array<{ room_id: string }>).map((r) => r.room_id)).toContain(secret);
    await new Promise((r) => setTimeout(r, 1_300));
    // Expired: the invitation is gone from the list, and accepting it is refused …
    expect((await client('GET', '/invites', { cookie: cid })).body.invites).toEqual([]);
    // … and so is the room: as a room Cid is not in.
    expect(((await client('GET', '/rooms', { cookie: cid })).body.rooms as Array<{ room_id: string }>).map((r) => r.room_id)).not.toContain(secret);
    const room = await client('GET', `/rooms/${secret}`, { cookie: cid });
    expect([room.status, room.body.error]).toEqual([404, 'room_not_found']);
    // The stream tells nothing of it: the owner writes there, then in a room Cid is in.
    const open = (await home.admin('POST', '/rooms', { name: 'Everyone' })).body.room_id as string;
    await home.admin('POST', `/rooms/${open}/invites`, { user_id: cidId });
    const invite = ((await client('GET', '/invites', { cookie: cid })).body.invites as Array<{ invite_id: string; room_id: string }>).find((i) => i.room_id === open)!;
    expect((await client('POST', `/invites/${invite.invite_id}/accept`, { cookie: cid, body: {} })).status).toBe(200);
    const { ws, frames, next } = await openStream(cid);
    await home.admin('POST', `/rooms/${secret}/messages`, { body: 'what to buy for Cid' });
    await home.admin('POST', `/rooms/${open}/messages`, { body: 'hello all' });
    await next((f) => f.notification?.room_id === open && f.notification.event_type === 'm.message');
    expect(frames.filter((f) => f.notification?.room_id === secret)).toEqual([]);
    ws.close();
  });

  it('an invitation it declined shows the room no more: not listed, not readable, no notifications; a new invitation shows it again', async () => {
    const flo = await newMember('flo');
    const floId = `@flo:${SERVER}`;
    const room = (await home.admin('POST', '/rooms', { name: 'Declined by Flo' })).body.room_id as string;
    const invited = async () => {
      expect((await home.admin('POST', `/rooms/${room}/invites`, { user_id: floId })).status).toBe(200);
      return ((await client('GET', '/invites', { cookie: flo })).body.invites as Array<{ invite_id: string; room_id: string }>).find((i) => i.room_id === room)!;
    };
    const listed = async () => ((await client('GET', '/rooms', { cookie: flo })).body.rooms as Array<{ room_id: string }>).map((r) => r.room_id);
    const invite = await invited();
    expect(await listed()).toContain(room);
    expect((await client('POST', `/invites/${invite.invite_id}/decline`, { cookie: flo, body: {} })).status).toBe(200);
    expect(await listed()).not.toContain(room);
    const read = await client('GET', `/rooms/${room}`, { cookie: flo });
    expect([read.status, read.body.error]).toEqual([404, 'room_not_found']);
    const { ws, frames, next } = await openStream(flo);
    await home.admin('POST', `/rooms/${room}/messages`, { body: 'after Flo declined' });
    // Twin: invited again, Flo sees the room and hears of it.
    const again = await invited();
    expect(again.invite_id).toBeTruthy();
    expect(await listed()).toContain(room);
    await home.admin('POST', `/rooms/${room}/messages`, { body: 'invited again' });
    await next((f) => f.notification?.room_id === room && f.notification.event_type === 'm.message');
    expect(frames.filter((f) => f.notification?.room_id === room && f.notification.event_type === 'm.message')).toHaveLength(1);
    ws.close();
  });

  it('hears of its own read markers on the stream, never of another member\'s (no operation shows those)', async () => {
    const dee = await newMember('dee');
    const eli = await newMember('eli');
    const room = (await home.admin('POST', '/rooms', { name: 'Readers' })).body.room_id as string;
    for (const [cookie, localpart] of [[dee, 'dee'], [eli, 'eli']] as const) {
      await home.admin('POST', `/rooms/${room}/invites`, { user_id: `@${localpart}:${SERVER}` });
      const invite = ((await client('GET', '/invites', { cookie })).body.invites as Array<{ invite_id: string; room_id: string }>).find((i) => i.room_id === room)!;
      expect((await client('POST', `/invites/${invite.invite_id}/accept`, { cookie, body: {} })).status).toBe(200);
    }
    const sent = (await home.admin('POST', `/rooms/${room}/messages`, { body: 'read me' })).body.event_id as string;
    const { ws, frames, next } = await openStream(dee);
    // Eli reads it, then Dee does: Dee hears of its own marker only.
    expect((await client('POST', `/rooms/${room}/read`, { cookie: eli, body: { event_id: sent } })).status).toBe(200);
    expect((await client('POST', `/rooms/${room}/read`, { cookie: dee, body: { event_id: sent } })).status).toBe(200);
    await next((f) => f.notification?.event_type === 'm.read' && f.notification.sender === `@dee:${SERVER}`);
    expect(frames.filter((f) => f.notification?.event_type === 'm.read' && f.notification.sender !== `@dee:${SERVER}`)).toEqual([]);
    ws.close();
  });
});

describe('red team: another page riding a member\'s session over the stream', () => {
  it('opens the stream for this node\'s own page only, by the same rule as every state-changing request (scheme included)', async () => {
    const fay = await newMember('fay');
    const own = new URL(base).origin;
    const cookie = `paracord_member=${fay}`;
    expect(await streamStatus({ origin: own, cookie })).toBe(101);
    // Behind a trusted proxy that speaks HTTPS to the browser, the node's page is https://<host>: a
    // plain-HTTP page at the same host (anyone on the path can write one) is another origin, as
    // the HTTP API already says (cross_site); the stream runs the same operations.
    // (Over HTTPS the session cookie is a __Host- one: client/member-http.ts.)
    const https = { 'x-forwarded-proto': 'https', cookie: `__Host-${cookie}` };
    expect((await client('POST', '/sign-out', { cookie: fay, body: {}, headers: { 'x-forwarded-proto': 'https' } })).body.error).toBe('cross_site');
    expect(await streamStatus({ ...https, origin: own })).toBe(403);
    expect(await streamStatus({ ...https, origin: own.replace(/^http:/, 'https:') })).toBe(101);
    // Fetch Metadata, where the browser sends it, decides as on HTTP; another site is refused.
    expect(await streamStatus({ origin: own, cookie, 'sec-fetch-site': 'cross-site' })).toBe(403);
    expect(await streamStatus({ origin: 'http://evil.example', cookie })).toBe(403);
  });
});
