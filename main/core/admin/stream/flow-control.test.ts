/**
 * The admin stream's flow control (budget.ts): the cap on handler calls under way, pausing, and
 * the ping of a paused stream. These need requests that stay under way for as long as the test
 * says, which the node's real handlers never do (they answer in milliseconds), so the stream
 * middleware runs here in a Koa app of its own, over real sockets, with a handler table whose
 * calls the test holds and releases. Everything else about the stream is tested against a real
 * node in stream.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { adminStream } from './stream.ts';
import { passUpgradesThrough } from './upgrade.ts';

let servers: Server[] = [];
afterEach(() => {
  for (const server of servers) server.closeAllConnections();
  servers = [];
});

/** Calls the test holds: each `getStatus` waits until released; `listUsers` answers at once. */
class HeldCalls {
  private held: Array<() => void> = [];
  running = 0;
  maxRunning = 0;
  readonly handlers = {
    getStatus: () => {
      this.running++;
      this.maxRunning = Math.max(this.maxRunning, this.running);
      return new Promise((resolve) =>
        this.held.push(() => {
          this.running--;
          resolve({ held: true });
        }),
      );
    },
    listUsers: async () => ({ users: [] }),
  };
  get waiting(): number {
    return this.held.length;
  }
  release(count = Infinity): void {
    for (const done of this.held.splice(0, count)) done();
  }
}

async function serve(calls: HeldCalls, limits: { pingMs?: number; perStream?: number; perNode?: number }): Promise<string> {
  const app = new Koa();
  app.silent = true;
  app.use(adminStream({ handlers: () => calls.handlers as never, log: pino({ level: 'silent' }), reauthorize: async () => undefined, limits }));
  const server = createServer(app.callback());
  passUpgradesThrough(server, app.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/_paracord/admin/v1/stream`;
}

async function open(url: string) {
  const ws = new WebSocket(url);
  const answers: Array<{ id: number; ok: boolean }> = [];
  ws.on('message', (data) => answers.push(JSON.parse(String(data)) as { id: number; ok: boolean }));
  let closed: number | null = null;
  ws.on('close', (code) => (closed = code));
  await new Promise<void>((resolve, reject) => ws.once('open', () => resolve()).once('error', reject));
  return { ws, answers, closed: () => closed };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('admin stream flow control', () => {
  it('never runs more handler calls than the node allows, even for thousands of frames in one write, and answers them all', async () => {
    const calls = new HeldCalls();
    const url = await serve(calls, { perStream: 4, perNode: 8 });
    const client = await open(url);
    const socket = (client.ws as unknown as { _socket: import('node:net').Socket })._socket;
    socket.cork();
    for (let i = 0; i < 5_000; i++) client.ws.send(JSON.stringify({ id: i, op: 'getStatus' }));
    socket.uncork();
    await expect.poll(() => calls.waiting).toBe(8);
    await sleep(100);
    expect(calls.running).toBe(8);
    // Released a few at a time: each freed slot starts the next call, never more than 8 at once.
    while (client.answers.length < 5_000) {
      calls.release(3);
      await sleep(1);
    }
    expect(calls.maxRunning).toBe(8);
    expect(client.answers.every((a) => a.ok)).toBe(true);
    expect(new Set(client.answers.map((a) => a.id)).size).toBe(5_000);
  });

  it('does not pause a stream with a request or two for the load of another, and serves it while that one waits', async () => {
    const calls = new HeldCalls();
    const url = await serve(calls, { perStream: 100, perNode: 8 });
    const hog = await open(url);
    for (let i = 0; i < 7; i++) hog.ws.send(JSON.stringify({ id: i, op: 'getStatus' }));
    await expect.poll(() => calls.waiting).toBe(7);
    const other = await open(url);
    for (let i = 0; i < 3; i++) {
      other.ws.send(JSON.stringify({ id: i, op: 'listUsers' }));
      await expect.poll(() => other.answers.length).toBe(i + 1);
    }
    expect(hog.answers).toEqual([]);
    calls.release();
    await expect.poll(() => hog.answers.length).toBe(7);
  });

  it('does not cut a stream it paused itself as unresponsive (its pongs are not read while paused)', async () => {
    const calls = new HeldCalls();
    const url = await serve(calls, { pingMs: 50, perStream: 2, perNode: 2 });
    const client = await open(url);
    for (let i = 0; i < 3; i++) client.ws.send(JSON.stringify({ id: i, op: 'getStatus' }));
    await expect.poll(() => calls.waiting).toBe(2);
    // Many ping intervals while paused.
    await sleep(500);
    expect(client.closed()).toBeNull();
    calls.release();
    await expect.poll(() => calls.waiting).toBe(1);
    calls.release();
    await expect.poll(() => client.answers.length).toBe(3);
    expect(client.closed()).toBeNull();
    client.ws.close();
  });
});
