/** The admin stream (GET /_paracord/admin/v1/stream): its guards, its frames, grouped sends, shutdown. */
import type { IncomingMessage } from 'node:http';
import { type AddressInfo, Socket, connect as connectTcp, createServer } from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { request } from 'undici';
import WebSocket from 'ws';
import { beforeAll, describe, expect, it, type InProcessNode } from '../../../../test/helpers/fixtures.ts';
import { HttpError } from '../../errors.ts';
import { ADMIN_STREAM_NOTIFICATIONS } from '../../../../shared/contract/admin-operations.ts';
import { STREAM_FRAME_LIMIT, failureAnswer } from './frames.ts';

type Answer = { id: string | number | null; ok: boolean; result?: any; status?: number; error?: string; message?: string };

let alpha: InProcessNode;
let streamUrl: string;
/** The node's debug log lines (JSON). */
const logLines: string[] = [];

beforeAll(async ({ fileNodes }) => {
  const sink = new Writable({ write: (chunk, _enc, done) => (logLines.push(...String(chunk).split('\n').filter(Boolean)), done()) });
  alpha = await fileNodes.inProcess('alpha.test', { log: pino({ level: 'debug' }, sink) });
  streamUrl = `${alpha.started.admin_url.replace(/^http/, 'ws')}/_paracord/admin/v1/stream`;
});

