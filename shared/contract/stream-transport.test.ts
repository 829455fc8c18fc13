/** The admin client over the admin stream, with HTTP as its fallback, against a real node (what the UI does in a browser). */
import { createServer as createTcpServer, connect as connectTcp, type AddressInfo, type Socket } from 'node:net';
import WebSocket from 'ws';
import { beforeAll, describe, expect, it, type InProcessNode } from '../../test/helpers/fixtures.ts';
import { ADMIN_STREAM_NOTIFICATIONS, ADMIN_STREAM_PATH, type AdminOperationName } from './admin-operations.ts';
import { AdminError, createAdminClient, httpTransport, type AdminTransport } from './client.ts';
import { ConnectionLost, streamTransport, type SocketLike, type StreamTransportOptions } from './stream-transport.ts';
import { closedPort } from '../../test/helpers/closed-port.ts';

let node: InProcessNode;
let streamUrl: string;

beforeAll(async ({ fileNodes }) => {
  node = await fileNodes.inProcess('stream-client.test');
  streamUrl = `${node.started.admin_url.replace(/^http/, 'ws')}${ADMIN_STREAM_PATH}`;
});

/** The real HTTP transport, counting what went over it. */
function countedHttp(delayMs = 0) {
  const http = httpTransport({ baseUrl: node.started.admin_url, headers: () => ({ authorization: `Bearer ${node.token}` }) });
  const calls: AdminOperationName[] = [];
  const fallback: AdminTransport = async (name, input) => {
    calls.push(name);
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
    return http(name, input);
  };
  return { fallback, calls };
}

/** Opens real sockets (the `ws` package) with the node's token, keeping each for the test to cut. */
function sockets(token = node.token) {
  const opened: WebSocket[] = [];
  const open = (url: string) => {
    const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
    opened.push(ws);
    return ws as unknown as SocketLike;
  };
  return { open, opened };
}

/** The admin client over the stream to the node, with counted HTTP as its fallback and the sockets it opened. */
function streamClient(options: { delayMs?: number; token?: string; url?: string } & Partial<Omit<StreamTransportOptions, 'fallback' | 'open'>> = {}) {
  const { delayMs, token, url, ...rest } = options;
  const { fallback, calls } = countedHttp(delayMs);
  const { open, opened } = sockets(token);
  const transport = streamTransport({ url: url ?? streamUrl, fallback, open, ...rest });
  return { transport, api: createAdminClient(transport.call), calls, opened };
}

