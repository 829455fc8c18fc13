import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONNECTION_LIMITS, limitConnections, serverOptions } from './connection-limits.ts';

const limits = { ...DEFAULT_CONNECTION_LIMITS, headersTimeoutMs: 200, requestTimeoutMs: 1_000 };

/** Whether Node's timeout check is armed: its interval, where Node keeps it (cleared = destroyed). */
function checking(server: Server): boolean {
  const slot = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connectionsCheckingInterval')!;
  return (server as unknown as Record<symbol, { _destroyed: boolean }>)[slot]!._destroyed === false;
}

/** Sends half a request's headers and resolves with what the server answered before closing. */
function slowloris(port: number): Promise<string> {
  return new Promise((resolve) => {
    let answer = '';
    const socket = connect(port, '127.0.0.1', () => socket.write('GET / HTTP/1.1\r\nHost: x\r\n'));
    socket.on('data', (chunk) => (answer += chunk.toString()));
    socket.on('close', () => resolve(answer));
  });
}

describe('header and request timeouts (issue #36: no check while no connection is open)', () => {
  let server: Server;
  afterEach(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('are checked only while a connection is open, and still close slow requests with 408 each time', async () => {
    server = createServer(serverOptions(limits), (_req, res) => res.end('ok'));
    limitConnections(server, limits, { log: pino({ level: 'silent' }), listener: 'test' });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    expect(checking(server)).toBe(false);
    for (let round = 0; round < 2; round++) {
      const answer = slowloris(port);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(checking(server)).toBe(true);
      expect(await answer).toMatch(/^HTTP\/1\.1 408/);
      // The server's side of the socket closes just after the client's.
      for (let i = 0; i < 100 && checking(server); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      expect(checking(server)).toBe(false);
    }
  });
});
