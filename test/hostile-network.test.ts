/**
 * Issue #14, the HTTP edge (items 6, 7, 9, 11, 12, 13), each attack replayed through the real
 * listener of a real node: idle-connection floods and slowloris, an anonymous peering flood,
 * path spellings that dodged the pause check, X-Forwarded-For from the wrong hosts, a full disk
 * under the log. Linux routes all of 127.0.0.0/8 to lo, so 127.0.0.2… are other clients.
 */
import { mkdirSync, symlinkSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { pino } from 'pino';
import { Agent, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequestHeaders } from '../main/core/federation/request-signature.ts';
import { FakePeer } from './helpers/fake-peer.ts';
import { startInProcessNode } from './helpers/in-process-node.ts';
import { eventually } from './helpers/rooms.ts';
import { removeTempDirs } from './helpers/temp-dir.ts';
import { makeEvent, wire } from './helpers/events.ts';

type InProcessNode = Awaited<ReturnType<typeof startInProcessNode>>;

const nodes: InProcessNode[] = [];
const fakes: FakePeer[] = [];
const sockets: Socket[] = [];
const agents = new Map<string, Agent>();

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await Promise.all([...agents.values()].map((a) => a.close()));
  await Promise.all(nodes.map((n) => n.node.stop(1_000)));
  await Promise.all(fakes.map((f) => f.stop()));
  removeTempDirs();
});

async function startNode(name: string, options: Parameters<typeof startInProcessNode>[1] = {}): Promise<InProcessNode> {
  const node = await startInProcessNode(name, options);
  nodes.push(node);
  return node;
}

/** A fake peer the node has added (so its signed requests are allowed). */
async function friendOf(node: InProcessNode, name: string): Promise<FakePeer> {
  const fake = await new FakePeer(name).start();
  fakes.push(fake);
  const added = await node.admin('POST', '/peers', { server_name: name, endpoint: fake.url });
  expect(added.status, JSON.stringify(added.body)).toBe(200);
  return fake;
}

function agentFrom(localAddress: string): Agent {
  let agent = agents.get(localAddress);
  if (!agent) {
    agent = new Agent({ localAddress });
    agents.set(localAddress, agent);
  }
  return agent;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** One HTTP request from a chosen loopback address. */
async function send(from: string, baseUrl: string, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const response = await request(baseUrl + path, { dispatcher: agentFrom(from), method: method as 'GET', headers, body });
  const text = await response.body.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: response.statusCode, headers: response.headers, body: parsed };
}

function signed(fake: FakePeer, method: string, path: string, body = ''): Record<string, string> {
  return { ...signRequestHeaders(fake.identity, method, path, body), ...(body ? { 'content-type': 'application/json' } : {}) };
}

/**
 * One request written byte for byte on a socket (fetch clients normalize `/./` and `/../`
 * away before sending, which would hide the very spellings under test).
 */
