/**
 * The admin stream (`GET /_paracord/admin/v1/stream`, docs/ARCHITECTURE.md "Admin stream") as a
 * transport of the admin client (issue #17): one WebSocket for every call, instead of an HTTP
 * request each. A browser's UI gets the node's latency and CPU per call of an open connection.
 *
 * It never makes a call wait for the stream: a call goes over the stream only while it is open,
 * otherwise over the fallback (HTTP), and the stream is (re)opened in the background — after a
 * failed attempt not before 1 s, doubling to 15 s. So a node that refuses streams, an old proxy in
 * front of it or a closed stream costs nothing but the stream's gain.
 *
 * What the stream's closing means for the calls it carried: a read (a GET operation) is asked
 * again over the fallback, and so is a send that names its client `txn_id` (the node stores it
 * once however often it comes). Any other change is not (it may have been done): it fails with
 * `ConnectionLost`, which the UI words as "maybe not sent" — as does a repeated send whose second
 * try cannot reach the node either. A change never overtakes an earlier
 * change still under way over the fallback: it waits for it first (a room's messages keep the
 * order they were sent in while the stream opens).
 */
import { adminOperations, type AdminOperationName } from './admin-operations.ts';
import { AdminError, type AdminTransport } from './client.ts';

/** A change sent over the stream whose outcome is not known: the stream closed before the node answered. */
export class ConnectionLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionLost';
  }
}

/** What this transport needs of a WebSocket: the browser's, Node's, or the `ws` package's. */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: { data?: unknown }) => void): void;
}

const OPEN = 1;

export interface StreamTransportOptions {
  /** The stream's `ws:`/`wss:` URL. */
  url: string;
  /** Where calls go while the stream is not open (HTTP). */
  fallback: AdminTransport;
  /** Opens the socket; `new WebSocket(url)` by default (a browser sends its cookie and Origin). */
  open?: (url: string) => SocketLike;
  /** Operations that always take the fallback: `logout`, whose HTTP answer also clears the session cookie. */
  httpOnly?: readonly AdminOperationName[];
  /** Wait after a failed attempt before the next one: the first, doubled up to the max. */
  retryMs?: { first: number; max: number };
  now?: () => number;
}

export interface StreamTransport {
  call: AdminTransport;
  /** Whether calls go over the stream right now. */
  readonly streaming: boolean;
  /** Closes the stream for good; calls take the fallback from then on. */
  close(): void;
}

interface Waiting {
  name: AdminOperationName;
  input: Record<string, unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A change the node does once however often it is sent: a send that names its client `txn_id`. */
export function repeatable(name: AdminOperationName, input: Record<string, unknown>): boolean {
  if (name === 'sendMessage') return typeof input.txn_id === 'string';
  if (name === 'sendMessages') return Array.isArray(input.messages) && input.messages.every((m) => typeof (m as { txn_id?: unknown } | null)?.txn_id === 'string');
  return false;
}

export function streamTransport(options: StreamTransportOptions): StreamTransport {
  const open = options.open ?? ((url: string) => new WebSocket(url) as unknown as SocketLike);
  const httpOnly = new Set<AdminOperationName>(options.httpOnly ?? ['logout']);
  const retry = options.retryMs ?? { first: 1_000, max: 15_000 };
  const now = options.now ?? Date.now;
  let socket: SocketLike | null = null;
  let closedForGood = false;
  let failures = 0;
  let nextTry = 0;
  let nextId = 1;
  const waiting = new Map<number, Waiting>();
  // Changes under way over the fallback: a change over the stream waits for them.
  const changesOverFallback = new Set<Promise<unknown>>();

  const isRead = (name: AdminOperationName) => adminOperations[name].method === 'GET';

  function connect(): void {
    if (closedForGood || socket || now() < nextTry) return;
    let opened = false;
    let s: SocketLike;
    try {
      s = open(options.url);
    } catch {
      failures++;
      nextTry = now() + Math.min(retry.max, retry.first * 2 ** (failures - 1));
      return;
    }
    socket = s;
    s.addEventListener('open', () => {
      opened = true;
      failures = 0;
    });
    s.addEventListener('message', (event) => receive(event.data));
    s.addEventListener('error', () => {
      // A 'close' follows.
    });
    s.addEventListener('close', () => {
      if (socket !== s) return;
      socket = null;
      if (opened) nextTry = now();
      else {
        failures++;
        nextTry = now() + Math.min(retry.max, retry.first * 2 ** (failures - 1));
      }
      const lost = [...waiting.values()];
      waiting.clear();
      for (const call of lost) {
        const unknown = () => new ConnectionLost(`the connection to the node closed before it answered ${call.name}`);
        if (isRead(call.name)) viaFallback(call.name, call.input).then(call.resolve, call.reject);
        // Stored once however often it is sent: asked again; if that fails too, its outcome is still unknown.
        else if (repeatable(call.name, call.input)) viaFallback(call.name, call.input).then(call.resolve, (error: unknown) => call.reject(error instanceof AdminError ? error : unknown()));
        else call.reject(unknown());
      }
    });
  }

  function receive(data: unknown): void {
    let answer: { id?: unknown; ok?: unknown; result?: unknown; status?: unknown; error?: unknown; message?: unknown };
    try {
      answer = JSON.parse(String(data)) as typeof answer;
    } catch {
      return;
    }
    if (typeof answer.id !== 'number') return;
    const call = waiting.get(answer.id);
    if (!call) return;
    waiting.delete(answer.id);
    if (answer.ok === true) call.resolve(answer.result);
    else call.reject(new AdminError(Number(answer.status) || 500, String(answer.error ?? 'error'), String(answer.message ?? 'the node refused the request')));
  }

  function viaFallback(name: AdminOperationName, input: Record<string, unknown>): Promise<unknown> {
    const result = options.fallback(name, input);
    if (!isRead(name)) {
      changesOverFallback.add(result);
      const done = () => changesOverFallback.delete(result);
      result.then(done, done);
    }
    return result;
  }

  const call: AdminTransport = async (name, input) => {
    if (httpOnly.has(name) || socket?.readyState !== OPEN) {
      connect();
      return viaFallback(name, input);
    }
    if (!isRead(name) && changesOverFallback.size > 0) {
      await Promise.allSettled([...changesOverFallback]);
      if (socket?.readyState !== OPEN) return viaFallback(name, input);
    }
    const id = nextId++;
    const s = socket;
    return new Promise((resolve, reject) => {
      waiting.set(id, { name, input, resolve, reject });
      try {
        s.send(JSON.stringify({ id, op: name, input }));
      } catch {
        waiting.delete(id);
        viaFallback(name, input).then(resolve, reject);
      }
    });
  };

  return {
    call,
    get streaming() {
      return socket?.readyState === OPEN;
    },
    close() {
      closedForGood = true;
      socket?.close(1000, 'closed by the client');
    },
  };
}
