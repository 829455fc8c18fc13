/**
 * `GET /_paracord/admin/v1/stream`: the admin contract over one WebSocket (issue #17: a client
 * that sends many messages pays one connection, not an HTTP request each — on this project's VM a
 * lone HTTP request costs the server ~490 µs of CPU against ~200 µs for a message on an open
 * stream). Frames are described in frames.ts. The upgrade passes through the admin app's
 * middleware first (upgrade.ts): Host check, token or browser session, and here the Origin.
 *
 * Consecutive `sendMessage` requests of one user to one room that arrive together are stored as
 * one `sendMessages` job (one transaction, signed by the crypto pool when there are 8 or more),
 * and each still gets its own answer with its event id — only once the batch is durable, as on
 * HTTP. Every request counts as a request in flight for a clean shutdown; when the node stops, a
 * stream takes no more requests, answers those under way and closes (1001).
 */
import type { Middleware, ParameterizedContext } from 'koa';
import type { Logger } from 'pino';
import type { WebSocket, WebSocketServer } from 'ws';
import type { Duplex } from 'node:stream';
import { ADMIN_STREAM_NOTIFICATIONS, ADMIN_STREAM_PATH, MAX_MESSAGES_PER_BATCH, type AdminCallMeta, type AdminHandlers, type AdminInput } from '../../../../shared/contract/admin-operations.ts';
import { HttpError, forbidden } from '../../errors.ts';
import { CredentialGate } from '../credential-gate.ts';
import type { InFlightRequests } from '../../http/middleware/in-flight.ts';
import type { NodeEvents, NodeNotification } from '../../node-events.ts';
import { StreamBudget, type BudgetMember } from './budget.ts';
import { STREAM_FRAME_LIMIT, failureAnswer, parseFrame, type FrameId, type StreamAnswer, type StreamRequest } from './frames.ts';
import { takeUpgrade, type UpgradeRequest } from './upgrade.ts';
import { warnLimited } from '../../log/rate-limit.ts';

export const STREAM_PATH = ADMIN_STREAM_PATH;

/** Requests read and not answered on one stream before it stops reading (resumes at half; budget.ts). */
export const MAX_PENDING_REQUESTS = 1_024;
/** Handler calls under way on the node at most (exact), and the node's load past which a stream holding its fair share stops reading (budget.ts). */
export const MAX_NODE_PENDING_REQUESTS = 4_096;
/** Each open stream is pinged this often; one that did not answer the previous ping is cut (a peer gone without a FIN, a stalled tab). */
export const PING_INTERVAL_MS = 30_000;
/**
 * Operations that can end the very credential the stream was opened with: each runs alone, and
 * the frames read with it wait for it and for a fresh credential check (a `logout` followed by
 * anything in the same read is refused 401, as a request after it on HTTP would be).
 */
const CREDENTIAL_OPERATIONS: ReadonlySet<string> = new Set(['logout', 'revokeSession']);
/** Answers a client left unread (bytes) before its stream is cut. */
const MAX_UNREAD_ANSWER_BYTES = 16 * 1024 * 1024;
/** Answers left unread across all streams (bytes) before the stream with the most is cut (budget.ts). */
const MAX_NODE_UNREAD_ANSWER_BYTES = 64 * 1024 * 1024;
/** Only a stream with at least this much unread looks at the node-wide total (the sum is a loop over streams). */
const UNREAD_CHECK_FROM_BYTES = 1024 * 1024;
/** After the node said it stops, how long a stream waits for its requests before it is cut, unless the node gives its own grace. */
const STOP_GRACE_MS = 10_000;
/** How long a closing stream waits for the client's close frame. */
const CLOSE_HANDSHAKE_MS = 2_000;

