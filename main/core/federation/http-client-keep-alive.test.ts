/**
 * The client side of the persistent link (docs/PROTOCOL.md §Persistent link): an idle connection
 * to a server is kept until 2 s before what the server's Keep-Alive header says, at most
 * `keepAliveMaxMs`, and dropped by `dropConnections()` (a new network). Counted by a real
 * listener's 'connection' events on loopback.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpClient } from './http-client.ts';
import { AddressPolicy } from './address-policy.ts';

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A listener that keeps idle connections `keepAliveMs` (and says so), and counts the connections it took. */
async function listener(keepAliveMs: number): Promise<{ url: string; connections: () => number }> {
  let connections = 0;
  const server = createServer({ keepAliveTimeout: keepAliveMs }, (_req, res) => res.end('{}'));
  server.on('connection', () => connections++);
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, connections: () => connections };
}

const client = (keepAliveMaxMs?: number) =>
  new HttpClient({
    allowInsecureHttp: true,
    policy: new AddressPolicy({ insecureHttp: true, allowPrivateAddresses: false, endpointVouch: () => ({ vouch: 'owner', addresses: 'any' }) }),
    ...(keepAliveMaxMs !== undefined ? { keepAliveMaxMs } : {}),
  });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('HttpClient keep-alive (the persistent link)', () => {
  it('keeps an idle connection past undici\'s own 4 s default when the server says it keeps it longer', async () => {
    const server = await listener(300_000);
    const http = client();
    expect((await http.send('GET', `${server.url}/a`, {})).status).toBe(200);
    await sleep(5_000);
    expect((await http.send('GET', `${server.url}/b`, {})).status).toBe(200);
    expect(server.connections()).toBe(1);
  }, 15_000);

  it('closes an idle connection 2 s before the server\'s Keep-Alive timeout, and at keepAliveMaxMs', async () => {
    // The server says timeout=3: kept 1 s.
    const short = await listener(3_000);
    const http = client();
    await http.send('GET', `${short.url}/a`, {});
    await sleep(1_500);
    await http.send('GET', `${short.url}/b`, {});
    expect(short.connections()).toBe(2);
    // The server says 300 s, our own limit is 500 ms.
    const long = await listener(300_000);
    const capped = client(500);
    await capped.send('GET', `${long.url}/a`, {});
    await sleep(1_000);
    await capped.send('GET', `${long.url}/b`, {});
    expect(long.connections()).toBe(2);
  }, 15_000);

  it('dropConnections() closes the kept connections: the next request opens a new one', async () => {
    const server = await listener(300_000);
    const http = client();
    await http.send('GET', `${server.url}/a`, {});
    // undici checks an idle connection (one turn of the loop) before it reuses it; a request in the
    // same turn would get a second connection of the pool.
    await sleep(50);
    await http.send('GET', `${server.url}/b`, {});
    expect(server.connections()).toBe(1);
    http.dropConnections();
    await http.send('GET', `${server.url}/c`, {});
    expect(server.connections()).toBe(2);
  });
});