describe('admin client over the stream', () => {
  it('takes HTTP until the stream is open, then the stream, with the same answers and errors', async () => {
    const { transport, api, calls, opened } = streamClient();
    // The first call opens the stream and does not wait for it.
    expect((await api.getStatus({})).server_name).toBe('stream-client.test');
    expect(calls).toEqual(['getStatus']);
    await expect.poll(() => transport.streaming).toBe(true);
    const { room_id } = await api.createRoom({ name: 'streamed room' });
    const { event_id } = await api.sendMessage({ room_id, body: 'over the stream' });
    await api.addReaction({ room_id, event_id, key: '👍' });
    const page = await api.listMessages({ room_id, limit: 5 });
    expect(page.messages).toEqual([expect.objectContaining({ event_id, body: 'over the stream', reactions: { '👍': ['@owner:stream-client.test'] } })]);
    const missing = await api.getRoom({ room_id: '!missing:stream-client.test' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(AdminError);
    expect(missing).toMatchObject({ status: 404, code: 'unknown_room' });
    const invalid = await api.sendMessage({ room_id, body: '' }).catch((e: unknown) => e);
    expect(invalid).toMatchObject({ status: 400, code: 'invalid_input' });
    // Nothing after the first call took HTTP, and one stream carried it all.
    expect(calls).toEqual(['getStatus']);
    expect(opened).toHaveLength(1);
    // logout always takes HTTP: its answer clears the browser's cookie.
    await api.logout({});
    expect(calls).toEqual(['getStatus', 'logout']);
    transport.close();
  });

  it('keeps an error answer\'s other fields: why a peer could not be reached (reason), and who (server)', async () => {
    // addPeer takes HTTP by default (slow): here over the stream.
    const { transport, api, calls } = streamClient({ httpOnly: [] });
    await api.getStatus({});
    await expect.poll(() => transport.streaming).toBe(true);
    const gone = await api.addPeer({ server_name: 'gone.test', endpoint: `http://127.0.0.1:${await closedPort()}` }).catch((e: unknown) => e);
    expect(calls).toEqual(['getStatus']);
    expect(gone).toBeInstanceOf(AdminError);
    expect(gone).toMatchObject({ status: 502, code: 'peer_unreachable', message: expect.stringMatching(/^could not add gone\.test: .*ECONNREFUSED/) });
    expect((gone as AdminError).details).toEqual({ reason: 'refused', server: 'gone.test' });
    transport.close();
  });

  it('opens without a call (connect), brings the node\'s notifications when its URL asks for them, and says when they flow', async () => {
    const notifications: Array<{ type: string; [key: string]: unknown }> = [];
    const flows: string[] = [];
    const opened: WebSocket[] = [];
    const open = (url: string) => {
      const ws = new WebSocket(url, [ADMIN_STREAM_NOTIFICATIONS], { headers: { authorization: `Bearer ${node.token}` } });
      opened.push(ws);
      return ws as unknown as SocketLike;
    };
    const { fallback } = countedHttp();
    const transport = streamTransport({
      url: streamUrl,
      fallback,
      open,
      onNotification: (n) => notifications.push(n),
      onOpen: () => flows.push('open'),
      onClose: () => flows.push('close'),
    });
    const api = createAdminClient(transport.call);
    transport.connect();
    await expect.poll(() => flows).toEqual(['open']);
    const { room_id } = await api.createRoom({ name: 'live' });
    await api.sendMessage({ room_id, body: 'told' });
    await expect.poll(() => notifications.some((n) => n.type === 'room' && n.room_id === room_id && n.event_type === 'm.message')).toBe(true);
    // A notification is no answer: every call was answered, none mistaken for another.
    expect(opened).toHaveLength(1);
    transport.close();
    expect(flows).toEqual(['open', 'close']);
  });

  it('when the stream is cut: a read is asked again over HTTP, a change fails as ConnectionLost, and the next calls reopen it', async () => {
    const { transport, api, calls, opened } = streamClient();
    await api.getStatus({});
    await expect.poll(() => transport.streaming).toBe(true);
    const { room_id } = await api.createRoom({ name: 'cut' });
    calls.length = 0;
    const read = api.listMessages({ room_id, limit: 5 });
    const change = api.sendMessage({ room_id, body: 'maybe stored' }).catch((e: unknown) => e);
    const repeatable = api.sendMessage({ room_id, body: 'stored once', txn_id: 'cut-txn-1' });
    // Cut before any answer can come back (the frames may or may not have reached the node).
    opened[0]!.terminate();
    expect((await read).messages.length).toBeLessThanOrEqual(2);
    const lost = await change;
    expect(lost).toBeInstanceOf(ConnectionLost);
    // A send with its txn_id is asked again over HTTP: the node stores it once and answers its event.
    const { event_id } = await repeatable;
    const page = await api.listMessages({ room_id, limit: 10 });
    expect(page.messages.filter((m) => m.body === 'stored once').map((m) => m.event_id)).toEqual([event_id]);
    expect(calls.sort()).toEqual(['listMessages', 'listMessages', 'sendMessage'].sort());
    // The first call after the cut took HTTP and reopened the stream at once (it had been open).
    await expect.poll(() => transport.streaming).toBe(true);
    expect(opened).toHaveLength(2);
    calls.length = 0;
    expect((await api.sendMessage({ room_id, body: 'after the cut' })).event_id).toMatch(/^\$/);
    expect(calls).toEqual([]);
    transport.close();
  });

  it('keeps working over HTTP when the node refuses the stream, and tries it again only after a wait that doubles', async () => {
    let clock = 1_000_000;
    const { transport, api, calls, opened } = streamClient({ token: 'not-the-token', now: () => clock, retryMs: { first: 1_000, max: 4_000 } });
    const attempts = async (calls: number) => {
      for (let i = 0; i < calls; i++) {
        expect((await api.getStatus({})).server_name).toBe('stream-client.test');
        // Let a refused attempt close before the next call.
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return opened.length;
    };
    expect(await attempts(3)).toBe(1);
    clock += 1_000;
    expect(await attempts(3)).toBe(2);
    clock += 1_000;
    expect(await attempts(1)).toBe(2);
    clock += 1_000;
    expect(await attempts(1)).toBe(3);
    clock += 4_000;
    expect(await attempts(1)).toBe(4);
    clock += 4_000;
    expect(await attempts(1)).toBe(5);
    expect(calls).toHaveLength(10);
    expect(transport.streaming).toBe(false);
    transport.close();
  });

  it('never lets a change over the stream overtake an earlier change still under way over HTTP', async () => {
    const { transport, api } = streamClient({ delayMs: 300 });
    const { room_id } = await createAdminClient(countedHttp().fallback).createRoom({ name: 'order' });
    // The stream is not open yet: the first send takes HTTP (slowed to 300 ms).
    const first = api.sendMessage({ room_id, body: 'first' });
    await expect.poll(() => transport.streaming).toBe(true);
    const second = api.sendMessage({ room_id, body: 'second' });
    await Promise.all([first, second]);
    const page = await api.listMessages({ room_id, limit: 5 });
    expect(page.messages.map((m) => m.body)).toEqual(['first', 'second']);
    transport.close();
  });

  it('keeps a stream whose call is slow but which answers a probe; takes one that stays silent as dead: the read is asked again over HTTP, an unrepeatable change is "maybe", and a new stream is opened', async () => {
    // The probe (sent at half the silence) must be answered within the other half: 200 ms left a
    // loaded CI run's probe unanswered in time once (the slow call was then asked again over HTTP).
    const SILENCE_MS = 600;
    // A TCP relay to the node that can freeze: a connection that died without a FIN (a laptop's sleep).
    const pairs: Array<[Socket, Socket]> = [];
    let frozen = false;
    const relay = createTcpServer((client) => {
      const upstream = connectTcp(Number(new URL(node.started.admin_url).port), '127.0.0.1');
      pairs.push([client, upstream]);
      client.on('data', (chunk) => !frozen && upstream.write(chunk));
      upstream.on('data', (chunk: Buffer) => {
        if (frozen) return;
        // A slow answer on a live connection: held back, while other answers pass.
        if (chunk.includes('held back')) setTimeout(() => client.write(chunk), 3 * SILENCE_MS);
        else client.write(chunk);
      });
      const end = () => (client.destroy(), upstream.destroy());
      client.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    try {
      const relayUrl = `ws://127.0.0.1:${(relay.address() as AddressInfo).port}${ADMIN_STREAM_PATH}`;
      const { transport, api, calls, opened } = streamClient({ url: relayUrl, silenceMs: SILENCE_MS });
      await api.getStatus({});
      await expect.poll(() => transport.streaming).toBe(true);
      const { room_id } = await api.createRoom({ name: 'held back' });
      calls.length = 0;
      // Answered after three times the silence: the probe's answer shows the connection lives.
      expect((await api.getRoom({ room_id })).name).toBe('held back');
      expect(calls).toEqual([]);
      expect(opened).toHaveLength(1);
      frozen = true;
      const read = api.getStatus({});
      const change = api.createRoom({ name: 'maybe made' }).catch((e: unknown) => e);
      // Taken for dead within the silence, long before TCP or the node's ping (30 s) would say so.
      const within = <T,>(p: Promise<T>) => Promise.race([p, new Promise<'too late'>((resolve) => setTimeout(() => resolve('too late'), 5_000))]);
      expect(await within(read)).toMatchObject({ server_name: 'stream-client.test' });
      expect(await within(change)).toBeInstanceOf(ConnectionLost);
      expect(calls).toEqual(['getStatus']);
      frozen = false;
      await api.getStatus({});
      await expect.poll(() => transport.streaming).toBe(true);
      expect(opened).toHaveLength(2);
      transport.close();
    } finally {
      for (const pair of pairs) for (const socket of pair) socket.destroy();
      relay.close();
    }
  });

  it('orders changes per room only: a slow HTTP change of one room does not hold another room\'s send over the stream', async () => {
    const { transport, api } = streamClient({ delayMs: 400 });
    const direct = createAdminClient(countedHttp().fallback);
    const [x, y] = [(await direct.createRoom({ name: 'x' })).room_id, (await direct.createRoom({ name: 'y' })).room_id];
    const finished: string[] = [];
    const slow = api.sendMessage({ room_id: x, body: 'slow over HTTP' }).then(() => finished.push('x'));
    await expect.poll(() => transport.streaming).toBe(true);
    await api.sendMessage({ room_id: y, body: 'fast over the stream' }).then(() => finished.push('y'));
    await slow;
    expect(finished).toEqual(['y', 'x']);
    transport.close();
  });

  it('asks cut sends again one after another, so a room keeps their order, each stored once', async () => {
    const { transport, api, opened } = streamClient();
    await api.getStatus({});
    await expect.poll(() => transport.streaming).toBe(true);
    const { room_id } = await api.createRoom({ name: 'cut order' });
    const sends = Array.from({ length: 6 }, (_, i) => api.sendMessage({ room_id, body: `cut ${i}`, txn_id: `cut-order-${i}` }));
    opened[0]!.terminate();
    const ids = (await Promise.all(sends)).map((r) => r.event_id);
    const stored = (await api.listMessages({ room_id, limit: 20 })).messages;
    expect(stored.map((m) => m.body)).toEqual(Array.from({ length: 6 }, (_, i) => `cut ${i}`));
    expect(stored.map((m) => m.event_id)).toEqual(ids);
    transport.close();
  });

  it('backs off from a node that takes the stream and closes it before any answer', async () => {
    const { fallback, calls } = countedHttp();
    let clock = 5_000_000;
    let attempts = 0;
    const open = (url: string) => {
      attempts++;
      const ws = new WebSocket(url, { headers: { authorization: `Bearer ${node.token}` } });
      ws.on('open', () => ws.close(1001, 'going away at once'));
      return ws as unknown as SocketLike;
    };
    const transport = streamTransport({ url: streamUrl, fallback, open, now: () => clock, retryMs: { first: 1_000, max: 4_000 } });
    const api = createAdminClient(transport.call);
    for (let i = 0; i < 5; i++) {
      await api.getStatus({});
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    expect(attempts).toBe(1);
    clock += 1_000;
    await api.getStatus({});
    expect(attempts).toBe(2);
    expect(calls).toHaveLength(6);
    transport.close();
  });
});
