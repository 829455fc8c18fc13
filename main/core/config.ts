/** Node configuration, as the CLI (or the desktop app) resolves it. */
export interface NodeConfig {
  dataDir: string;
  /** Initializes an empty data dir with this name; without it an empty dir starts in setup mode. */
  serverName?: string;
  /** Federation listener, HOST:PORT (port 0 = any free port). */
  listen: string;
  /** Admin API + UI listener, HOST:PORT; loopback by default. */
  adminListen: string;
  /** URL peers reach us at (published in discovery); derived from `listen` when absent. */
  publicUrl?: string;
  /** Serve federation over plain HTTP and allow http:// peers (loopback/LAN testing). */
  insecureHttp: boolean;
  tlsCertFile?: string;
  tlsKeyFile?: string;
  /** Outbound retry backoff: first delay and cap (ms). Defaults 1 s and 5 min. */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Undelivered outbox entries expire after this long (ms). Default 7 days. */
  outboxMaxAgeMs?: number;
  logLevel?: string;
  /** Also log to stderr (the CLI does; tests usually do not). */
  logToStderr?: boolean;
}

export const DEFAULT_LISTEN = '0.0.0.0:7447';
export const DEFAULT_ADMIN_LISTEN = '127.0.0.1:7448';

export function parseHostPort(value: string, what: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:[\]]+):([0-9]{1,5})$/.exec(value);
  const port = match ? Number(match[2]) : NaN;
  if (!match || port > 65535) throw new Error(`${what} must be HOST:PORT (for example 127.0.0.1:7448), not "${value}"`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}