export interface AdminStreamDeps {
  handlers: () => AdminHandlers;
  log: Logger;
  inFlight?: InFlightRequests | undefined;
  notifications?: NodeEvents | undefined;
  /** The credential check the upgrade passed, run again before each group of requests (a rotated token, an ended session). */
  reauthorize: (ctx: ParameterizedContext) => Promise<void>;
  /** The same check, not counted as a use of the credential, run before notifications are passed on (a stream's credential gate); `reauthorize` when absent. */
  recheck?: (ctx: ParameterizedContext) => Promise<void>;
  /** Whether the stream's credential still holds, asked before each notification (a session's expiry is notified by nothing); cheap, changes nothing. */
  live?: (ctx: ParameterizedContext) => () => boolean;
  /** Tests set smaller limits; the constants above by default. */
  limits?: { pingMs?: number; perStream?: number; perNode?: number; unreadPerNode?: number };
  /** Where the stream answers: the admin API's by default (the members' stream is at its own path, client/client-app.ts). */
  path?: string;
  /** Who is on each stream (the members' stream, issue #34): the handlers its requests run with and the notifications it gets; by default every handler and every notification. */
  viewer?: (ctx: ParameterizedContext) => StreamViewer;
}

export interface StreamViewer {
  handlers: () => AdminHandlers;
  sees: (notification: NodeNotification) => boolean;
  /**
   * Each frame, before anything of it is read (the members' stream: a token of the member's and
   * the address's buckets, as an HTTP request takes before its body is read); throws an HttpError
   * to refuse it. None on the owner's stream.
   */
  admit?: () => void;
}

/**
 * Frames refused in a row by `admit` before the stream is closed (1013, try again later: not the
 * 1008 of an ended session, which a client takes as signed out), once what it runs is answered:
 * its client does not wait as told. Frames after that are not read.
 */
export const MAX_FRAMES_REFUSED_IN_A_ROW = 20;

/**
 * A refused frame's id, when it opens with one (`{"id": …`, as every client writes it), read from
 * its first bytes only: the frame is not parsed (that is what its refusal spares). Else null.
 */
export function leadingFrameId(data: Buffer): FrameId | null {
  const match = /^\s*\{\s*"id"\s*:\s*(?:(-?\d{1,16})\b|"([^"\\]{1,64})")/.exec(data.subarray(0, 96).toString('latin1'));
  if (!match) return null;
  if (match[2] !== undefined) return /^[\x20-\x7e]+$/.test(match[2]) ? match[2] : null;
  const id = Number(match[1]);
  return Number.isSafeInteger(id) ? id : null;
}

