/**
 * Red team (issue #37 item 9; SECURITY.md item 6), mitigated. 60 idle connections from each of
 * 20 addresses (1,200 in all, each within the per-address limit of 64, together over the total
 * of 1,024), every closed one opened again at about 70 a second, kept every new connection out
 * of the federation listener: it refused at the total instead of closing an idle connection, as
 * the admin listener already did.
 * Now both listeners use the one mechanism (connection-limits.ts): at the total, the connection
 * idle the longest makes room. A legitimate client from another address is answered while the
 * flood goes on; a request in flight over TLS is never the one closed (its socket is not the
 * one that connected). Linux routes all of 127.0.0.0/8 to lo: 127.0.0.x are other clients.
 */
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '../helpers/fixtures.ts';
import { signRequestHeaders } from '../../main/core/federation/request-signature.ts';
import { Identity } from '../../main/core/identity/identity.ts';
import { makeEvent, wire } from '../helpers/events.ts';
import { eventually } from '../helpers/rooms.ts';
import { tempDir } from '../helpers/temp-dir.ts';

const sockets = new Set<Socket>();
let attacking = true;
/** Attacker connections the node closed while the attack ran. */
let closedByNode = 0;

afterAll(async () => {
  attacking = false;
  for (const s of sockets) s.destroy();
});

/** Reopens closed connections at about `perSecond` (a token bucket), up to `budget` in all. */
function renewer(perSecond: number, budget: number) {
  let tokens = 0;
  let used = 0;
  const waiting: Array<() => void> = [];
  const timer = setInterval(() => {
    tokens = Math.min(perSecond, tokens + perSecond / 10);
    while (tokens >= 1 && waiting.length > 0 && used < budget) {
      tokens--;
      used++;
      waiting.shift()!();
    }
  }, 100);
  return { later: (reopen: () => void) => waiting.push(reopen), get used() { return used; }, stop: () => clearInterval(timer) };
}

/** An idle connection from `from` that, when closed, is opened again through `renew`. */
function idle(host: string, port: number, from: string, renew: ReturnType<typeof renewer>): Promise<void> {
  return new Promise<void>((resolve) => {
    const s = connect({ host, port, localAddress: from }, () => resolve());
    sockets.add(s);
    s.on('error', () => resolve());
    s.on('close', () => {
      sockets.delete(s);
      if (!attacking) return;
      closedByNode++;
      renew.later(() => void idle(host, port, from, renew));
    });
  });
}

/** GET on a connection of its own from `from`: the status, or why there was none (bounded, so a refusal fails rather than hangs). */
function get(url: string, from: string, path: string): Promise<number | string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('no answer in 10 s'), 10_000);
    const req = httpRequest({ host: hostname, port: Number(port), path, localAddress: from, agent: false }, (res) => {
      res.resume();
      res.once('end', () => {
        clearTimeout(timer);
        resolve(res.statusCode ?? 0);
      });
    });
    req.once('error', (error) => {
      clearTimeout(timer);
      resolve(`error: ${error.message}`);
    });
    req.end();
  });
}

