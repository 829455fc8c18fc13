/**
 * Why a server could not be reached (unreachable.ts), each reason from the error a real request
 * met: a real HttpClient against real loopback sockets (a closed port, a listener that never
 * answers, one that cuts the connection, a self-signed certificate, a name under .invalid). The
 * network's failures a loopback cannot make (no route, no network, DNS that cannot answer) are the
 * errors node's `net` and `dns` make, wrapped as HttpClient wraps them.
 */
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createTlsServer } from 'node:tls';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FederationRequestError, HttpClient, type SendOptions } from './http-client.ts';
import { AddressPolicy, withInvalidNamesRefused, type LookupFn } from './address-policy.ts';
import { ensureSelfSignedCertificate } from '../tls/certificate.ts';
import { peerUnreachable, unreachableReason } from './unreachable.ts';
import { UNREACHABLE_REASONS, isUnreachableReason } from '../../../shared/contract/unreachable.ts';
import { errorAnswer } from '../http/middleware/error-handler.ts';
import { closedPort } from '../../../test/helpers/closed-port.ts';

const servers: Array<Server | HttpServer> = [];
const sockets = new Set<Socket>();
let dir: string;

async function listen<S extends Server | HttpServer>(server: S): Promise<number> {
  servers.push(server);
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** The client a node has: loopback vouched for by the owner (as `POST /peers` with an endpoint), unless `vouched` is false. */
function client(options: { lookup?: LookupFn; vouched?: boolean } = {}): HttpClient {
  const endpointVouch = options.vouched === false ? undefined : () => ({ vouch: 'owner' as const, addresses: 'any' as const });
  return new HttpClient({ allowInsecureHttp: true, timeoutMs: 300, policy: new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: false, ...(endpointVouch ? { endpointVouch } : {}), ...(options.lookup ? { lookup: options.lookup } : {}) }) });
}

/** What a real request to `url` threw. */
async function failure(url: string, options: SendOptions = {}, http = client()): Promise<unknown> {
  try {
    await http.send('GET', url, { accept: 'application/json' }, undefined, { vouch: 'owner', ...options });
  } catch (error) {
    return error;
  } finally {
    http.dropConnections();
  }
  throw new Error(`${url} answered`);
}

/** An error as node's `net` or `dns` makes it, wrapped as HttpClient wraps it. */
function wrapped(code: string, syscall: 'connect' | 'getaddrinfo', message: string): FederationRequestError {
  const cause = Object.assign(new Error(message), { code, errno: -1, syscall });
  return new FederationRequestError(`GET https://friend.example/x failed: ${message}`, 'https://friend.example/x', { cause });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'unreachable-'));
});

afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  for (const server of servers) await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('unreachableReason, from real requests', () => {
  it('refused: nothing listens at the port', async () => {
    expect(unreachableReason(await failure(`http://127.0.0.1:${await closedPort()}/x`))).toBe('refused');
  });

  it('name_not_found: a name DNS does not know (.invalid), or one that resolves to no address', async () => {
    expect(unreachableReason(await failure('http://nothing-here.invalid:7448/x'))).toBe('name_not_found');
    expect(unreachableReason(await failure('http://no-address.test:7448/x', {}, client({ lookup: async () => [] })))).toBe('name_not_found');
  });

  it('a name under .invalid is not found without asking the resolver (RFC 6761), so a machine with no working DNS says the same', async () => {
    const asked: string[] = [];
    const broken = withInvalidNamesRefused(async (hostname) => {
      asked.push(hostname);
      throw Object.assign(new Error(`getaddrinfo EAI_AGAIN ${hostname}`), { code: 'EAI_AGAIN' });
    });
    for (const name of ['nothing-here.invalid', 'Nothing-Here.INVALID.', 'invalid']) {
      expect(unreachableReason(await failure(`http://${name}:7448/x`, {}, client({ lookup: broken })))).toBe('name_not_found');
    }
    expect(asked).toEqual([]);
    // Any other name is asked (here, of a resolver that cannot answer: a lookup failure).
    expect(unreachableReason(await failure('http://friend.example:7448/x', {}, client({ lookup: broken })))).toBe('name_lookup_failed');
    expect(asked).toEqual(['friend.example']);
  });

  it('timeout: no answer within the timeout, an answer that trickles past its deadline, the caller\'s own deadline', async () => {
    const silent = await listen(createServer(() => undefined));
    expect(unreachableReason(await failure(`http://127.0.0.1:${silent}/x`))).toBe('timeout');
    // Headers at once, then a byte every 100 ms: never quiet for 300 ms, over its deadline (1 s here).
    const trickle = await listen(createHttpServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(' ')), 100);
      res.on('close', () => clearInterval(timer));
    }));
    const late = await failure(`http://127.0.0.1:${trickle}/x`, { maxResponseBytes: 1_000 });
    expect((late as Error).message).toMatch(/no whole answer within 1 s/);
    expect(unreachableReason(late)).toBe('timeout');
    // A caller's AbortSignal.timeout (reference-rooms.ts gives one).
    expect(unreachableReason(await failure(`http://127.0.0.1:${silent}/x`, { timeoutMs: 5_000, signal: AbortSignal.timeout(200) }))).toBe('timeout');
  });

  it('connection_cut: the other side closes or resets the connection before answering', async () => {
    const closes = await listen(createServer((socket) => socket.destroy()));
    expect(unreachableReason(await failure(`http://127.0.0.1:${closes}/x`))).toBe('connection_cut');
    const resets = await listen(createServer((socket) => socket.on('data', () => socket.resetAndDestroy())));
    expect(unreachableReason(await failure(`http://127.0.0.1:${resets}/x`))).toBe('connection_cut');
  });

  it('tls: a certificate nobody vouches for, or another than the pinned one', async () => {
    const tls = await ensureSelfSignedCertificate(join(dir, 'cert.pem'), join(dir, 'key.pem'), 'friend.test', dir);
    const port = await listen(createTlsServer({ cert: tls.cert, key: tls.key }, (socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}')));
    const untrusted = await failure(`https://127.0.0.1:${port}/x`);
    expect((untrusted as Error & { cause?: { code?: string } }).cause?.code).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(unreachableReason(untrusted)).toBe('tls');
    expect(unreachableReason(await failure(`https://127.0.0.1:${port}/x`, { pin: `${'AB:'.repeat(31)}AB` }))).toBe('tls');
    // The pinned certificate is taken: the pin decides, not the missing certificate authority.
    await expect(client().send('GET', `https://127.0.0.1:${port}/x`, {}, undefined, { vouch: 'owner', pin: tls.fingerprint256 })).resolves.toMatchObject({ status: 200 });
  });

  it('address_refused: an address this node does not connect to (loopback nobody vouched for)', async () => {
    expect(unreachableReason(await failure(`http://127.0.0.1:${await closedPort()}/x`, { vouch: 'none' }, client({ vouched: false })))).toBe('address_refused');
  });

  it('bad_answer: an answer over the cap (and Discovery\'s refused answers, flagged alike); a cached failure keeps its cause', async () => {
    const big = await listen(createHttpServer((_req, res) => res.end('x'.repeat(5_000))));
    const over = await failure(`http://127.0.0.1:${big}/x`, { maxResponseBytes: 1_000 });
    expect(unreachableReason(over)).toBe('bad_answer');
    // Discovery's "failed recently" carries the first failure as its cause (discovery.ts documentOf).
    expect(unreachableReason(new FederationRequestError('discovery failed recently', 'friend.test', { cause: over }))).toBe('bad_answer');
    const refused = await failure(`http://127.0.0.1:${await closedPort()}/x`);
    expect(unreachableReason(new FederationRequestError('discovery failed recently', 'friend.test', { cause: refused }))).toBe('refused');
  });

  it('other: what is neither the network nor an answer (a URL the client refuses to call)', async () => {
    const http = new HttpClient({ allowInsecureHttp: false });
    const plain = await http.send('GET', 'http://friend.example/x', {}).catch((error: unknown) => error);
    expect(plain).toBeInstanceOf(FederationRequestError);
    expect(unreachableReason(plain)).toBe('other');
    expect(unreachableReason(new Error('something odd'))).toBe('other');
    expect(unreachableReason(undefined)).toBe('other');
  });
});