export function adminStream(deps: AdminStreamDeps): Middleware {
  let server: WebSocketServer | undefined;
  // One listener for all streams: the node stops, every stream (and any still being opened) winds down.
  const live = new Set<StreamConnection>();
  let stopping = false;
  let stopGraceMs = STOP_GRACE_MS;
  const budget = new StreamBudget({
    perStream: deps.limits?.perStream ?? MAX_PENDING_REQUESTS,
    perNode: deps.limits?.perNode ?? MAX_NODE_PENDING_REQUESTS,
    unreadPerNode: deps.limits?.unreadPerNode ?? MAX_NODE_UNREAD_ANSWER_BYTES,
  });
  // One timer pings every stream; it runs only while a stream is open.
  let pingTimer: NodeJS.Timeout | null = null;
  const pingMs = deps.limits?.pingMs ?? PING_INTERVAL_MS;
  // One listener for all streams: each notification goes to the streams that asked for them.
  deps.notifications?.on('notification', (notification) => {
    // A status change may be a session that ended (signed out elsewhere, a member disabled, a new
    // passphrase): every stream looks again whether its credential still holds before it is told
    // anything more (credential-gate.ts).
    for (const connection of live) {
      // One stream that cannot be told (its viewer's rooms read from a failing database) keeps no other from hearing it.
      try {
        connection.offer(notification);
      } catch (error) {
        // That stream misses this one; its next notification is tried again.
        warnLimited(deps.log, 'stream_notify_failed', { event: 'stream_notify_failed', err: error }, 'a live stream could not be told of a change');
      }
    }
  });
  deps.notifications?.once('close', (graceMs = STOP_GRACE_MS) => {
    stopping = true;
    stopGraceMs = graceMs;
    for (const connection of live) connection.stop(graceMs);
  });
  const path = deps.path ?? STREAM_PATH;
  return async (ctx, next) => {
    if (ctx.path !== path) return next();
    if (ctx.method !== 'GET') {
      ctx.set('allow', 'GET');
      throw new HttpError(405, 'method_not_allowed', `${ctx.method} is not allowed on ${ctx.path}`);
    }
    // A browser page of another site cannot ride the session cookie (SameSite=strict keeps it
    // home), and the Host check stops rebinding; a page's Origin must be this very host too.
    const origin = ctx.get('origin');
    if (origin && !sameOrigin(origin, ctx.get('host'))) throw forbidden('page_origin_not_allowed', `the admin stream does not answer pages from ${origin}`);
    // Only upgrades upgrade.ts let through (GET, Upgrade: websocket) carry a socket to take.
    const taken = takeUpgrade(ctx.req as UpgradeRequest, ctx.res);
    if (!taken) throw new HttpError(426, 'upgrade_required', 'this endpoint is a WebSocket: connect with "Upgrade: websocket"', { upgrade: 'websocket' });
    ctx.respond = false;
    ctx.status = 101;
    // Loaded by the first stream: a node nobody streams to never loads it.
    const { WebSocketServer: Server } = await import('ws');
    server ??= new Server({
      noServer: true,
      maxPayload: STREAM_FRAME_LIMIT,
      perMessageDeflate: false,
      clientTracking: false,
      // The only subprotocol: the node's notifications come over the stream too (frames.ts).
      handleProtocols: (protocols) => (protocols.has(ADMIN_STREAM_NOTIFICATIONS) ? ADMIN_STREAM_NOTIFICATIONS : false),
    });
    const meta: AdminCallMeta = { session_id: ctx.state.sessionId as string | undefined };
    const viewer = deps.viewer?.(ctx) ?? { handlers: deps.handlers, sees: () => true };
    server.handleUpgrade(ctx.req, taken.socket, taken.head, (ws) => {
      const recheck = deps.recheck ?? deps.reauthorize;
      const connection = new StreamConnection(ws, taken.socket, deps, meta, { reauthorize: () => deps.reauthorize(ctx), recheck: () => recheck(ctx) }, budget, viewer, ws.protocol === ADMIN_STREAM_NOTIFICATIONS, deps.live?.(ctx));
      live.add(connection);
      budget.join(connection);
      pingTimer ??= setInterval(() => {
        for (const each of live) each.heartbeat();
      }, pingMs).unref();
      ws.on('close', () => {
        live.delete(connection);
        budget.leave(connection);
        if (live.size === 0 && pingTimer) {
          clearInterval(pingTimer);
          pingTimer = null;
        }
      });
      connection.start();
      if (stopping) connection.stop(stopGraceMs);
    });
  };
}

function sameOrigin(origin: string, host: string): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.host === host.toLowerCase();
  } catch {
    return false;
  }
}

class StreamConnection implements BudgetMember {
  private queue: StreamRequest[] = [];
  private draining = false;
  pending = 0;
  private paused = false;
  private stopping = false;
  private stopTimer: NodeJS.Timeout | null = null;
  /** The credential the stream was opened with no longer holds: it closes (1008) once nothing is under way. */
  private credentialEnded = false;
  /** Heard from since the last ping (a pong or a frame). */
  private alive = true;
  /** Frames `viewer.admit` refused since the last it let in. */
  private refusedInARow = 0;
  /** Refused too many frames in a row: nothing more is read, and it closes (1013) once nothing is under way. */
  private overLimit = false;
  /** Notifications pass through it: none once the credential ended, none before it was checked again after a `status`. */
  private readonly gate: CredentialGate;

  private readonly ws: WebSocket;
  /** The stream's socket: answers written in one turn of the event loop leave in one write (`answer`). */
  private readonly socket: Duplex;
  /** Corked until the end of this turn (a `process.nextTick`). */
  private corked = false;
  private readonly deps: AdminStreamDeps;
  private readonly meta: AdminCallMeta;
  private readonly reauthorize: () => Promise<void>;
  private readonly budget: StreamBudget;
  /** The client asked for the node's notifications on this stream. */
  readonly subscribed: boolean;
  /** Who is on the stream: its handlers, the notifications it sees. */
  readonly viewer: StreamViewer;

