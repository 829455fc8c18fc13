/**
 * The admin stream (`GET /_paracord/admin/v1/stream`, docs/ARCHITECTURE.md "Admin stream") as a
 * transport of the admin client (issue #17): one WebSocket for every call, instead of an HTTP
 * request each. A browser's UI gets the node's latency and CPU per call of an open connection.
 *
 * It never makes a call wait for the stream: a call goes over the stream only while it is open,
 * otherwise over the fallback (HTTP), and the stream is (re)opened in the background — after an
 * attempt that got no answer at all, not before 1 s, doubling to 15 s. So a node that refuses
 * streams, an old proxy in front of it or a closed stream costs nothing but the stream's gain.
 * Slow operations (backups, reachability checks, calls that wait on another server) always take
 * HTTP: they gain nothing from the stream and must not look like a dead connection.
 *
 * What the stream's closing means for the calls it carried:
 * - a read (a GET operation) is asked again over the fallback;
 * - a send that names its client `txn_id` too (the node stores it once however often it comes),
 *   one after another in the order they were made;
 * - any other change fails with `ConnectionLost` (it may have been done), which the UI words as
 *   "maybe not sent" — as does a repeated send whose second try fails in any way (only its success
 *   says anything of the first);
 * - after a close for an ended credential (1008) the node ran none of them (it closes only once
 *   what was under way is answered): they fail as `session_ended`.
 * A call left without any answer on the stream for `silenceMs` — not even to a status read sent
 * as a probe halfway — closes it the same way (a connection that died without a FIN: a laptop's
 * sleep, a changed network); a slow operation on a live connection is not cut.
 *
 * Notifications: a stream opened with the `paracord.notifications` subprotocol (`protocols`) also brings the node's live
 * notifications (`onNotification`); `onOpen` and `onClose` say when they flow, `connect` opens the
 * stream without a call (the browser UI's live updates, issue #35 item 3).
 *
 * Order: a room's changes reach the node in the order they were made. Over one open stream they
 * are pipelined (the node takes a stream's frames in order); whenever a change would take another
 * way than the room's previous change (HTTP, or a new stream), it waits for that one first.
 */
import { adminOperations, type AdminOperationName } from './admin-operations.ts';
import { AdminError, errorDetails, type AdminTransport } from './client.ts';

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
  addEventListener(type: 'open' | 'close' | 'error' | 'message', listener: (event: { data?: unknown; code?: number }) => void): void;
}

const OPEN = 1;
/** The node's close code for a credential that no longer holds (main/core/admin/stream/stream.ts). */
const CLOSE_CREDENTIAL = 1008;

/** Operations that always take the fallback: `logout` (its HTTP answer clears the session cookie) and the slow ones. */
export const HTTP_ONLY_OPERATIONS: readonly AdminOperationName[] = [
  'logout',
  'setup',
  'checkReachability',
  'runReachabilityCheck',
  'backupIdentity',
  'runBackup',
  'addPeer',
  'previewPeerInvite',
  'redeemPeerInvite',
  'joinRemoteRoom',
  'acceptInvite',
];

export interface StreamTransportOptions {
  /** The stream's `ws:`/`wss:` URL. */
  url: string;
  /** Where calls go while the stream is not open (HTTP). */
  fallback: AdminTransport;
  /** Opens the socket; `new WebSocket(url, protocols)` by default (a browser sends its cookie and Origin). */
  open?: (url: string) => SocketLike;
  /** The subprotocols asked for: `ADMIN_STREAM_NOTIFICATIONS` for the node's notifications. */
  protocols?: string[];
  httpOnly?: readonly AdminOperationName[];
  /** Wait after an attempt that got no answer before the next one: the first, doubled up to the max. */
  retryMs?: { first: number; max: number };
  /** A call unanswered this long, with nothing else heard meanwhile, closes the stream. */
  silenceMs?: number;
  now?: () => number;
  /**
   * The node's notifications, on a stream opened with the `ADMIN_STREAM_NOTIFICATIONS`
   * subprotocol (frames without an id, main/core/admin/stream/frames.ts): the browser UI's live updates.
   */
  onNotification?: (notification: { type: string; [key: string]: unknown }) => void;
  /** A stream opened: notifications flow from now on (what happened before reached nobody). */
  onOpen?: () => void;
  /** The stream closed: no notification comes until `onOpen` again. */
  onClose?: () => void;
}