describe('unreachableReason, from the errors node makes where a loopback cannot', () => {
  it('tells DNS that cannot answer now, no route and no network apart', () => {
    expect(unreachableReason(wrapped('EAI_AGAIN', 'getaddrinfo', 'getaddrinfo EAI_AGAIN friend.example'))).toBe('name_lookup_failed');
    expect(unreachableReason(wrapped('ENOTFOUND', 'getaddrinfo', 'getaddrinfo ENOTFOUND friend.example'))).toBe('name_not_found');
    expect(unreachableReason(wrapped('EHOSTUNREACH', 'connect', 'connect EHOSTUNREACH 203.0.113.5:443'))).toBe('no_route');
    expect(unreachableReason(wrapped('ENETUNREACH', 'connect', 'connect ENETUNREACH 2001:db8::5:443'))).toBe('network_down');
    expect(unreachableReason(wrapped('ETIMEDOUT', 'connect', 'connect ETIMEDOUT 203.0.113.5:443'))).toBe('timeout');
    // undici's own connect timeout (its code, no errno).
    const connectTimeout = Object.assign(new Error('Connect Timeout Error (attempted address: friend.example:443, timeout: 10000ms)'), { name: 'ConnectTimeoutError', code: 'UND_ERR_CONNECT_TIMEOUT' });
    expect(unreachableReason(new FederationRequestError('GET https://friend.example/x failed: Connect Timeout Error', 'https://friend.example/x', { cause: connectTimeout }))).toBe('timeout');
  });

  it('does not read the words: a server named like a reason is not that reason', () => {
    expect(unreachableReason(new FederationRequestError('GET https://timeout.example/x failed: refused ECONNREFUSED certificate', 'https://timeout.example/x'))).toBe('other');
  });
});

describe('peerUnreachable', () => {
  it('answers 502 {error, message} as before, with reason and server beside them', () => {
    const answer = errorAnswer(peerUnreachable('friend.example', 'refused', 'friend.example could not be reached: connect ECONNREFUSED 203.0.113.5:443'));
    expect(answer).toEqual({
      status: 502,
      headers: {},
      body: { error: 'peer_unreachable', message: 'friend.example could not be reached: connect ECONNREFUSED 203.0.113.5:443', reason: 'refused', server: 'friend.example' },
    });
  });

  it('has a closed set of reasons that clients can check', () => {
    expect(new Set(UNREACHABLE_REASONS).size).toBe(UNREACHABLE_REASONS.length);
    for (const reason of UNREACHABLE_REASONS) expect(isUnreachableReason(reason)).toBe(true);
    for (const other of ['ECONNREFUSED', 'toString', '', 1, null]) expect(isUnreachableReason(other)).toBe(false);
  });
});