/** An open stream and every answer it got, in arrival order. */
class Client {
  readonly answers: Answer[] = [];
  private waiters: Array<() => void> = [];
  closed: Promise<{ code: number; reason: string }>;
  readonly ws: WebSocket;
  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.on('message', (data) => {
      this.answers.push(JSON.parse(String(data)) as Answer);
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  }
  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }
  async answerTo(id: string | number | null): Promise<Answer> {
    for (;;) {
      const found = this.answers.find((a) => a.id === id);
      if (found) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
  async call(id: string | number, op: string, input?: unknown): Promise<Answer> {
    this.send({ id, op, ...(input === undefined ? {} : { input }) });
    return this.answerTo(id);
  }
}

async function connect(headers: Record<string, string> = { authorization: `Bearer ${alpha.token}` }): Promise<Client> {
  const ws = new WebSocket(streamUrl, { headers });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused: ${res.statusCode}`)));
  });
  return new Client(ws);
}

/** What the node answers an upgrade it refuses: the status and the JSON error. */
async function refusal(headers: Record<string, string>, url = streamUrl): Promise<{ status: number; error: string }> {
  const ws = new WebSocket(url, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, error: (JSON.parse(text) as { error: string }).error }));
    });
  });
}

/** A stream as a signed-in browser page opens it: a fresh session's cookie and the node's own Origin. */
async function signedInStream(): Promise<Client> {
  const host = new URL(alpha.started.admin_url).host;
  const loginUrl = (await alpha.admin('POST', '/login-links')).body.login_url as string;
  const link = await request(loginUrl, { reset: true });
  const cookie = /paracord_session=([^;]+)/.exec(String(link.headers['set-cookie']))![1]!;
  return connect({ cookie: `paracord_session=${cookie}`, origin: `http://${host}` });
}

/**
 * A signed-in browser page of `node` (a fresh session): its admin stream with notifications, and
 * its `GET /events`, read as they come (`text()`, `ended()`).
 */
async function pageStreams(node: InProcessNode) {
  const host = new URL(node.started.admin_url).host;
  const loginUrl = (await node.admin('POST', '/login-links')).body.login_url as string;
  const cookie = `paracord_session=${/paracord_session=([^;]+)/.exec(String((await request(loginUrl, { reset: true })).headers['set-cookie']))![1]!}`;
  const ws = new WebSocket(`${node.started.admin_url.replace(/^http/, 'ws')}/_paracord/admin/v1/stream`, ADMIN_STREAM_NOTIFICATIONS, { headers: { cookie, origin: `http://${host}` } });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const page = new Client(ws);
  const events = await request(`${node.started.admin_url}/_paracord/admin/v1/events`, { headers: { cookie } });
  let text = '';
  events.body.on('data', (chunk) => (text += String(chunk)));
  let ended = false;
  const end = new Promise<void>((resolve) => events.body.on('end', () => ((ended = true), resolve())).on('error', () => ((ended = true), resolve())));
  return { page, cookie, status: events.statusCode, text: () => text, ended: () => ended, end };
}

async function newRoom(name: string): Promise<string> {
  return (await alpha.admin('POST', '/rooms', { name })).body.room_id as string;
}

/** A room's messages, oldest first. */
async function messages(roomId: string, node = alpha): Promise<Array<{ body: string; event_id: string }>> {
  const page = await node.admin('GET', `/rooms/${encodeURIComponent(roomId)}/messages?limit=200`);
  return page.body.messages as Array<{ body: string; event_id: string }>;
}

async function bodies(roomId: string): Promise<string[]> {
  return (await messages(roomId)).map((m) => m.body);
}

describe('admin stream guards (the same as every admin request)', () => {
  it('refuses an upgrade without the token, with a wrong token, a foreign Host or Origin, and a plain GET', async () => {
    expect(await refusal({})).toEqual({ status: 401, error: 'missing_token' });
    expect(await refusal({ authorization: 'Bearer nope' })).toEqual({ status: 401, error: 'invalid_token' });
    expect(await refusal({ authorization: `Bearer ${alpha.token}`, host: 'evil.example' })).toEqual({ status: 403, error: 'host_not_allowed' });
    expect(await refusal({ authorization: `Bearer ${alpha.token}`, origin: 'https://evil.example' })).toEqual({ status: 403, error: 'page_origin_not_allowed' });
    // The path's other spellings are not a way around the checks.
    expect((await refusal({}, streamUrl.replace('/_paracord/', '/_PARACORD/'))).status).toBeGreaterThanOrEqual(400);
    const plain = await request(streamUrl.replace(/^ws/, 'http'), { headers: { authorization: `Bearer ${alpha.token}` } });
    expect(plain.statusCode).toBe(426);
    expect(await plain.body.json()).toMatchObject({ error: 'upgrade_required' });
  });

  it('cuts a refused upgrade even when the client keeps its side open, and refuses other upgrades', async () => {
    const { port } = new URL(alpha.started.admin_url);
    const raw = async (head: string) => {
      const socket = connectTcp({ host: '127.0.0.1', port: Number(port), allowHalfOpen: false });
      let text = '';
      let closed = false;
      socket.on('data', (chunk) => (text += chunk));
      socket.on('close', () => (closed = true));
      socket.write(head);
      await expect.poll(() => closed, { message: head.slice(0, 40) + " got " + JSON.stringify(text.slice(0, 80)) }).toBe(true);
      return text;
    };
    const key = 'dGhlIHNhbXBsZSBub25jZQ==';
    const noToken = await raw(`GET /_paracord/admin/v1/stream HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nconnection: upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: ${key}\r\n\r\n`);
    expect(noToken).toMatch(/^HTTP\/1\.1 401/);
    expect(noToken).toContain('missing_token');
    const otherProtocol = await raw(`GET /_paracord/admin/v1/status HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer ${alpha.token}\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n`);
    expect(otherProtocol).toMatch(/^HTTP\/1\.1 400/);
    expect(otherProtocol).toContain('bad_upgrade');
    const before = (await alpha.admin('GET', '/rooms')).body;
    const post = await raw(`POST /_paracord/admin/v1/rooms HTTP/1.1\r\nhost: 127.0.0.1:${port}\r\nauthorization: Bearer ${alpha.token}\r\nconnection: upgrade\r\nupgrade: websocket\r\ncontent-type: application/json\r\ncontent-length: 13\r\n\r\n{"name":"x"}`);
    expect(post).toMatch(/^HTTP\/1\.1 400/);
    expect((await alpha.admin('GET', '/rooms')).body).toEqual(before);
  });

  it('accepts a page of this very host (the UI), and the session cookie of a signed-in browser until it signs out', async () => {
    const host = new URL(alpha.started.admin_url).host;
    const own = await connect({ authorization: `Bearer ${alpha.token}`, origin: `http://${host}` });
    expect((await own.call(1, 'getStatus')).ok).toBe(true);
    own.ws.close();

    const link = await request(alpha.started.login_url!, { reset: true });
    const cookie = /paracord_session=([^;]+)/.exec(String(link.headers['set-cookie']))![1]!;
    const browser = await connect({ cookie: `paracord_session=${cookie}`, origin: `http://${host}` });
    expect((await browser.call('a', 'getStatus')).ok).toBe(true);
    expect(await browser.call('b', 'logout', {})).toMatchObject({ ok: true, result: { signed_out: true } });
    // The session ended: the stream closes once the sign-out is answered (its status notification
    // has every stream check its credential again), and the cookie is refused.
    expect((await browser.closed).code).toBe(1008);
    const after = await request(`${alpha.started.admin_url}/_paracord/admin/v1/status`, { headers: { cookie: `paracord_session=${cookie}` } });
    expect(after.statusCode).toBe(401);
    expect(await after.body.json()).toMatchObject({ error: 'session_ended' });
  });

  it('runs a logout alone: frames read with it wait for it and are refused once the session ended', async () => {
    const browser = await signedInStream();
    const roomId = await newRoom('after logout');
    const socket = (browser.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.cork();
    browser.send({ id: 'out', op: 'logout', input: {} });
    browser.send({ id: 'after', op: 'sendMessage', input: { room_id: roomId, body: 'sent after signing out' } });
    socket.uncork();
    expect(await browser.answerTo('out')).toMatchObject({ ok: true, result: { signed_out: true } });
    expect(await browser.answerTo('after')).toMatchObject({ ok: false, status: 401, error: 'session_ended' });
    expect((await browser.closed).code).toBe(1008);
    expect(await bodies(roomId)).toEqual([]);
  });
});

describe('admin stream, a session that ends', () => {
  it('answers what was under way before it closes (1008), so what a close leaves unanswered was never run', async () => {
    const browser = await signedInStream();
    const roomId = await newRoom('under way at logout');
    const socket = (browser.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.cork();
    browser.send({ id: 'before', op: 'sendMessage', input: { room_id: roomId, body: 'sent before signing out' } });
    browser.send({ id: 'out', op: 'logout', input: {} });
    browser.send({ id: 'after', op: 'sendMessage', input: { room_id: roomId, body: 'sent after signing out' } });
    socket.uncork();
    const closed = await browser.closed;
    expect(closed.code).toBe(1008);
    // Every frame got its answer before the close: the send under way too.
    expect(browser.answers.find((a) => a.id === 'before')).toMatchObject({ ok: true });
    expect(browser.answers.find((a) => a.id === 'out')).toMatchObject({ ok: true });
    expect(browser.answers.find((a) => a.id === 'after')).toMatchObject({ ok: false, status: 401 });
    expect(await bodies(roomId)).toEqual(['sent before signing out']);
  });
});

describe('a session revoked elsewhere', () => {
  it("gets nothing more on its stream or its `GET /events`, not even the status change that announced its end, and both close", { timeout: 8000 }, async () => {
    const streams = await pageStreams(alpha);
    const { page } = streams;
    expect(streams.status).toBe(200);
    const session = ((await page.call('who', 'listSessions')).result.sessions as Array<{ id: string; current: boolean }>).find((s) => s.current)!.id;

    // Twin: while the session holds, both streams are told of a new room.
    const roomId = await newRoom('seen until revoked');
    await alpha.admin('POST', `/rooms/${encodeURIComponent(roomId)}/messages`, { body: 'seen' });
    const told = (frame: Answer) => (frame as { notification?: { room_id?: string } }).notification?.room_id === roomId;
    await expect.poll(() => page.answers.some(told), { message: JSON.stringify(page.answers) + streams.text() }).toBe(true);
    await expect.poll(() => streams.text().includes(roomId)).toBe(true);
    // Until both streams have been quiet for 300 ms: what the room and its message changed (the
    // node's status among it) is told before the revocation, however late a busy machine runs it.
    let [frames, chars] = [-1, -1];
    while (frames !== page.answers.length || chars !== streams.text().length) {
      [frames, chars] = [page.answers.length, streams.text().length];
      await new Promise((resolve) => setTimeout(resolve, 300));
    }

    expect((await alpha.admin('DELETE', `/sessions/${session}`)).status).toBe(200);
    expect((await page.closed).code).toBe(1008);
    await streams.end;
    await alpha.admin('POST', '/rooms', { name: 'after the revocation' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(page.answers.slice(frames)).toEqual([]);
    expect(streams.text().slice(chars)).toBe('');
  });
});

describe('a session revoked or signed out, and nothing else changes', () => {
  it.for(['revoked elsewhere', 'signed out on another stream'])('%s: its streams hear nothing of the next message and close', async (how) => {
    const host = new URL(alpha.started.admin_url).host;
    const roomId = await newRoom(`quiet after ${how}`);
    const streams = await pageStreams(alpha);
    const { page, cookie } = streams;
    const session = ((await page.call('who', 'listSessions')).result.sessions as Array<{ id: string; current: boolean }>).find((s) => s.current)!.id;
    const told = (eventId: string) => () => page.answers.some((frame) => JSON.stringify(frame).includes(eventId)) || streams.text().includes(eventId);

    // Twin: while the session holds, both streams are told of a message.
    const seen = (await alpha.admin('POST', `/rooms/${encodeURIComponent(roomId)}/messages`, { body: 'seen' })).body.event_id as string;
    await expect.poll(() => page.answers.some((frame) => JSON.stringify(frame).includes(seen)) && streams.text().includes(seen)).toBe(true);

    if (how === 'revoked elsewhere') expect((await alpha.admin('DELETE', `/sessions/${session}`)).status).toBe(200);
    else {
      // The same browser session, signed out from another tab's stream.
      const other = await connect({ cookie, origin: `http://${host}` });
      expect(await other.call('out', 'logout', {})).toMatchObject({ ok: true, result: { signed_out: true } });
    }
    // Nothing else happens on the node but one message: the ended session is told nothing of it.
    const unseen = (await alpha.admin('POST', `/rooms/${encodeURIComponent(roomId)}/messages`, { body: 'not for a revoked session' })).body.event_id as string;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(told(unseen)()).toBe(false);
    await expect.poll(() => page.ws.readyState === WebSocket.CLOSED && streams.ended()).toBe(true);
    expect((await page.closed).code).toBe(1008);
  });
});

describe('a session that expires while its streams are open', () => {
  it('is told nothing after its expiry, and both streams close (the twin before it is told)', async ({ nodes }) => {
    const zeta = await nodes.inProcess('zeta.test', { config: { sessionTtlSeconds: 2 } });
    const roomId = (await zeta.admin('POST', '/rooms', { name: 'until it expires' })).body.room_id as string;
    const streams = await pageStreams(zeta);
    const { page, cookie } = streams;
    const heard = (eventId: string) => page.answers.some((frame) => JSON.stringify(frame).includes(eventId)) || streams.text().includes(eventId);
    const say = async (body: string) => (await zeta.admin('POST', `/rooms/${encodeURIComponent(roomId)}/messages`, { body })).body.event_id as string;

    // Twin: while the session holds, both streams are told.
    const seen = await say('before the expiry');
    await expect.poll(() => page.answers.some((frame) => JSON.stringify(frame).includes(seen)) && streams.text().includes(seen)).toBe(true);
    // (The status change that follows a message has the credential checked, which counts as a use.)
    await expect.poll(() => streams.text().includes('event: status')).toBe(true);

    // Unused past its lifetime: the cookie is refused, and the streams hear nothing more.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect((await request(`${zeta.started.admin_url}/_paracord/admin/v1/status`, { headers: { cookie } })).statusCode).toBe(401);
    const unseen = await say('after the expiry');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(heard(unseen)).toBe(false);
    await expect.poll(() => page.ws.readyState === WebSocket.CLOSED && streams.ended()).toBe(true);
    expect((await page.closed).code).toBe(1008);
  });
});

describe('a session that ends while its requests wait for a free slot of the node', () => {
  it('runs none of them afterwards (the twin, not revoked, runs them)', async ({ nodes }) => {
    // One handler call at a time on this node: a slow one holds the slot, the next request waits.
    const epsilon = await nodes.inProcess('epsilon.test', { config: { adminStreamLimits: { perNode: 1 } } });
    const held = new Set<Socket>();
    const hanging = createServer((socket) => held.add(socket.on('close', () => held.delete(socket))));
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    nodes.servers.push(hanging);
    const endpoint = `http://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    const host = new URL(epsilon.started.admin_url).host;
    const roomId = (await epsilon.admin('POST', '/rooms', { name: 'queued behind a slow request' })).body.room_id as string;
    const said = async () => ((await epsilon.admin('GET', `/rooms/${encodeURIComponent(roomId)}/messages?limit=200`)).body.messages as Array<{ body: string }>).map((m) => m.body);

    const run = async (body: string, revoke: boolean) => {
      const loginUrl = (await epsilon.admin('POST', '/login-links')).body.login_url as string;
      const cookie = /paracord_session=([^;]+)/.exec(String((await request(loginUrl, { reset: true })).headers['set-cookie']))![1]!;
      const ws = new WebSocket(`${epsilon.started.admin_url.replace(/^http/, 'ws')}/_paracord/admin/v1/stream`, { headers: { cookie: `paracord_session=${cookie}`, origin: `http://${host}` } });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const page = new Client(ws);
      const session = ((await page.call('who', 'listSessions')).result.sessions as Array<{ id: string; current: boolean }>).find((s) => s.current)!.id;
      const socket = (ws as unknown as { _socket: Socket })._socket;
      socket.cork();
      // Read together: the credential is checked once for both; the second waits for the first's slot.
      page.send({ id: 'slow', op: 'addPeer', input: { endpoint } });
      page.send({ id: 'queued', op: 'sendMessage', input: { room_id: roomId, body } });
      socket.uncork();
      await expect.poll(() => held.size).toBeGreaterThan(0);
      if (revoke) {
        expect((await epsilon.admin('DELETE', `/sessions/${session}`)).status).toBe(200);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      for (const s of held) s.destroy();
      expect(await page.answerTo('slow')).toMatchObject({ ok: false, status: 502 });
      return { page, queued: await page.answerTo('queued') };
    };

    // Twin: while the session holds, the queued message is sent once the slot is free.
    const twin = await run('sent while signed in', false);
    expect(twin.queued).toMatchObject({ ok: true });
    twin.page.ws.close();
    expect(await said()).toEqual(['sent while signed in']);

    // Revoked elsewhere while the message waited: refused, not sent, and the stream closes.
    const revoked = await run('sent after the revocation', true);
    expect(revoked.queued).toMatchObject({ ok: false, status: 401 });
    expect((await revoked.page.closed).code).toBe(1008);
    expect(await said()).toEqual(['sent while signed in']);
  });
});

describe('admin stream limits', () => {
  let gamma: InProcessNode;
  const gammaLog: string[] = [];
  beforeAll(async ({ fileNodes }) => {
    const sink = new Writable({ write: (chunk, _enc, done) => (gammaLog.push(...String(chunk).split('\n').filter(Boolean)), done()) });
    gamma = await fileNodes.inProcess('gamma.test', { log: pino({ level: 'debug' }, sink), config: { adminStreamLimits: { pingMs: 100, perNode: 8 } } });
  });
  const open = async (options: { autoPong?: boolean } = {}) => {
    const ws = new WebSocket(`${gamma.started.admin_url.replace(/^http/, 'ws')}/_paracord/admin/v1/stream`, { headers: { authorization: `Bearer ${gamma.token}` }, ...options });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    return new Client(ws);
  };

  it('cuts a stream that stops answering pings, and keeps one that answers them', async () => {
    const silent = await open({ autoPong: false });
    const answering = await open();
    expect((await silent.closed).code).toBe(1006);
    expect(gammaLog.some((l) => l.includes('"stream_unresponsive"'))).toBe(true);
    // Several ping intervals later the answering stream is still open and still works.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect((await answering.call('still', 'getStatus')).ok).toBe(true);
    answering.ws.close();
  });

  it('stops reading every stream while the node has too many requests under way, then answers and stores all of them', async () => {
    const roomId = (await gamma.admin('POST', '/rooms', { name: 'node budget' })).body.room_id as string;
    const clients = [await open(), await open()];
    const ids: string[][] = [[], []];
    for (const [k, client] of clients.entries()) {
      const socket = (client.ws as unknown as { _socket: import('node:net').Socket })._socket;
      socket.cork();
      for (let i = 0; i < 30; i++) {
        const id = `s${k}-${i}`;
        ids[k]!.push(id);
        // Status reads are not grouped: each is one request under way.
        client.send(i % 3 === 0 ? { id, op: 'sendMessage', input: { room_id: roomId, body: id } } : { id, op: 'getStatus' });
      }
      socket.uncork();
    }
    const answers = await Promise.all(clients.flatMap((client, k) => ids[k]!.map((id) => client.answerTo(id))));
    expect(answers.every((a) => a.ok)).toBe(true);
    const paused = gammaLog.map((l) => JSON.parse(l) as { event?: string; pending?: number; node_pending?: number }).filter((l) => l.event === 'stream_paused');
    // Paused by the node's budget (8), far below the stream's own (1,024).
    expect(paused.length).toBeGreaterThan(0);
    expect(paused.every((p) => p.node_pending! >= 8 && p.pending! < 1_024)).toBe(true);
    const stored = (await gamma.admin('GET', `/rooms/${encodeURIComponent(roomId)}/messages?limit=200`)).body.messages as Array<{ body: string }>;
    expect(stored.map((m) => m.body).sort()).toEqual(ids.flatMap((list) => list.filter((_, i) => i % 3 === 0)).sort());
    for (const client of clients) client.ws.close();
  });

  it.for([
    { cap: 'the node holds too many (past its cap across streams)', limits: { unreadPerNode: 256 * 1024 }, requests: 60, why: 'across streams' },
    { cap: 'it alone holds 16 MiB', limits: {}, requests: 110, why: 'stopped reading its answers' },
  ])('cuts a stream whose client leaves answers unread once $cap, and only that one', async ({ limits, requests, why }, { nodes }) => {
    // A node of its own: pings far apart (a client that stops reading stops answering pings too).
    const deltaLog: string[] = [];
    const sink = new Writable({ write: (chunk, _enc, done) => (deltaLog.push(...String(chunk).split('\n').filter(Boolean)), done()) });
    const delta = await nodes.inProcess('delta.test', { log: pino({ level: 'debug' }, sink), config: { adminStreamLimits: limits } });
    const roomId = (await delta.admin('POST', '/rooms', { name: 'big answers' })).body.room_id as string;
    const long = 'x'.repeat(3_900);
    await delta.admin('POST', `/rooms/${encodeURIComponent(roomId)}/messages/batch`, { messages: Array.from({ length: 50 }, (_, i) => ({ body: `${i} ${long}` })) });
    const url = `${delta.started.admin_url.replace(/^http/, 'ws')}/_paracord/admin/v1/stream`;
    const [reader, hoarder] = await Promise.all([0, 1].map(async () => {
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${delta.token}` } });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      return new Client(ws);
    })) as [Client, Client];
    // The hoarder stops reading: its answers (~200 KB each) pile up in the node's memory once the kernel's buffers are full.
    const socket = (hoarder.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.pause();
    for (let i = 0; i < requests; i++) hoarder.send({ id: i, op: 'listMessages', input: { room_id: roomId, limit: 50 } });
    await expect.poll(() => deltaLog.some((l) => l.includes('"stream_cut"') && l.includes(why)), { timeout: 20_000 }).toBe(true);
    socket.resume();
    expect((await hoarder.closed).code).toBe(1006);
    // The stream that reads is untouched.
    expect((await reader.call('after', 'listMessages', { room_id: roomId, limit: 50 })).ok).toBe(true);
    reader.ws.close();
  });

  it('carries a Retry-After into the answer as retry_after (seconds)', () => {
    expect(failureAnswer(new HttpError(429, 'rate_limited', 'slow down', { 'retry-after': '7' }))).toEqual({ ok: false, status: 429, error: 'rate_limited', message: 'slow down', retry_after: 7 });
    expect(failureAnswer(new HttpError(404, 'unknown_room', 'no such room'))).toEqual({ ok: false, status: 404, error: 'unknown_room', message: 'no such room' });
    expect(failureAnswer(new Error('secret detail'))).toEqual({ ok: false, status: 500, error: 'internal_error', message: expect.not.stringContaining('secret') });
  });
});

describe('admin stream frames', () => {
  it('runs any operation of the admin contract, answering with its result', async () => {
    const client = await connect();
    const created = await client.call('new', 'createRoom', { name: 'over the stream' });
    expect(created.ok).toBe(true);
    const roomId = created.result.room_id as string;
    const rooms = (await alpha.admin('GET', '/rooms')).body.rooms as Array<{ room_id: string }>;
    expect(rooms.map((r) => r.room_id)).toContain(roomId);
    const status = await client.call(2, 'getStatus');
    expect(status.result).toMatchObject({ server_name: 'alpha.test' });
    client.ws.close();
  });

  it('answers bad frames one by one, changes nothing, and keeps the stream open', async () => {
    const client = await connect();
    const roomId = await newRoom('bad frames');
    const roomsBefore = (await alpha.admin('GET', '/rooms')).body;
    client.send('{"id": 1, "op": ');
    expect(await client.answerTo(null)).toMatchObject({ ok: false, status: 400, error: 'malformed_frame' });
    const cases: Array<[unknown, number, string]> = [
      [{ id: 'no-op' }, 400, 'malformed_frame'],
      [{ id: 'extra', op: 'status', admin: true }, 400, 'malformed_frame'],
      [{ id: 'unknown', op: 'dropDatabase' }, 404, 'unknown_operation'],
      [{ id: 'proto', op: '__proto__' }, 404, 'unknown_operation'],
      [{ id: 'ctor', op: 'constructor' }, 404, 'unknown_operation'],
      [{ id: 'field', op: 'createRoom', input: { name: 'x', owner: 'me' } }, 400, 'invalid_input'],
      [{ id: 'empty', op: 'sendMessage', input: { room_id: roomId, body: '' } }, 400, 'invalid_input'],
      [{ id: 'input', op: 'createRoom', input: ['x'] }, 400, 'malformed_frame'],
      [{ id: 'nowhere', op: 'sendMessage', input: { room_id: '!nowhere:alpha.test', body: 'hi' } }, 404, 'unknown_room'],
    ];
    for (const [frame, status, error] of cases) {
      const id = (frame as { id: string }).id;
      client.send(frame);
      const answer = await client.answerTo(id);
      expect(answer, id).toMatchObject({ ok: false, status, error });
      expect(answer.message!.length, id).toBeGreaterThan(5);
    }
    client.ws.send(Buffer.from('{}'), { binary: true });
    await expect.poll(() => client.answers.filter((a) => a.id === null).length).toBe(2);
    expect((await alpha.admin('GET', '/rooms')).body).toEqual(roomsBefore);
    expect(await bodies(roomId)).toEqual([]);
    expect((await client.call('still', 'getStatus')).ok).toBe(true);
    client.ws.close();
  });

  it('cuts a frame over the size limit (1009) and nothing is stored', async () => {
    const client = await connect();
    const roomId = await newRoom('too large');
    client.send({ id: 1, op: 'sendMessage', input: { room_id: roomId, body: 'x'.repeat(STREAM_FRAME_LIMIT) } });
    expect((await client.closed).code).toBe(1009);
    expect(await bodies(roomId)).toEqual([]);
  });
});

describe('notifications over the stream (the browser UI\'s live updates)', () => {
  it('come to a stream opened with the paracord.notifications subprotocol, as frames without an id, and to no other stream', async () => {
    const headers = { authorization: `Bearer ${alpha.token}` };
    const open = async (protocols: string[]) => {
      const ws = new WebSocket(streamUrl, protocols, { headers });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      return new Client(ws);
    };
    const subscribed = await open(['paracord.notifications']);
    const plain = await open([]);
    expect(subscribed.ws.protocol).toBe('paracord.notifications');
    const roomId = (await subscribed.call(1, 'createRoom', { name: 'notified' })).result.room_id as string;
    await subscribed.call(2, 'sendMessage', { room_id: roomId, body: 'hello' });
    await plain.call(3, 'getStatus');
    const notifications = () => subscribed.answers.filter((a) => a.id === undefined).map((a) => (a as unknown as { notification: { type: string; room_id?: string; event_type?: string } }).notification);
    await expect.poll(() => notifications().some((n) => n.type === 'room' && n.room_id === roomId && n.event_type === 'm.message')).toBe(true);
    // The other stream carries answers only.
    expect(plain.answers.every((a) => a.id !== undefined)).toBe(true);
    subscribed.ws.close();
    plain.ws.close();
  });
});

describe('sends over the stream', () => {
  it('stores sends that come together in frame order, each answered with its own event id once stored', async () => {
    const client = await connect();
    const [one, two] = [await newRoom('stream one'), await newRoom('stream two')];
    // One write: the node reads these frames together and stores each run of one room's sends as
    // one batch; the bad frame in the middle is answered alone and the others are kept.
    const frames: unknown[] = [];
    for (let i = 0; i < 40; i++) frames.push({ id: `m${i}`, op: 'sendMessage', input: { room_id: i % 10 === 9 ? two : one, body: `message ${i}` } });
    frames.splice(20, 0, { id: 'bad', op: 'sendMessage', input: { room_id: one, body: '' } });
    const socket = (client.ws as unknown as { _socket: import('node:net').Socket })._socket;
    // The node's writes on its side of this stream (its local port is the admin port).
    const adminPort = Number(new URL(alpha.started.admin_url).port);
    let nodeWrites = 0;
    const { _write: write, _writev: writev } = Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
    const counted = (original: (...args: unknown[]) => unknown) =>
      function (this: Socket, ...args: unknown[]) {
        if (this.localPort === adminPort) nodeWrites++;
        return original.apply(this, args);
      };
    Object.assign(Socket.prototype, { _write: counted(write), _writev: counted(writev) });
    socket.cork();
    for (const frame of frames) client.send(frame);
    socket.uncork();
    const answers = await Promise.all(frames.map((f) => client.answerTo((f as { id: string }).id))).finally(() => Object.assign(Socket.prototype, { _write: write, _writev: writev }));
    // Answers settled together leave together (the socket is corked for the turn): 41 answers in
    // a few writes, not one write (a system call) each.
    expect(nodeWrites).toBeGreaterThan(0);
    expect(nodeWrites).toBeLessThan(frames.length / 2);
    expect(answers.find((a) => a.id === 'bad')).toMatchObject({ ok: false, error: 'invalid_input' });
    const sent = answers.filter((a) => a.id !== 'bad');
    expect(sent.every((a) => a.ok && /^\$.+:alpha\.test$/.test(a.result.event_id))).toBe(true);
    expect(new Set(sent.map((a) => a.result.event_id)).size).toBe(40);
    // They were dispatched in groups (one job each), not one by one.
    const groups = logLines.map((l) => JSON.parse(l) as { event?: string; op?: string; count?: number }).filter((l) => l.event === 'stream_requests' && l.op === 'sendMessages');
    expect(groups.reduce((n, g) => n + g.count!, 0)).toBeGreaterThan(1);
    // Each answer names the event that holds its own message, and each room keeps the frames' order.
    for (const room of [one, two]) {
      const stored = await messages(room);
      const wanted = Array.from({ length: 40 }, (_, i) => i).filter((i) => (i % 10 === 9 ? two : one) === room);
      expect(stored.map((m) => m.body)).toEqual(wanted.map((i) => `message ${i}`));
      expect(stored.map((m) => m.event_id)).toEqual(wanted.map((i) => answers.find((a) => a.id === `m${i}`)!.result.event_id));
    }
    client.ws.close();
  });
});

describe('a stream when its node stops', () => {
  it('answers what is under way, closes with 1001, and every send answered ok is stored after a restart', async ({ nodes }) => {
    const beta = await nodes.inProcess('beta.test');
    const roomId = (await beta.admin('POST', '/rooms', { name: 'stopping' })).body.room_id as string;
    const ws = new WebSocket(`${beta.started.admin_url.replace(/^http/, 'ws')}/_paracord/admin/v1/stream`, { headers: { authorization: `Bearer ${beta.token}` } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const client = new Client(ws);
    for (let i = 0; i < 200; i++) client.send({ id: i, op: 'sendMessage', input: { room_id: roomId, body: `before stop ${i}` } });
    await client.answerTo(0);
    await beta.node.stop();
    expect((await client.closed).code).toBe(1001);
    const answered = client.answers.filter((a) => a.ok).map((a) => a.id as number);
    expect(answered.length).toBeGreaterThan(0);
    // Requests that came after the stop began were refused in words, never silently dropped.
    // Each with its own id: the client knows which were not done.
    expect(client.answers.filter((a) => !a.ok).every((a) => a.error === 'node_stopping' && typeof a.id === 'number')).toBe(true);
    const restarted = await nodes.inProcess('beta.test', { dataDir: beta.dataDir });
    const stored = new Set((await messages(roomId, restarted)).map((m) => m.body));
    for (const id of answered) expect(stored.has(`before stop ${id}`), `message ${id}`).toBe(true);
  });
});