export interface StreamTransport {
  call: AdminTransport;
  /** Whether calls go over the stream right now. */
  readonly streaming: boolean;
  /** Opens the stream now if it is not open (after the back-off of a failed attempt): for its notifications. */
  connect(): void;
  /** Closes the stream for good; calls take the fallback from then on. */
  close(): void;
}

interface Waiting {
  name: AdminOperationName;
  input: Record<string, unknown>;
  sentAt: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** A room's latest change: the way it went (a socket, `null` for HTTP, `undefined` while it waits) and when it is answered. */
interface Tail {
  way: SocketLike | null | undefined;
  done: Promise<void>;
}

/** A change the node does once however often it is sent: a send that names its client `txn_id`. */
export function repeatable(name: AdminOperationName, input: Record<string, unknown>): boolean {
  if (name === 'sendMessage') return typeof input.txn_id === 'string';
  if (name === 'sendMessages') return Array.isArray(input.messages) && input.messages.every((m) => typeof (m as { txn_id?: unknown } | null)?.txn_id === 'string');
  return false;
}

export function streamTransport(options: StreamTransportOptions): StreamTransport {
  const open = options.open ?? ((url: string) => new WebSocket(url, options.protocols) as unknown as SocketLike);
  const httpOnly = new Set<AdminOperationName>(options.httpOnly ?? HTTP_ONLY_OPERATIONS);
  const retry = options.retryMs ?? { first: 1_000, max: 15_000 };
  const silenceMs = options.silenceMs ?? 15_000;
  const now = options.now ?? Date.now;
  let socket: SocketLike | null = null;
  let closedForGood = false;
  let failures = 0;
  let nextTry = 0;
  let nextId = 1;
  let lastHeard = 0;
  let probeSentAt = 0;
  let watchdog: ReturnType<typeof setInterval> | null = null;
  const waiting = new Map<number, Waiting>();
  const tails = new Map<string, Tail>();

  const isRead = (name: AdminOperationName) => adminOperations[name].method === 'GET';
  const openSocket = () => (socket?.readyState === OPEN ? socket : null);

  function backOff(): void {
    failures++;
    nextTry = now() + Math.min(retry.max, retry.first * 2 ** (failures - 1));
  }

  function connect(): void {
    if (closedForGood || socket || now() < nextTry) return;
    let s: SocketLike;
    try {
      s = open(options.url);
    } catch {
      backOff();
      return;
    }
    socket = s;
    let answered = false;
    s.addEventListener('message', (event) => {
      // Only an answer proves the stream works (a node that accepts and closes at once gets the back-off).
      answered = true;
      failures = 0;
      lastHeard = now();
      receive(event.data);
    });
    s.addEventListener('open', () => {
      if (socket === s) options.onOpen?.();
    });
    s.addEventListener('error', () => {
      // A 'close' follows.
    });
    s.addEventListener('close', (event) => lose(s, answered, event.code));
  }

  /** The stream `s` is gone: settle what it carried. */
  function lose(s: SocketLike, answered: boolean, code: number | undefined): void {
    if (socket !== s) return;
    socket = null;
    if (watchdog) clearInterval(watchdog);
    watchdog = null;
    if (answered && code !== CLOSE_CREDENTIAL) nextTry = now();
    else backOff();
    options.onClose?.();
    const lost = [...waiting.values()];
    waiting.clear();
    // Repeated one after another, in the order they were made.
    let again: Promise<unknown> = Promise.resolve();
    for (const call of lost) {
      const unknown = (cause?: unknown) =>
        new ConnectionLost(`the connection to the node closed before it answered ${call.name}${cause instanceof Error ? `; asked again: ${cause.message}` : ''}`);
      if (code === CLOSE_CREDENTIAL) call.reject(new AdminError(401, 'session_ended', 'the session ended; the node did not run this request'));
      else if (isRead(call.name)) options.fallback(call.name, call.input).then(call.resolve, call.reject);
      else if (repeatable(call.name, call.input)) {
        // Only a success is sure: a refusal of the repeat (signed out, busy, stopping) says nothing of the first.
        again = again.then(() => options.fallback(call.name, call.input).then(call.resolve, (error: unknown) => call.reject(unknown(error))));
      } else call.reject(unknown());
    }
  }

  function receive(data: unknown): void {
    let answer: { id?: unknown; ok?: unknown; result?: unknown; status?: unknown; error?: unknown; message?: unknown; notification?: unknown };
    try {
      answer = JSON.parse(String(data)) as typeof answer;
    } catch {
      return;
    }
    const notification = answer.notification as { type?: unknown } | null | undefined;
    if (answer.id === undefined && typeof notification?.type === 'string') {
      options.onNotification?.(notification as { type: string; [key: string]: unknown });
      return;
    }
    if (typeof answer.id !== 'number') return;
    const call = waiting.get(answer.id);
    if (!call) return;
    waiting.delete(answer.id);
    if (answer.ok === true) call.resolve(answer.result);
    else call.reject(new AdminError(Number(answer.status) || 500, String(answer.error ?? 'error'), String(answer.message ?? 'the node refused the request'), errorDetails(answer)));
  }

  /**
   * A call unanswered for half the silence, with nothing heard meanwhile: a cheap status read goes
   * out as a probe (a slow operation on a live connection gets the probe's answer and goes on). A
   * call unanswered `silenceMs` with nothing heard at all: the connection is taken for dead.
   */
  function watch(s: SocketLike): void {
    watchdog ??= setInterval(() => {
      const oldest = waiting.values().next().value;
      if (!oldest) {
        if (watchdog) clearInterval(watchdog);
        watchdog = null;
        return;
      }
      const t = now();
      const quiet = Math.min(t - oldest.sentAt, t - lastHeard);
      if (quiet > silenceMs) {
        lose(s, true, undefined);
        s.close(4000, 'no answer');
      } else if (quiet > silenceMs / 2 && t - probeSentAt > silenceMs / 2) {
        probeSentAt = t;
        try {
          s.send(JSON.stringify({ id: nextId++, op: 'getStatus', input: {} }));
        } catch {
          // The close that follows settles the calls.
        }
      }
    }, Math.max(10, silenceMs / 8));
  }

  function overStream(s: SocketLike, name: AdminOperationName, input: Record<string, unknown>): Promise<unknown> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      waiting.set(id, { name, input, sentAt: now(), resolve, reject });
      try {
        s.send(JSON.stringify({ id, op: name, input }));
      } catch {
        waiting.delete(id);
        options.fallback(name, input).then(resolve, reject);
        return;
      }
      watch(s);
    });
  }

  /** The way a call goes now: the open stream, or HTTP (`null`), opening the stream meanwhile. */
  function way(name: AdminOperationName): SocketLike | null {
    const s = httpOnly.has(name) ? null : openSocket();
    if (!s) connect();
    return s;
  }

  const call: AdminTransport = async (name, input) => {
    if (isRead(name)) {
      const s = way(name);
      return s ? overStream(s, name, input) : options.fallback(name, input);
    }
    const room = typeof input.room_id === 'string' ? input.room_id : null;
    if (room === null) {
      const s = way(name);
      return s ? overStream(s, name, input) : options.fallback(name, input);
    }
    const previous = tails.get(room);
    let settle!: () => void;
    const mine: Tail = { way: undefined, done: new Promise<void>((resolve) => (settle = resolve)) };
    tails.set(room, mine);
    try {
      // Pipelined only behind a change that went over this very stream.
      if (previous && !(previous.way && previous.way === openSocket() && !httpOnly.has(name))) await previous.done;
      const s = way(name);
      mine.way = s;
      return await (s ? overStream(s, name, input) : options.fallback(name, input));
    } finally {
      settle();
      if (tails.get(room) === mine) tails.delete(room);
    }
  };

  return {
    call,
    get streaming() {
      return openSocket() !== null;
    },
    connect,
    close() {
      closedForGood = true;
      const s = socket;
      if (s) {
        lose(s, true, undefined);
        s.close(1000, 'closed by the client');
      }
    },
  };
}