async function sendExact(baseUrl: string, method: string, path: string, headers: Record<string, string> = {}, body = ''): Promise<Answer> {
  const { hostname, port, host } = new URL(baseUrl);
  const socket = connect({ host: hostname, port: Number(port) });
  sockets.push(socket);
  const head = [`${method} ${path} HTTP/1.1`, `Host: ${host}`, 'Connection: close', `Content-Length: ${Buffer.byteLength(body)}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  await new Promise<void>((resolve, reject) => socket.once('close', () => resolve()).once('error', reject));
  const text = Buffer.concat(chunks).toString('utf8');
  const [rawHead = '', rawBody = ''] = text.split('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(rawHead)?.[1] ?? 0);
  let parsed: unknown;
  try {
    parsed = JSON.parse(rawBody);
  } catch {
    parsed = rawBody;
  }
  return { status, headers: {}, body: parsed };
}

/** A raw TCP connection from `from`, with what it received and whether it was closed. */
function openSocket(url: string, from: string): { socket: Socket; received: () => string; closed: Promise<void>; isClosed: () => boolean } {
  const { hostname, port } = new URL(url);
  const socket = connect({ host: hostname, port: Number(port), localAddress: from });
  sockets.push(socket);
  let data = '';
  let closed = false;
  socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
  socket.on('error', () => {});
  const done = new Promise<void>((resolve) => socket.once('close', () => {
    closed = true;
    resolve();
  }));
  return { socket, received: () => data, closed: done, isClosed: () => closed };
}

const KEY_CACHE = '/_paracord/federation/v1/keys/cache?server_name=friend.test';

describe('6. connection limits and timeouts', () => {
  let node: InProcessNode;
  let friend: FakePeer;
  const lines: Array<Record<string, unknown>> = [];

  beforeAll(async () => {
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
    node = await startNode('limits.test', { config: { maxConnectionsPerAddress: 8, maxConnections: 40 }, log });
    friend = await friendOf(node, 'friend.test');
  });

  it('closes idle connections over the per-address limit at once, keeps the rest, and still serves a signed request from elsewhere', async () => {
    const url = node.started.federation_url!;
    const flood = Array.from({ length: 20 }, () => openSocket(url, '127.0.0.1'));
    await Promise.all(flood.map((c) => new Promise<void>((resolve) => c.socket.once('connect', () => resolve()).once('close', () => resolve()))));
    await eventually(async () => expect(flood.filter((c) => c.isClosed())).toHaveLength(12));
    // The excess is closed without an answer; the 8 allowed stay open (idle, within the timeouts).
    expect(flood.filter((c) => c.isClosed()).every((c) => c.received() === '')).toBe(true);
    expect(flood.filter((c) => !c.isClosed())).toHaveLength(8);

    const legit = await send('127.0.0.2', url, 'GET', KEY_CACHE, signed(friend, 'GET', KEY_CACHE));
    expect(legit.status, JSON.stringify(legit.body)).toBe(200);
    expect(legit.body.server_name).toBe('friend.test');
    for (const c of flood) c.socket.destroy();
  });

  it('closes connections over the total, and logs the refusals rate-limited (a handful of lines, not one per socket)', async () => {
    const url = node.started.federation_url!;
    const before = lines.filter((l) => l.event === 'connection_refused' && l.reason === 'total').length;
    // 8 addresses × 8 connections = 64, over the total of 40.
    const crowd = Array.from({ length: 64 }, (_, i) => openSocket(url, `127.0.1.${1 + (i % 8)}`));
    await eventually(async () => expect(crowd.filter((c) => c.isClosed()).length).toBeGreaterThanOrEqual(24));
    const refusedLines = lines.filter((l) => l.event === 'connection_refused' && l.reason === 'total').length - before;
    expect(refusedLines).toBeGreaterThan(0);
    expect(refusedLines).toBeLessThanOrEqual(5);
    for (const c of crowd) c.socket.destroy();
    // Once they are gone, the node serves again.
    await eventually(async () => {
      const legit = await send('127.0.0.2', url, 'GET', KEY_CACHE, signed(friend, 'GET', KEY_CACHE));
      expect(legit.status).toBe(200);
    });
  });
});

describe('6. slow requests', () => {
  let node: InProcessNode;
  let friend: FakePeer;

  beforeAll(async () => {
    node = await startNode('slow.test', { config: { headersTimeoutMs: 300, requestTimeoutMs: 3_000, keepAliveTimeoutMs: 500, bodyTimeoutMs: 300 } });
    friend = await friendOf(node, 'friend.test');
  });

  it('closes a slowloris connection (headers dribbled) and an idle one with 408; legitimate requests still work', async () => {
    const url = node.started.federation_url!;
    const idle = openSocket(url, '127.0.0.1');
    const slow = openSocket(url, '127.0.0.1');
    slow.socket.write('GET /_paracord/federation/v1/keys HTTP/1.1\r\nHost: slow.test\r\n');
    const drip = setInterval(() => slow.socket.writable && slow.socket.write('X-Drip: 1\r\n'), 50);
    await Promise.race([Promise.all([idle.closed, slow.closed]), new Promise((r) => setTimeout(r, 15_000))]);
    clearInterval(drip);
    expect(slow.isClosed()).toBe(true);
    expect(idle.isClosed()).toBe(true);
    expect(slow.received()).toMatch(/^HTTP\/1\.1 408/);

    const legit = await send('127.0.0.1', url, 'GET', KEY_CACHE, signed(friend, 'GET', KEY_CACHE));
    expect(legit.status).toBe(200);
  });

  it('answers a body that stops arriving with 408 body_timeout and closes the connection', async () => {
    const url = node.started.federation_url!;
    const path = '/_paracord/federation/v1/event';
    const body = wire(makeEvent(friend.identity, { room_id: '!nowhere:slow.test' }));
    const headers = signed(friend, 'POST', path, body);
    const conn = openSocket(url, '127.0.0.1');
    await new Promise<void>((resolve) => conn.socket.once('connect', () => resolve()));
    const head = [`POST ${path} HTTP/1.1`, 'Host: slow.test', `Content-Length: ${Buffer.byteLength(body)}`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)].join('\r\n');
    conn.socket.write(`${head}\r\n\r\n${body.slice(0, 20)}`);
    await Promise.race([conn.closed, new Promise((r) => setTimeout(r, 15_000))]);
    expect(conn.isClosed()).toBe(true);
    expect(conn.received()).toMatch(/^HTTP\/1\.1 408/);
    expect(conn.received()).toContain('"error":"body_timeout"');
  });
});

describe('7. anonymous POST /peering', () => {
  let alpha: InProcessNode;
  let beta: InProcessNode;
  const PEERING = '/_paracord/federation/v1/peering';

  beforeAll(async () => {
    [alpha, beta] = await Promise.all([startNode('alpha.test'), startNode('beta.test')]);
  });

  it('limits a flood per address before reading the body (429 + Retry-After), caps the body, and a real redeem still works', async () => {
    const url = alpha.started.federation_url!;
    const flood: Answer[] = [];
    for (let i = 0; i < 12; i++) flood.push(await send('127.0.0.3', url, 'POST', PEERING, { 'content-type': 'application/json' }, '{}'));
    expect(flood.slice(0, 5).map((a) => a.status)).toEqual([401, 401, 401, 401, 401]);
    for (const refused of flood.slice(5)) {
      expect(refused.status).toBe(429);
      expect(refused.body.error).toBe('rate_limited');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
    }
    // Refused before the body is read: a big body makes no difference to the answer.
    const big = 'x'.repeat(20 * 1024);
    expect((await send('127.0.0.3', url, 'POST', PEERING, { 'content-type': 'application/json' }, big)).status).toBe(429);
    // From an address with allowance left, a body over 16 KiB is refused while read.
    const tooBig = await send('127.0.0.4', url, 'POST', PEERING, { 'content-type': 'application/json', ...signRequestHeaders(alpha.node.context.identity()!, 'POST', PEERING, big) }, big);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error).toBe('body_too_large');

    const invite = await alpha.admin('POST', '/invites/peer', {});
    expect(invite.status, JSON.stringify(invite.body)).toBe(200);
    const redeemed = await beta.admin('POST', '/invites/peer/redeem', { link: invite.body.link });
    expect(redeemed.status, JSON.stringify(redeemed.body)).toBe(200);
    expect(redeemed.body.server_name).toBe('alpha.test');
  });
});

describe('12. one spelling per path', () => {
  let node: InProcessNode;
  let friend: FakePeer;

  beforeAll(async () => {
    node = await startNode('paths.test');
    friend = await friendOf(node, 'friend.test');
  });

  const variants = [
    '/_PARACORD/federation/v1/event', '/_Paracord/federation/v1/event', '/_paracord/FEDERATION/v1/event',
    '/_paracord/federation/v1/event/', '/_paracord//federation/v1/event', '/_paracord/federation/v1/%65vent',
    '/_paracord%2Ffederation/v1/event', '/_paracord/./federation/v1/event', '/_paracord/x/../federation/v1/event',
    '/_paracord./federation/v1/event',
  ];

  async function post(path: string): Promise<Answer> {
    const body = wire(makeEvent(friend.identity, { room_id: '!nowhere:paths.test' }));
    return sendExact(node.started.federation_url!, 'POST', path, signed(friend, 'POST', path, body), body);
  }

  it('refuses every other spelling of a federation path while paused (never 2xx), and the canonical one is paused', async () => {
    expect((await node.admin('POST', '/federation/pause', {})).status).toBe(200);
    try {
      for (const path of variants) {
        const answer = await post(path);
        expect(answer.status, path).toBeGreaterThanOrEqual(400);
        expect(answer.body.error, path).toMatch(/^(not_found|federation_paused)$/);
      }
      const canonical = await post('/_paracord/federation/v1/event');
      expect(canonical.status).toBe(503);
      expect(canonical.body.error).toBe('federation_paused');
    } finally {
      expect((await node.admin('POST', '/federation/resume', {})).status).toBe(200);
    }
  });

  it('while not paused, other spellings still reach no handler', async () => {
    for (const path of variants) {
      const answer = await post(path);
      expect(answer.status, path).toBe(404);
      expect(answer.body.error, path).toBe('not_found');
    }
    const url = node.started.federation_url!;
    expect((await send('127.0.0.1', url, 'GET', '/_paracord/federation/v1/keys')).status).toBe(200);
    for (const path of ['/_PARACORD/federation/v1/keys', '/_paracord/federation/v1/KEYS', '/_paracord/federation/v1/keys/', '/.WELL-KNOWN/paracord/server', '/.well-known/paracord/server/']) {
      expect((await sendExact(url, 'GET', path)).status, path).toBe(404);
    }
  });

  it('the admin API: a case variant does not skip the token check', async () => {
    const admin = node.started.admin_url;
    const variant = await sendExact(admin, 'GET', '/_PARACORD/admin/v1/status');
    expect(variant.status).toBe(404);
    expect(JSON.stringify(variant.body)).not.toContain('server_name');
    expect((await send('127.0.0.1', admin, 'GET', '/_paracord/admin/v1/status')).status).toBe(401);
  });
});

describe('13. trusted proxies', () => {
  let node: InProcessNode;
  const PEERING = '/_paracord/federation/v1/peering';

  beforeAll(async () => {
    node = await startNode('proxied.test', { config: { trustedProxies: ['127.0.0.2'], peeringRateLimit: { per_second: 0.001, burst: 2 } } });
  });

  const from = (address: string, forwarded: string) => send(address, node.started.federation_url!, 'POST', PEERING, { 'content-type': 'application/json', 'x-forwarded-for': forwarded }, '{}');

  it('gives each forwarded client its own bucket behind a trusted proxy', async () => {
    expect((await from('127.0.0.2', '203.0.113.1')).status).toBe(401);
    expect((await from('127.0.0.2', '203.0.113.1')).status).toBe(401);
    expect((await from('127.0.0.2', '203.0.113.1')).status).toBe(429);
    // Another client behind the same proxy is not held back by the first.
    expect((await from('127.0.0.2', '198.51.100.7, 203.0.113.2')).status).toBe(401);
  });

  it('ignores X-Forwarded-For from a peer that is not a listed proxy', async () => {
    expect((await from('127.0.0.3', '203.0.113.3')).status).toBe(401);
    expect((await from('127.0.0.3', '203.0.113.4')).status).toBe(401);
    const third = await from('127.0.0.3', '203.0.113.5');
    expect(third.status).toBe(429);
    expect(third.body.message).toContain('127.0.0.3');
  });
});

describe('9. the log on a full disk', () => {
  it('reports the failed log writes in the node status instead of failing silently', async () => {
    const node = await startNode('fulldisk.test', {
      log: 'real',
      prepare: (dataDir) => {
        mkdirSync(join(dataDir, 'logs'), { recursive: true, mode: 0o700 });
        // /dev/full answers every write with ENOSPC.
        symlinkSync('/dev/full', join(dataDir, 'logs', 'node.1.log'));
      },
    });
    const status = await eventually(async () => {
      const answer = await node.admin('GET', '/status');
      expect(answer.body.warnings).toEqual([expect.stringMatching(/^disk full: .*ENOSPC/)]);
      return answer;
    });
    // The node itself keeps working.
    expect(status.status).toBe(200);
    expect(status.body.server_name).toBe('fulldisk.test');
  });
});
