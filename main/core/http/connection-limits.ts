/**
 * Connection limits and timeouts of a listener (issue #14, item 6), in one place, the same for
 * the federation and the admin listener:
 *
 * - at most `maxConnections` open connections in all and `maxPerAddress` from one address (an
 *   IPv6 client counts by its /64); trusted reverse proxies count only towards the total. At a
 *   limit the connection idle the longest (no request in flight: never sent one, still sending
 *   headers or its TLS handshake, or waiting between keep-alive requests) is closed to make room
 *   — from the same address when that address is at its limit — and the new one is refused only
 *   when every connection it could replace is busy. So idle connections from many addresses
 *   never keep a new client out (issue #37 item 9);
 * - a request's headers must arrive within `headersTimeoutMs` and the whole request within
 *   `requestTimeoutMs` (slowloris: 408 and closed), an idle keep-alive connection is closed after
 *   `keepAliveTimeoutMs`, a TLS handshake must finish within `headersTimeoutMs`;
 * - refusals and evictions are logged, rate-limited (a flood of them is a handful of lines).
 *
 * Defaults a home node can live with: 1024 connections, 64 per address (a busy peer uses a few),
 * headers in 15 s, a request in 30 s, idle keep-alive connections closed after 10 s on the admin
 * listener and after 5 minutes on the federation one (the persistent link between peers).
 */
import type { Server as NetServer, Socket } from 'node:net';
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { NodeConfig } from '../config.ts';
import { warnLimited } from '../log/rate-limit.ts';
import { addressKey, canonicalAddress } from './client-address.ts';

export interface ConnectionLimits {
  maxConnections: number;
  maxPerAddress: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 1024,
  maxPerAddress: 64,
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 10_000,
};

/**
 * How long the federation listener keeps an idle keep-alive connection (issue #36 goal 2, "a
 * persistent link between friends' nodes"; docs/PROTOCOL.md §Persistent link): a lone chat
 * message after a quiet minute finds the connection open, and pays no TCP and TLS handshake on
 * either node. The sender closes its side a little before (http-client.ts). An idle connection
 * holds no slot against anyone: at a limit, the one idle the longest is closed first.
 */
export const FEDERATION_KEEP_ALIVE_MS = 5 * 60_000;

/** The federation listener's limits: NodeConfig fields over the defaults (keep-alive: FEDERATION_KEEP_ALIVE_MS). */
export function federationConnectionLimits(config: NodeConfig): ConnectionLimits {
  const d = DEFAULT_CONNECTION_LIMITS;
  return {
    maxConnections: config.maxConnections ?? d.maxConnections,
    maxPerAddress: config.maxConnectionsPerAddress ?? d.maxPerAddress,
    headersTimeoutMs: config.headersTimeoutMs ?? d.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs ?? d.requestTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs ?? FEDERATION_KEEP_ALIVE_MS,
  };
}

/**
 * The admin listener is loopback-only and used by one owner: a smaller total is plenty, and every
 * local account connects from 127.0.0.1, so only the total counts. A connection must send its
 * request headers within 5 s (red team "admin connections"; SECURITY.md item 6). Idle keep-alive
 * stays 10 s: a client whose event loop pauses (a CLI or test that runs a child process
 * synchronously) would otherwise reuse a connection the node has just closed.
 */
export const ADMIN_CONNECTION_LIMITS: ConnectionLimits = {
  ...DEFAULT_CONNECTION_LIMITS, maxConnections: 256, maxPerAddress: 256, headersTimeoutMs: 5_000,
};

/** The admin listener's limits: `adminHeadersTimeoutMs` (NodeConfig) over ADMIN_CONNECTION_LIMITS. */
export function adminConnectionLimits(config: NodeConfig): ConnectionLimits {
  const headers = config.adminHeadersTimeoutMs;
  return headers === undefined ? ADMIN_CONNECTION_LIMITS : { ...ADMIN_CONNECTION_LIMITS, headersTimeoutMs: headers };
}

/**
 * Options for `createServer` (http or https): the timeouts, and how often Node checks them
 * (only settable at creation; Node's default of 30 s would let a 1 s timeout run 30 s).
 */
export function serverOptions(limits: ConnectionLimits): ServerOptions & { handshakeTimeout: number } {
  const requestTimeout = limits.requestTimeoutMs;
  // Node refuses a headers timeout longer than the request timeout.
  const headersTimeout = requestTimeout > 0 ? Math.min(limits.headersTimeoutMs, requestTimeout) : limits.headersTimeoutMs;
  return {
    headersTimeout,
    requestTimeout,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.max(50, Math.min(5_000, Math.floor(headersTimeout / 4))),
    handshakeTimeout: headersTimeout,
  };
}

/**
 * Node checks every listener's headers and request timeouts on an interval that runs from
 * `listen` on, connections or not (a wake-up every `connectionsCheckingInterval` of an idle node,
 * issue #36). Node's own check (the same function, same period) is run here only while the
 * listener has a connection open that Node times (not an upgraded one: Node stopped timing it);
 * with a Node that does not keep its interval where we look, that interval stays as it is.
 * Returns what to call with the count of such connections when it changes.
 */
