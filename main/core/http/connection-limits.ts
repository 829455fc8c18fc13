/**
 * Connection limits and timeouts of a listener (issue #14, item 6), in one place:
 *
 * - at most `maxConnections` open connections in all (`server.maxConnections`: Node closes the
 *   rest at once) and `maxPerAddress` from one address (an IPv6 client counts by its /64), the
 *   excess closed as soon as it connects; trusted reverse proxies count only towards the total;
 * - a request's headers must arrive within `headersTimeoutMs` and the whole request within
 *   `requestTimeoutMs` (slowloris: 408 and closed), an idle keep-alive connection is closed after
 *   `keepAliveTimeoutMs`, a TLS handshake must finish within `headersTimeoutMs`;
 * - refusals are logged, rate-limited (a flood of refusals is a handful of lines).
 *
 * Defaults a home node can live with: 1024 connections, 64 per address (a busy peer uses a few),
 * headers in 15 s, a request in 30 s, idle connections closed after 10 s.
 */
import type { Server as NetServer, Socket } from 'node:net';
import type { IncomingMessage, ServerOptions, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { NodeConfig } from '../config.ts';
import { warnLimited } from '../log.ts';
import { addressKey, canonicalAddress } from './client-address.ts';

export interface ConnectionLimits {
  maxConnections: number;
  maxPerAddress: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /**
   * At a limit, close the connection idle the longest (no request in flight: never sent one,
   * still sending headers, or waiting between keep-alive requests) instead of refusing the new
   * one; refuse only when every connection is busy. For the admin listener, where every local
   * client is 127.0.0.1 and per-address limits cannot tell the owner from another account.
   */
  evictIdle?: boolean;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 1024,
  maxPerAddress: 64,
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 10_000,
};

/** The federation listener's limits: NodeConfig fields over the defaults. */
export function federationConnectionLimits(config: NodeConfig): ConnectionLimits {
  const d = DEFAULT_CONNECTION_LIMITS;
  return {
    maxConnections: config.maxConnections ?? d.maxConnections,
    maxPerAddress: config.maxConnectionsPerAddress ?? d.maxPerAddress,
    headersTimeoutMs: config.headersTimeoutMs ?? d.headersTimeoutMs,
    requestTimeoutMs: config.requestTimeoutMs ?? d.requestTimeoutMs,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs ?? d.keepAliveTimeoutMs,
  };
}

/**
 * The admin listener is loopback-only and used by one owner: a smaller total is plenty. A
 * connection must send its request headers within 5 s, and when the listener is full the
 * connection idle the longest is closed to make room (red team "admin connections"; SECURITY.md
 * item 6). Idle keep-alive stays 10 s: a client whose event loop pauses (a CLI or test that runs
 * a child process synchronously) would otherwise reuse a connection the node has just closed.
 */
export const ADMIN_CONNECTION_LIMITS: ConnectionLimits = {
  ...DEFAULT_CONNECTION_LIMITS, maxConnections: 256, maxPerAddress: 256, headersTimeoutMs: 5_000, evictIdle: true,
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

export interface ConnectionStats {
  /** Connections open now. */
  readonly open: number;
  /** Connections closed on arrival because of a limit, since the start. */
  readonly refused: number;
  /** Idle connections closed to make room for a new one (evictIdle), since the start. */
  readonly evicted: number;
}

/**
 * Applies the limits to a listening (or about to listen) server. `exempt` names addresses
 * that skip the per-address limit (trusted reverse proxies).
 */
export function limitConnections(
  server: NetServer,
  limits: ConnectionLimits,
  deps: { log: Logger; listener: string; exempt?: (address: string) => boolean },
): ConnectionStats {
  const perAddress = new Map<string, number>();
  let open = 0;
  let refused = 0;
  let evicted = 0;
  // Under evictIdle the total is enforced here (by closing an idle connection), not by Node.
  if (!limits.evictIdle) server.maxConnections = limits.maxConnections;
  /** evictIdle: each counted connection → since when it is idle (null: a request in flight). */
  const idleSince = new Map<Socket, { key: string; since: number | null }>();
  const countOuts = new Map<Socket, () => void>();
  if (limits.evictIdle) {
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      const entry = idleSince.get(req.socket);
      if (!entry) return;
      entry.since = null;
      res.once('close', () => {
        entry.since = Date.now();
      });
    });
    // An upgraded connection (the admin stream) is in use for as long as it is open: never the idle one to close.
    server.on('upgrade', (req: IncomingMessage) => {
      const entry = idleSince.get(req.socket);
      if (entry) entry.since = null;
    });
  }
  /** Closes the connection idle the longest (from `key` only, when given); false if none is idle. */
  const evictOldestIdle = (key?: string): boolean => {
    let oldest: Socket | undefined;
    let oldestSince = Infinity;
    for (const [socket, entry] of idleSince) {
      if (entry.since === null || (key !== undefined && entry.key !== key)) continue;
      if (entry.since < oldestSince) {
        oldest = socket;
        oldestSince = entry.since;
      }
    }
    if (!oldest) return false;
    evicted++;
    // Its 'close' comes later: count it out now, so the next arrival sees the room it left.
    countOuts.get(oldest)?.();
    warnLimited(deps.log, `connection_evicted ${deps.listener}`, { event: 'connection_evicted', listener: deps.listener, limit: limits.maxConnections }, 'listener full: closing the connection idle the longest');
    oldest.destroy();
    return true;
  };
  const refuse = (reason: 'total' | 'per_address', address: string) => {
    refused++;
    warnLimited(deps.log, `connection_refused ${deps.listener} ${reason} ${reason === 'total' ? '' : addressKey(address)}`, {
      event: 'connection_refused', listener: deps.listener, reason, address,
      limit: reason === 'total' ? limits.maxConnections : limits.maxPerAddress,
    }, reason === 'total' ? 'too many open connections; refusing new ones' : 'too many connections from one address; refusing new ones');
  };
  server.on('drop', (data?: { remoteAddress?: string }) => refuse('total', canonicalAddress(data?.remoteAddress ?? 'unknown')));
  server.on('connection', (socket: Socket) => {
    const address = canonicalAddress(socket.remoteAddress ?? 'unknown');
    if (deps.exempt?.(address)) {
      open++;
      socket.once('close', () => open--);
      return;
    }
    const key = addressKey(address);
    if (limits.evictIdle) {
      if (open >= limits.maxConnections && !evictOldestIdle()) {
        socket.destroy();
        refuse('total', address);
        return;
      }
      if ((perAddress.get(key) ?? 0) >= limits.maxPerAddress && !evictOldestIdle(key)) {
        socket.destroy();
        refuse('per_address', address);
        return;
      }
    }
    const count = (perAddress.get(key) ?? 0) + 1;
    if (count > limits.maxPerAddress) {
      socket.destroy();
      refuse('per_address', address);
      return;
    }
    perAddress.set(key, count);
    open++;
    if (limits.evictIdle) idleSince.set(socket, { key, since: Date.now() });
    let counted = true;
    const countOut = () => {
      if (!counted) return;
      counted = false;
      idleSince.delete(socket);
      open--;
      const left = (perAddress.get(key) ?? 1) - 1;
      if (left <= 0) perAddress.delete(key);
      else perAddress.set(key, left);
    };
    countOuts.set(socket, countOut);
    socket.once('close', () => {
      countOuts.delete(socket);
      countOut();
    });
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
  };
}