describe('red team: idle connections from many addresses against the federation listener', () => {
  it('1,200 idle connections from 20 addresses, renewed at ~70/s, do not keep a new client out', async ({ fileNodes }) => {
    // Default limits (1,024 in all, 64 per address); long header timeouts, so nothing but the
    // limits decides what is closed while the test runs.
    const node = await fileNodes.inProcess('crowded.test', { config: { headersTimeoutMs: 120_000, requestTimeoutMs: 240_000 }, graceMs: 1_000 });
    const url = node.started.federation_url!;
    const { hostname, port } = new URL(url);
    const renew = renewer(70, 5_000);
    try {
      const opened: Array<Promise<void>> = [];
      for (let a = 0; a < 20; a++) for (let i = 0; i < 60; i++) opened.push(idle(hostname, Number(port), `127.0.3.${a + 1}`, renew));
      await Promise.all(opened);
      // The listener is full of idle connections (1,024 of the 1,200 are held at any time).
      await eventually(async () => expect(sockets.size).toBeGreaterThanOrEqual(1_000));

      for (let i = 0; i < 3; i++) {
        expect(await get(url, '127.0.0.250', '/.well-known/paracord/server')).toBe(200);
      }
      // Room was made by closing idle connections (which the attacker then reopens), not by refusing the client.
      await eventually(async () => expect(closedByNode).toBeGreaterThan(0));
      await eventually(async () => expect(renew.used).toBeGreaterThan(0));
      expect(sockets.size).toBeGreaterThanOrEqual(1_000);
    } finally {
      attacking = false;
      renew.stop();
      for (const s of sockets) s.destroy();
    }
  }, 120_000);

  it('upgrade requests are answered and timed like any request: they cannot fill the listener for good', async ({ fileNodes }) => {
    // A listener with no upgrade handler of its own must not take upgrades over: Node would then
    // hand their sockets to nobody, unanswered and untimed, and they would hold the slots forever.
    const node = await fileNodes.inProcess('upgrades.test', { config: { maxConnections: 8, maxConnectionsPerAddress: 4, headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 }, graceMs: 1_000 });
    const { hostname, port } = new URL(node.started.federation_url!);
    const answers: string[] = [];
    const flood: Socket[] = [];
    for (let a = 0; a < 2; a++) {
      for (let i = 0; i < 4; i++) {
        const s = connect({ host: hostname, port: Number(port), localAddress: `127.0.4.${a + 1}` });
        sockets.add(s);
        flood.push(s);
        let answer = '';
        s.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
        s.on('close', () => answers.push(answer.split('\r\n')[0] ?? ''));
        s.on('error', () => undefined);
        s.write(`GET /.well-known/paracord/server HTTP/1.1\r\nHost: ${hostname}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
      }
    }
    // Each is answered as a plain request (no upgrade is offered here), and the listener serves a new client.
    await eventually(async () => expect(flood.every((s) => s.bytesRead > 0)).toBe(true));
    expect(await get(node.started.federation_url!, '127.0.4.9', '/.well-known/paracord/server')).toBe(200);
    // Kept open by the flooder, they are closed by the node's idle and keep-alive timers, not held.
    await eventually(async () => expect(flood.every((s) => s.destroyed || s.readyState === 'closed')).toBe(true), 30_000);
    expect(answers.every((line) => line.startsWith('HTTP/1.1 '))).toBe(true);
  }, 60_000);

  it('busy connections from many addresses (signed requests whose bodies trickle) do not keep a new address out: fair share', async ({ fileNodes }) => {
    const node = await fileNodes.inProcess('busy.test', { config: { maxConnections: 8, maxConnectionsPerAddress: 4, requestTimeoutMs: 60_000 }, graceMs: 1_000 });
    const friend = Identity.create(join(tempDir(), 'identity.json'), 'friend.test');
    const added = await node.admin('POST', '/peers', { server_name: 'friend.test', endpoint: 'http://127.0.0.1:9', key_id: friend.keyId, public_key: friend.publicKeyHex });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    const url = new URL(node.started.federation_url!);
    const path = '/_paracord/federation/v1/event';
    const flood: Array<{ s: Socket; closed: () => boolean }> = [];
    for (let a = 0; a < 2; a++) {
      for (let i = 0; i < 4; i++) {
        const s = connect({ host: url.hostname, port: Number(url.port), localAddress: `127.0.6.${a + 1}` });
        sockets.add(s);
        let closed = false;
        s.on('error', () => undefined);
        s.on('close', () => (closed = true));
        await new Promise<void>((resolve) => s.once('connect', () => resolve()));
        const body = wire(makeEvent(friend, { room_id: '!nowhere:busy.test' }));
        const headers = Object.entries(signRequestHeaders(friend, 'POST', path, body)).map(([k, v]) => `${k}: ${v}\r\n`).join('');
        // Headers and the first bytes of the body: a request in flight until the rest comes.
        s.write(`POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body.slice(0, 10)}`);
        flood.push({ s, closed: () => closed });
      }
    }
    await new Promise((r) => setTimeout(r, 500));
    // The listener is full (8 of 8) and every connection is busy: a client from a third address is still served.
    expect(await get(node.started.federation_url!, '127.0.6.9', '/.well-known/paracord/server')).toBe(200);
    expect(flood.filter((f) => f.closed())).toHaveLength(1);
    // An address at its own limit of busy connections gets no more at another's expense.
    expect(await get(node.started.federation_url!, '127.0.6.2', '/.well-known/paracord/server')).not.toBe(200);
    for (const f of flood) f.s.destroy();
  }, 60_000);

  it('kept-alive connections (the persistent link keeps an idle one 5 minutes) hold no slot: after its request each is idle, and closed first at a limit', async ({ fileNodes }) => {
    // The default keep-alive (5 min): an attacker's connections, each past one cheap request, stay
    // open for minutes where they closed after 10 s before; at the limits they are the idle ones.
    const node = await fileNodes.inProcess('kept.test', { config: { maxConnections: 8, maxConnectionsPerAddress: 4 }, graceMs: 1_000 });
    const url = new URL(node.started.federation_url!);
    /** A connection from `from` that made one request and was answered (kept alive: the answer does not close it). */
    const keptAlive = async (from: string) => {
      const s = connect({ host: url.hostname, port: Number(url.port), localAddress: from });
      sockets.add(s);
      let closed = false;
      let answer = '';
      s.on('error', () => undefined);
      s.on('close', () => (closed = true));
      s.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
      s.write(`GET /.well-known/paracord/server HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
      await eventually(async () => {
        const [head, body] = answer.split('\r\n\r\n') as [string, string | undefined];
        expect(head).toMatch(/^HTTP\/1\.1 200/);
        expect(head.toLowerCase()).toContain('keep-alive');
        expect(Buffer.byteLength(body ?? '', 'latin1')).toBe(Number(/content-length: (\d+)/i.exec(head)?.[1]));
      });
      return { s, closed: () => closed };
    };
    const first: Array<Awaited<ReturnType<typeof keptAlive>>> = [];
    for (let i = 0; i < 4; i++) first.push(await keptAlive('127.0.7.1'));
    // The address at its limit of 4: its fifth connection is let in, its connection idle the longest closed.
    const fifth = await keptAlive('127.0.7.1');
    await eventually(async () => expect(first[0]!.closed()).toBe(true));
    expect(first.slice(1).every((c) => !c.closed()) && !fifth.closed()).toBe(true);
    // Another address fills the listener (8 in all) with its own kept-alive connections…
    const second: Array<Awaited<ReturnType<typeof keptAlive>>> = [];
    for (let i = 0; i < 4; i++) second.push(await keptAlive('127.0.7.2'));
    // …and a newcomer from a third address is answered: the connection idle the longest makes room.
    expect(await get(node.started.federation_url!, '127.0.7.9', '/.well-known/paracord/server')).toBe(200);
    await eventually(async () => expect(first[1]!.closed()).toBe(true));
    for (const c of [...first, fifth, ...second]) c.s.destroy();
  }, 60_000);

  it('over TLS, a request in flight is not the connection closed to make room; the idle ones are', async ({ fileNodes }) => {
    const node = await fileNodes.inProcess('tls-crowded.test', { insecureHttp: false, config: { maxConnections: 6 }, graceMs: 1_000 });
    const url = new URL(node.started.federation_url!);
    expect(url.protocol).toBe('https:');
    // A friend (its key pinned by the owner) whose signed request's body is still arriving: in flight.
    const friend = Identity.create(join(tempDir(), 'identity.json'), 'friend.test');
    const added = await node.admin('POST', '/peers', { server_name: 'friend.test', endpoint: 'https://127.0.0.1:9', key_id: friend.keyId, public_key: friend.publicKeyHex });
    expect(added.status, JSON.stringify(added.body)).toBe(200);
    const busy: TLSSocket = tlsConnect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false });
    let answer = '';
    let busyClosed = false;
    busy.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    busy.on('error', () => {});
    busy.on('close', () => (busyClosed = true));
    await new Promise<void>((resolve) => busy.once('secureConnect', () => resolve()));
    const path = '/_paracord/federation/v1/event';
    const body = wire(makeEvent(friend, { room_id: '!nowhere:tls-crowded.test' }));
    const headers = Object.entries(signRequestHeaders(friend, 'POST', path, body)).map(([k, v]) => `${k}: ${v}\r\n`).join('');
    busy.write(`POST ${path} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${headers}\r\n${body.slice(0, 10)}`);
    await new Promise((r) => setTimeout(r, 500));

    // Ten idle connections from elsewhere, over a total of 6: five of them are closed, oldest first.
    const crowd = Array.from({ length: 10 }, () => {
      const s = connect({ host: url.hostname, port: Number(url.port), localAddress: '127.0.0.3' });
      sockets.add(s);
      let closed = false;
      s.on('error', () => {});
      s.on('close', () => (closed = true));
      return { s, isClosed: () => closed };
    });
    await eventually(async () => expect(crowd.filter((c) => c.isClosed()).length).toBeGreaterThanOrEqual(5));
    expect(busyClosed, answer).toBe(false);

    // The request in flight finishes and is answered on its connection.
    busy.write(body.slice(10));
    await eventually(async () => expect(answer).toMatch(/^HTTP\/1\.1 \d{3}/));
    busy.destroy();
    for (const c of crowd) c.s.destroy();
  }, 60_000);
});