function checkTimeoutsWhileConnected(server: NetServer): (open: number) => void {
  let slot: symbol | undefined;
  let check: (() => void) | null = null;
  let period = 0;
  let timer: NodeJS.Timeout | null = null;
  let connected = 0;
  const sync = () => {
    if (!check || !slot) return;
    if (connected > 0 && !timer) {
      timer = setInterval(check, period);
      timer.unref();
      // Where Node looks for it when the server closes (it clears it then).
      (server as unknown as Record<symbol, unknown>)[slot] = timer;
    } else if (connected === 0 && timer) {
      clearInterval(timer);
      timer = null;
    }
  };
  const takeOver = () => {
    // Node sets it at 'listening', not before.
    slot = Object.getOwnPropertySymbols(server).find((s) => s.description === 'http.server.connectionsCheckingInterval');
    const nodes = slot && ((server as unknown as Record<symbol, unknown>)[slot] as { _onTimeout?: unknown; _idleTimeout?: unknown } | undefined);
    if (!nodes || nodes === timer || typeof nodes._onTimeout !== 'function' || typeof nodes._idleTimeout !== 'number' || nodes._idleTimeout <= 0) return;
    check = nodes._onTimeout as () => void;
    period = nodes._idleTimeout;
    clearInterval(nodes as unknown as NodeJS.Timeout);
    timer = null;
    sync();
  };
  // Node starts its interval on 'listening' (its listener comes first: it was added when the server was made).
  server.on('listening', takeOver);
  if (server.listening) takeOver();
  return (open) => {
    connected = open;
    sync();
  };
}

export interface ConnectionStats {
  /** Connections open now. */
  readonly open: number;
  /** Connections closed on arrival because of a limit, since the start. */
  readonly refused: number;
  /** Idle connections closed to make room for a new one, since the start. */
  readonly evicted: number;
  /** Connections let in, since the start (each a TCP handshake; over TLS, a TLS handshake began). */
  readonly accepted: number;
  /** TLS handshakes completed, since the start (0 on a plain HTTP listener). */
  readonly tlsHandshakes: number;
}

/** A counted connection: its address key (null: a trusted proxy), requests in flight, and since when it is idle. */
interface Tracked {
  key: string | null;
  busy: number;
  idleSince: number;
  /** Since when it has had a request in flight (meaningful while busy > 0). */
  busySince: number;
  /** Upgraded (an admin stream): Node no longer times it, so it needs no timeout checks. */
  upgraded: boolean;
  countOut: () => void;
}

/**
 * The TCP connection a socket stands for: a TLS request's socket is not the socket that
 * connected, but has the same remote address and port.
 */
const remoteId = (socket: Socket): string | null =>
  socket.remoteAddress !== undefined && socket.remotePort !== undefined ? `${socket.remoteAddress}|${socket.remotePort}` : null;

/**
 * Applies the limits to a listening (or about to listen) server. `exempt` names addresses
 * that skip the per-address limit (trusted reverse proxies).
 */
