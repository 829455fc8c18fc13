/**
 * The node's two listeners: federation (TLS unless --insecure-http) and admin (loopback by
 * default), how they start (with the IPv4 fallback) and how they stop (a grace period for the
 * requests being handled), and the URLs they are named by.
 */
import type { Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import type { Logger } from '../log/logger.ts';
import { parseHostPort, type NodeConfig } from '../config.ts';
import { createServer as createHttpServer } from '../http/node-http.ts';
import { adminConnectionLimits, federationConnectionLimits, limitConnections, serverOptions, type ConnectionStats } from '../http/connection-limits.ts';
import type { TrustedProxies } from '../http/client-address.ts';
import { passUpgradesThrough, type UpgradedSockets } from '../admin/stream/upgrade.ts';
import { globalIpv6Addresses, ipv6Endpoint, nameResolves } from '../reachability/own-endpoints.ts';
import type { TlsMaterial } from '../tls/certificate.ts';

export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

const LISTEN_REASONS: Record<string, string> = {
  EADDRINUSE: 'another program is using that port (choose another port, or stop that program)',
  EACCES: 'this user may not use that port (ports below 1024 need privileges: choose 1024 or more)',
  EADDRNOTAVAIL: 'this machine has no such address',
  EAFNOSUPPORT: 'this machine does not support that kind of address',
};

/** A listener that could not start, in words naming its address and option (the CLI's one line); other errors as they are. */
export function listenFailure(error: unknown, host: string, port: number, option: '--listen' | '--admin-listen'): unknown {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const reason = typeof code === 'string' ? LISTEN_REASONS[code] : undefined;
  if (!reason) return error;
  // The code stays on it (the IPv4 fallback, the desktop's tray words read it), the syscall does
  // not (the CLI would word it as a file's).
  return Object.assign(new Error(`cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port} (${option}): ${reason} [${code}]`), { code });
}

/**
 * Stops a listener: no new connections; requests being handled may finish (up to `graceMs`).
 * As soon as none is being handled, the remaining connections (keep-alive sockets that Node
 * does not count as idle) are closed, rather than waiting out the grace period. Its `upgrades`
 * (live streams) close by themselves once their requests are answered; past `graceMs` they are cut.
 */
export async function close(server: Server | null, graceMs: number, onForced: () => void, handling: () => number, upgrades?: UpgradedSockets): Promise<void> {
  if (!server) return;
  const streamsCut = setTimeout(() => upgrades?.destroyAll(), graceMs);
  streamsCut.unref();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const deadline = Date.now() + graceMs;
  const poll = setInterval(() => {
    if (handling() === 0) server.closeAllConnections();
    else if (Date.now() >= deadline) {
      onForced();
      server.closeAllConnections();
    }
  }, 50);
  await closed;
  clearInterval(poll);
  clearTimeout(streamsCut);
}

/** Said when a listener's requests outlived the grace period (`open`: what the federation listener was still handling). */
export function forcedClose(log: Logger, name: 'admin' | 'federation', graceMs: number, open?: Iterable<string>): void {
  log.warn(
    { event: 'shutdown_forced', listener: name, grace_ms: graceMs, open_requests: open ? [...open].slice(0, 20) : undefined },
    `requests still open on the ${name} listener after the grace period; closing them`,
  );
}

/** The federation listener, listening: where (`host`, the `port` it got), and its upgraded connections (members' streams). */
export interface FederationListener {
  server: Server;
  host: string;
  port: number;
  upgrades: UpgradedSockets;
  /** Its connections so far (open, accepted, TLS handshakes…): /metrics reads them. */
  connections: ConnectionStats;
}

/** Starts the federation listener; on a host without IPv6, the default dual-stack address falls back to IPv4 (issue #32 item 4). */
export async function listenFederation(app: Koa, tls: TlsMaterial | null, config: NodeConfig, log: Logger, trustedProxies: TrustedProxies): Promise<FederationListener> {
  let { host, port } = parseHostPort(config.listen, '--listen');
  const limits = federationConnectionLimits(config);
  const server = tls
    ? createHttpsServer({ ...serverOptions(limits), cert: tls.cert, key: tls.key }, app.callback())
    : createHttpServer(serverOptions(limits), app.callback());
  // The members' stream (issue #34, client/client-app.ts) is a WebSocket on this listener.
  const upgrades = passUpgradesThrough(server, app.callback());
  const connections = limitConnections(server, limits, { log, listener: 'federation', exempt: (address) => trustedProxies.isTrusted(address), upgrades: true });
  try {
    await listen(server, port, host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (!config.listenFallback || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw listenFailure(error, host, port, '--listen');
    log.info({ event: 'listen_ipv4_only', listen: config.listen, error: code }, `this host has no IPv6: listening on ${config.listenFallback} instead of ${config.listen}`);
    ({ host, port } = parseHostPort(config.listenFallback, '--listen'));
    await listen(server, port, host).catch((fallbackError: unknown) => {
      throw listenFailure(fallbackError, host, port, '--listen');
    });
  }
  return { server, host, port: (server.address() as AddressInfo).port, upgrades, connections };
}

/** The admin listener, listening: its URL, and its upgraded connections (admin streams), which the server does not close itself. */
export interface AdminListener {
  server: Server;
  url: string;
  /** The address it listens on, as bound (a host name given to --admin-listen resolved). */
  boundAddress: string;
  upgrades: UpgradedSockets;
}

export async function listenAdmin(app: Koa, address: { host: string; port: number }, config: NodeConfig, log: Logger): Promise<AdminListener> {
  const limits = adminConnectionLimits(config);
  const server = createHttpServer(serverOptions(limits), app.callback());
  const upgrades = passUpgradesThrough(server, app.callback());
  limitConnections(server, limits, { log, listener: 'admin', upgrades: true });
  await listen(server, address.port, address.host).catch((error: unknown) => {
    throw listenFailure(error, address.host, address.port, '--admin-listen');
  });
  const { port, address: boundAddress } = server.address() as AddressInfo;
  return { server, upgrades, boundAddress, url: `http://${urlHost(address.host, 'localhost')}:${port}` };
}

/** The base URL of our own federation listener, as this machine calls it (mailbox requests carried for us). */
export function selfBaseUrl(tls: TlsMaterial | null, host: string, port: number): string {
  return `${tls ? 'https' : 'http'}://${/^(0\.0\.0\.0|::|\[::\]|)$/.test(host) ? '127.0.0.1' : host.includes(':') ? `[${host}]` : host}:${port}`;
}

/**
 * The endpoint a node without a public URL names (its links, its peering requests): its server
 * name, as before; but a name that resolves nowhere cannot be reached by anybody, and a host with
 * a global IPv6 address can (issue #32 item 4): then that address.
 */
export async function defaultEndpoint(scheme: 'http' | 'https', listenHost: string, port: number, serverName: string): Promise<string> {
  const byName = `${scheme}://${urlHost(listenHost, serverName)}:${port}`;
  const wildcard = listenHost === '::' || listenHost === '0.0.0.0';
  const v6 = wildcard ? globalIpv6Addresses(listenHost) : [];
  if (v6.length === 0 || (await nameResolves(serverName.split(':')[0]!))) return byName;
  return ipv6Endpoint(scheme, v6[0]!, port);
}

/** The host part of a URL for a listen address: wildcard addresses become the server name. */
export function urlHost(listenHost: string, fallback: string): string {
  if (listenHost === '0.0.0.0' || listenHost === '::') return fallback.split(':')[0]!;
  return listenHost.includes(':') ? `[${listenHost}]` : listenHost;
}