  constructor(ws: WebSocket, socket: Duplex, deps: AdminStreamDeps, meta: AdminCallMeta, checks: { reauthorize: () => Promise<void>; recheck: () => Promise<void> }, budget: StreamBudget, viewer: StreamViewer, subscribed = false, live?: () => boolean) {
    this.ws = ws;
    this.socket = socket;
    this.deps = deps;
    this.meta = meta;
    this.reauthorize = checks.reauthorize;
    this.budget = budget;
    this.viewer = viewer;
    this.subscribed = subscribed;
    this.gate = new CredentialGate(checks.recheck, (notification) => this.notify(notification), () => {
      this.credentialEnded = true;
      if (this.pending === 0) this.closeForCredential();
    }, live);
  }

  start(): void {
    this.ws.on('pong', () => (this.alive = true));
    this.ws.on('message', (data, isBinary) => {
      this.alive = true;
      this.receive(data, isBinary);
    });
    this.ws.on('error', () => this.ws.terminate());
    this.ws.on('close', () => {
      if (this.stopTimer) clearTimeout(this.stopTimer);
    });
  }

  get unread(): number {
    return this.ws.bufferedAmount;
  }

  /** The ping timer's tick: a stream that did not answer the last ping is cut, the others pinged again. */
  heartbeat(): void {
    // A stream the node stopped reading cannot have its pongs read: it is not the client's silence.
    if (this.paused) {
      this.alive = true;
      return;
    }
    if (!this.alive) {
      this.deps.log.info({ event: 'stream_unresponsive' }, 'an admin stream did not answer a ping; closing it');
      this.ws.terminate();
      return;
    }
    this.alive = false;
    this.ws.ping();
  }

  private receive(data: import('ws').RawData, isBinary: boolean): void {
    // A stream closing (or closed) reads no more: the ws library passes on frames until the
    // client's close frame comes, which a client that ignores the close never sends.
    if (this.overLimit || this.ws.readyState !== this.ws.OPEN) return;
    if (this.viewer.admit) {
      try {
        this.viewer.admit();
        this.refusedInARow = 0;
      } catch (error) {
        const frame = Array.isArray(data) ? Buffer.concat(data) : (data as Buffer);
        this.answer({ id: isBinary ? null : leadingFrameId(frame), ...failureAnswer(error) });
        if (++this.refusedInARow >= MAX_FRAMES_REFUSED_IN_A_ROW) {
          this.overLimit = true;
          this.deps.log.info({ event: 'stream_refused_frames', refused: this.refusedInARow }, 'a stream kept sending frames it was told to hold back; closing it');
          // What runs is given STOP_GRACE_MS to be answered (a busy node's queue), as at a stop.
          if (this.pending === 0) this.closeOverLimit();
          else this.later(STOP_GRACE_MS);
        }
        return;
      }
    }
    if (isBinary) return this.answer({ id: null, ok: false, status: 400, error: 'malformed_frame', message: 'frames are JSON text, not binary' });
    // A Buffer (our server's binaryType), or its fragments.
    const parsed = parseFrame(Array.isArray(data) ? Buffer.concat(data).toString('utf8') : (data as Buffer).toString('utf8'));
    if (!parsed.ok) return this.answer(parsed.answer);
    // Refused with its own id: the client knows for sure this one was not done.
    if (this.stopping) return this.answer({ id: parsed.request.id, ok: false, status: 503, error: 'node_stopping', message: 'the node is stopping; reconnect once it is back' });
    this.queue.push(parsed.request);
    this.pending++;
    this.budget.pending++;
    if (!this.paused && this.budget.shouldPause(this)) {
      this.paused = true;
      this.budget.setPaused(this, true);
      this.ws.pause();
      this.deps.log.debug({ event: 'stream_paused', pending: this.pending, node_pending: this.budget.pending }, 'an admin stream stopped reading until its requests are answered');
    }
    if (!this.draining) {
      this.draining = true;
      // The frames that came in the same read are dispatched together (and sends grouped).
      setImmediate(() => void this.drain());
    }
  }