export function limitConnections(
  server: NetServer,
  limits: ConnectionLimits,
  deps: {
    log: Logger; listener: string; exempt?: (address: string) => boolean;
    /**
     * The listener takes upgraded connections (the admin stream, passUpgradesThrough): they are
     * counted busy while open. Only then is an 'upgrade' listener added: with one, Node hands every
     * upgrade request's socket over unanswered and untimed, so a listener without a handler of its
     * own would keep such sockets open for good (review of issue #37 item 9).
     */
    upgrades?: boolean;
  },
): ConnectionStats {
  const perAddress = new Map<string, number>();
  /** Told how many open connections Node times (all but the upgraded ones). */
  const openChanged = checkTimeoutsWhileConnected(server);
  let open = 0;
  /** Open connections that were upgraded (counted in `open`). */
  let upgraded = 0;
  let refused = 0;
  let evicted = 0;
  let accepted = 0;
  let tlsHandshakes = 0;
  // A TLS listener's handshakes ('secureConnection' is only emitted by tls.Server).
  server.on('secureConnection', () => tlsHandshakes++);
  // The total is enforced here (by closing an idle connection first), not by Node's server.maxConnections.
  const tracked = new Map<Socket, Tracked>();
  const byRemote = new Map<string, Tracked>();
  const entryOf = (socket: Socket): Tracked | undefined => {
    const id = remoteId(socket);
    return tracked.get(socket) ?? (id === null ? undefined : byRemote.get(id));
  };
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const entry = entryOf(req.socket);
    if (!entry) return;
    if (entry.busy++ === 0) entry.busySince = Date.now();
    res.once('close', () => {
      entry.busy--;
      entry.idleSince = Date.now();
    });
  });
  // An upgraded connection (the admin stream) is in use for as long as it is open: never the idle one to close.
  if (deps.upgrades) {
    server.on('upgrade', (req: IncomingMessage) => {
      const entry = entryOf(req.socket);
      if (!entry) return;
      if (entry.busy++ === 0) entry.busySince = Date.now();
      if (!entry.upgraded) {
        entry.upgraded = true;
        openChanged(open - ++upgraded);
      }
    });
  }
  /** Closes the connection idle the longest (from `key` only, when given); false if none is idle. */
  const evictOldestIdle = (key?: string): boolean => {
    let oldest: Socket | undefined;
    let oldestSince = Infinity;
    for (const [socket, entry] of tracked) {
      if (entry.busy > 0 || (key !== undefined && entry.key !== key)) continue;
      if (entry.idleSince < oldestSince) {
        oldest = socket;
        oldestSince = entry.idleSince;
      }
    }
    if (!oldest) return false;
    evicted++;
    // Its 'close' comes later: count it out now, so the next arrival sees the room it left.
    tracked.get(oldest)?.countOut();
    const reason = key === undefined ? 'total' : 'per_address';
    warnLimited(deps.log, `connection_evicted ${deps.listener} ${reason}`, {
      event: 'connection_evicted', listener: deps.listener, reason, limit: key === undefined ? limits.maxConnections : limits.maxPerAddress,
    }, key === undefined ? 'listener full: closing the connection idle the longest' : 'an address at its limit: closing its connection idle the longest');
    oldest.destroy();
    return true;
  };
  /**
   * At the total with every connection busy (slow bodies, long polls): fair share. The address
   * holding the most connections gives up its connection busy the longest, when the newcomer's
   * address holds fewer; so busy connections from many addresses cannot keep a new address out
   * either. Trusted proxies (key null) are never the one asked.
   */
  const evictFromLargest = (newcomer: string | null): boolean => {
    let largest: string | null = null;
    let most = 0;
    for (const [key, count] of perAddress) if (count > most) [largest, most] = [key, count];
    if (largest === null || most <= (newcomer === null ? 0 : (perAddress.get(newcomer) ?? 0)) + 1) return false;
    let oldest: Socket | undefined;
    let oldestSince = Infinity;
    for (const [socket, entry] of tracked) {
      if (entry.key === largest && entry.busySince < oldestSince) {
        oldest = socket;
        oldestSince = entry.busySince;
      }
    }
    if (!oldest) return false;
    evicted++;
    tracked.get(oldest)?.countOut();
    warnLimited(deps.log, `connection_evicted ${deps.listener} fair_share`, {
      event: 'connection_evicted', listener: deps.listener, reason: 'fair_share', limit: limits.maxConnections,
    }, 'listener full of busy connections: closing one of the address that holds the most');
    oldest.destroy();
    return true;
  };
  const refuse = (reason: 'total' | 'per_address', address: string) => {
    refused++;
    warnLimited(deps.log, `connection_refused ${deps.listener} ${reason} ${reason === 'total' ? '' : addressKey(address)}`, {
      event: 'connection_refused', listener: deps.listener, reason, address,
      limit: reason === 'total' ? limits.maxConnections : limits.maxPerAddress,
    }, reason === 'total' ? 'every connection is busy; refusing new ones' : 'too many busy connections from one address; refusing new ones');
  };
  server.on('connection', (socket: Socket) => {
    const address = canonicalAddress(socket.remoteAddress ?? 'unknown');
    const key = deps.exempt?.(address) ? null : addressKey(address);
    if (key !== null && (perAddress.get(key) ?? 0) >= limits.maxPerAddress) {
      // The address makes room among its own connections: never at another's expense.
      if (!evictOldestIdle(key)) {
        socket.destroy();
        refuse('per_address', address);
        return;
      }
    } else if (open >= limits.maxConnections && !evictOldestIdle() && !evictFromLargest(key)) {
      socket.destroy();
      refuse('total', address);
      return;
    }
    if (key !== null) perAddress.set(key, (perAddress.get(key) ?? 0) + 1);
    accepted++;
    openChanged(++open - upgraded);
    const id = remoteId(socket);
    let counted = true;
    const entry: Tracked = {
      key, busy: 0, idleSince: Date.now(), busySince: 0, upgraded: false,
      countOut: () => {
        if (!counted) return;
        counted = false;
        tracked.delete(socket);
        if (id !== null && byRemote.get(id) === entry) byRemote.delete(id);
        if (entry.upgraded) upgraded--;
        openChanged(--open - upgraded);
        if (key === null) return;
        const left = (perAddress.get(key) ?? 1) - 1;
        if (left <= 0) perAddress.delete(key);
        else perAddress.set(key, left);
      },
    };
    tracked.set(socket, entry);
    if (id !== null) byRemote.set(id, entry);
    socket.once('close', () => entry.countOut());
  });
  return {
    get open() {
      return open;
    },
    get refused() {
      return refused;
    },
    get evicted() {
      return evicted;
    },
    get accepted() {
      return accepted;
    },
    get tlsHandshakes() {
      return tlsHandshakes;
    },
  };
}