  /** Dispatches the queued requests in order; handlers start in that order (a room's sends keep it). */
  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const requests = this.queue;
      this.queue = [];
      try {
        await this.reauthorize();
      } catch (error) {
        // Refused, and the stream closes once what was already under way is answered: a client
        // then knows that whatever the close left unanswered was never run.
        this.credentialEnded = true;
        this.fail(requests, error);
        this.settled(requests.length);
        continue;
      }
      let i = 0;
      while (i < requests.length) {
        const first = requests[i]!;
        // A free slot of the node's handler calls first (budget.ts); the order is kept.
        const waited = await this.budget.slot();
        // The credential was checked before the group; a request that waited for its slot (the
        // node busy) has it checked again: it may have ended meanwhile (revoked elsewhere, a
        // member disabled), and what waited is then refused, not run.
        if (waited || this.credentialEnded) {
          try {
            await this.reauthorize();
          } catch (error) {
            this.budget.release();
            this.credentialEnded = true;
            const rest = requests.slice(i);
            this.fail(rest, error);
            this.settled(rest.length);
            break;
          }
        }
        if (CREDENTIAL_OPERATIONS.has(first.op)) {
          // The rest waits for it, then for the credential check at the top of the loop.
          await this.dispatch([first]);
          this.queue = [...requests.slice(i + 1), ...this.queue];
          break;
        }
        let end = i + 1;
        if (first.op === 'sendMessage') {
          const { room_id, user_id } = first.input as AdminInput<'sendMessage'>;
          while (end < requests.length && end - i < MAX_MESSAGES_PER_BATCH && requests[end]!.op === 'sendMessage') {
            const next = requests[end]!.input as AdminInput<'sendMessage'>;
            if (next.room_id !== room_id || next.user_id !== user_id) break;
            end++;
          }
        }
        void this.dispatch(requests.slice(i, end));
        i = end;
      }
    }
    this.draining = false;
  }

  private dispatch(requests: StreamRequest[]): Promise<void> {
    const handlers = this.viewer.handlers();
    this.deps.log.debug({ event: 'stream_requests', op: requests.length > 1 ? 'sendMessages' : requests[0]!.op, count: requests.length }, 'admin stream requests dispatched');
    const inFlight = this.deps.inFlight;
    const entry = inFlight ? `WS ${this.deps.path ?? STREAM_PATH} ${requests[0]!.op}${requests.length > 1 ? ` ×${requests.length}` : ''} at ${new Date().toISOString()} #${++inFlight.started}` : '';
    inFlight?.add(entry);
    let call: Promise<unknown[]>;
    try {
      if (requests.length === 1) {
        const { op, input } = requests[0]!;
        call = (handlers[op] as (input: unknown, meta?: AdminCallMeta) => Promise<unknown>)(input, { ...this.meta, frames: 1 }).then((result) => [result]);
      } else {
        const { room_id, user_id } = requests[0]!.input as AdminInput<'sendMessage'>;
        const messages = requests.map((r) => {
          const { body, txn_id } = r.input as AdminInput<'sendMessage'>;
          return txn_id === undefined ? { body } : { body, txn_id };
        });
        // One call for these frames, each of which paid its way in (StreamViewer.admit).
        call = handlers.sendMessages({ room_id, messages, user_id }, { ...this.meta, frames: requests.length }).then(({ event_ids }) => event_ids.map((event_id) => ({ event_id })));
      }
    } catch (error) {
      call = Promise.reject(error);
    }
    return call
      .then((results) => requests.forEach((request, k) => this.answer({ id: request.id, ok: true, result: results[k] })))
      .catch((error: unknown) => this.fail(requests, error))
      .finally(() => {
        inFlight?.delete(entry);
        this.budget.release();
        this.settled(requests.length);
      });
  }

  private fail(requests: StreamRequest[], error: unknown): void {
    const failure = failureAnswer(error);
    if (failure.status === 500) this.deps.log.error({ event: 'request_failed', method: 'WS', path: this.deps.path ?? STREAM_PATH, op: requests[0]?.op, err: error }, 'unexpected error while handling a stream request');
    for (const request of requests) this.answer({ ...failure, id: request.id });
  }

  private settled(count: number): void {
    this.pending -= count;
    this.resumeIfRoom();
    // Every stream paused for the node's load looks again (each under its own limits).
    this.budget.settled(count);
    if (this.pending === 0) {
      if (this.credentialEnded) this.closeForCredential();
      else if (this.stopping) this.closeForStop();
      else if (this.overLimit) this.closeOverLimit();
    }
  }

  resumeIfRoom(): void {
    if (!this.paused || this.stopping || !this.budget.mayResume(this)) return;
    this.paused = false;
    this.alive = true;
    this.budget.setPaused(this, false);
    this.ws.resume();
  }

  cut(why: string): void {
    this.deps.log.warn({ event: 'stream_cut', buffered: this.ws.bufferedAmount, why }, 'an admin stream held too many unread answers; closing it');
    this.ws.terminate();
  }

  /** A notification of the node (`{"notification": …}`, frames.ts); none once the credential ended or the node stops. */
  notify(notification: NodeNotification): void {
    if (this.credentialEnded || this.stopping) return;
    this.write({ notification });
  }

  private answer(answer: StreamAnswer): void {
    this.write(answer);
  }

  private write(frame: StreamAnswer | { notification: NodeNotification }): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    if (this.ws.bufferedAmount > MAX_UNREAD_ANSWER_BYTES) return this.cut('its client stopped reading its answers');
    // The answers of a group of sends are written one after the other in one turn: corked, they
    // leave in one write instead of a system call each (issue #17: ~0.7 writes per message at
    // saturation). The socket's own cork count lets ws cork and uncork each frame inside ours.
    if (!this.corked) {
      this.corked = true;
      this.socket.cork();
      process.nextTick(() => {
        this.corked = false;
        this.socket.uncork();
      });
    }
    this.ws.send(JSON.stringify(frame));
    if (this.ws.bufferedAmount > Math.min(UNREAD_CHECK_FROM_BYTES, this.budget.unreadPerNode / 4)) this.budget.checkUnread();
  }

  /** The node stops: no new requests (answered `node_stopping`); the stream closes once those under way are answered. */
  stop(graceMs = STOP_GRACE_MS): void {
    if (this.stopping) return;
    this.stopping = true;
    // Reading goes on, so new requests get their answer and the client's close frame is read.
    if (this.paused) {
      this.paused = false;
      this.budget.setPaused(this, false);
      this.ws.resume();
    }
    if (this.pending === 0) this.closeForStop();
    else this.later(graceMs);
  }

  /** The credential is looked at again now (not only before the next request): ended, the stream closes (1008) once nothing is under way. */
  /** A notification of the node: a `status` has the credential checked again first (credential-gate.ts). */
  offer(notification: NodeNotification): void {
    if (this.credentialEnded || this.stopping) return;
    if (notification.type === 'status') this.gate.recheck();
    if (this.subscribed && this.viewer.sees(notification)) this.gate.offer(notification);
  }

  private closeOverLimit(): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.close(1013, 'too many requests: wait as told');
    this.later(CLOSE_HANDSHAKE_MS);
  }

  private closeForCredential(): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.close(1008, 'credential no longer valid');
    this.later(CLOSE_HANDSHAKE_MS);
  }

  private closeForStop(): void {
    this.ws.close(1001, 'node stopping');
    // A client that does not answer the close frame does not hold the node's shutdown.
    this.later(CLOSE_HANDSHAKE_MS);
  }

  private later(ms: number): void {
    if (this.stopTimer) clearTimeout(this.stopTimer);
    this.stopTimer = setTimeout(() => this.ws.terminate(), ms);
    this.stopTimer.unref();
  }
}
