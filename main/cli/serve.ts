import { spawn } from 'node:child_process';
import { existsSync, fstatSync, statSync } from 'node:fs';
/**
 * `paracord-node serve`: run the node until SIGINT/SIGTERM. Every serve option lives here:
 * `serveOptions` declares them, `configFromOptions` turns them into a NodeConfig.
 */
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_ADMIN_LISTEN, DEFAULT_LISTEN, DEFAULT_LISTEN_IPV4, parseHostPort, parseTrustedProxyList, type NodeConfig } from '../core/config.ts';
import { turbofanOffOnceReady } from '../core/memory/jit-tiers.ts';
import { backupTargetProblem } from '../core/backup/create.ts';
import { readPassphraseFile } from '../core/backup/passphrase-file.ts';
import { loadCertificate } from '../core/tls/certificate.ts';
import { checkServerName, dataOption, envFlag, positiveNumber, printJson, say, UsageError } from './common.ts';
import { publicUrlProblem } from '../../shared/endpoint.ts';
import { isLoopbackHost } from '../core/federation/address-policy.ts';

/** The parsed `serve` options (commander camel-cases the flag names). */
export interface ServeOptions {
  data: string;
  serverName?: string;
  listen: string;
  adminListen: string;
  publicUrl?: string;
  insecureHttp?: boolean;
  tlsCert?: string;
  tlsKey?: string;
  logLevel: string;
  retryInitial: string;
  retryMax: string;
  outboxMaxAge: string;
  newIdentity?: boolean;
  newDatabase?: boolean;
  allowPrivateAddresses?: boolean;
  pull?: boolean;
  /** false with --no-port-mapping (commander's negated flag). */
  portMapping?: boolean;
  open?: boolean;
  [limit: string]: unknown;
}

/**
 * Limits a hobbyist rarely changes (docs/SECURITY.md): each an optional positive number,
 * flag and environment variable, mapped onto one NodeConfig field (defaults live in the core).
 */
const LIMIT_OPTIONS = [
  { flag: '--max-reactions-per-message', env: 'PARACORD_MAX_REACTIONS_PER_MESSAGE', key: 'maxReactionsPerUserPerMessage', help: 'distinct reactions one user may put on one message (default 20)' },
  { flag: '--peer-quota-day', env: 'PARACORD_PEER_QUOTA_DAY_BYTES', key: 'peerQuotaBytesPerDay', help: 'bytes one peer may make this node store per day (default 50 MiB)' },
  { flag: '--peer-quota-total', env: 'PARACORD_PEER_QUOTA_TOTAL_BYTES', key: 'peerQuotaTotalBytes', help: 'bytes a quarantined peer\'s held events may take, and the notice level of what a peer\'s events take (default 1 GiB)' },
  { flag: '--max-relayed-origins', env: 'PARACORD_MAX_RELAYED_ORIGINS', key: 'maxRelayedOriginsPerHost', help: 'servers one room host may make this node learn keys of through its key cache (default 100)' },
  { flag: '--reorder-window-ms', env: 'PARACORD_REORDER_WINDOW_MS', key: 'reorderWindowMs', help: 'how far behind its latest event a hosted room accepts an event (default 60000)' },
  { flag: '--mailbox-check-seconds', env: 'PARACORD_MAILBOX_CHECK_SECONDS', key: 'mailboxCheckSeconds', help: 'while messages wait at a friend\'s mailbox, how often it is asked which its recipient took (default 30)' },
  { flag: '--mailbox-quota-items', env: 'PARACORD_MAILBOX_QUOTA_ITEMS', key: 'mailboxQuotaItems', help: 'as a friend\'s mailbox: requests kept for one friend; one server may leave at most half of them (default 20000)' },
  { flag: '--mailbox-deposits-per-minute', env: 'PARACORD_MAILBOX_DEPOSITS_PER_MINUTE', key: 'mailboxDepositsPerMinute', help: 'as a friend\'s mailbox: requests one server may leave per minute (default 3000)' },
  { flag: '--reach-probe-interval', env: 'PARACORD_REACH_PROBE_INTERVAL_SECONDS', key: 'reachProbeIntervalSeconds', help: 'seconds one peer must wait between two reachability probes it asks of this node (default 30)' },
  { flag: '--reachability-confirm-seconds', env: 'PARACORD_REACHABILITY_CONFIRM_SECONDS', key: 'reachabilityConfirmSeconds', help: 'seconds after a failed reachability self-test before the second test that confirms it; only then does the node switch to pull mode (default 31)' },
  { flag: '--max-connections', env: 'PARACORD_MAX_CONNECTIONS', key: 'maxConnections', help: 'open federation connections in all (default 1024)' },
  { flag: '--max-address-buckets', env: 'PARACORD_MAX_ADDRESS_BUCKETS', key: 'maxAddressBuckets', help: 'client addresses whose request rate is remembered; the least recent is forgotten first (default 10000)' },
  { flag: '--max-connections-per-address', env: 'PARACORD_MAX_CONNECTIONS_PER_ADDRESS', key: 'maxConnectionsPerAddress', help: 'open federation connections from one address (default 64)' },
  { flag: '--headers-timeout', env: 'PARACORD_HEADERS_TIMEOUT_MS', key: 'headersTimeoutMs', help: 'ms for all headers of a federation request (default 15000)' },
  { flag: '--request-timeout', env: 'PARACORD_REQUEST_TIMEOUT_MS', key: 'requestTimeoutMs', help: 'ms for a whole federation request (default 30000)' },
  { flag: '--keep-alive-timeout', env: 'PARACORD_KEEP_ALIVE_TIMEOUT_MS', key: 'keepAliveTimeoutMs', help: 'ms an idle keep-alive federation connection stays open, ours to peers and theirs to us (default 300000)' },
  { flag: '--body-timeout', env: 'PARACORD_BODY_TIMEOUT_MS', key: 'bodyTimeoutMs', help: 'ms to receive a request body (default 20000)' },
  { flag: '--log-max-bytes', env: 'PARACORD_LOG_MAX_BYTES', key: 'logMaxBytes', help: 'rotate the log file at this size (default 10 MB)' },
  { flag: '--log-files', env: 'PARACORD_LOG_FILES', key: 'logFiles', help: 'log files kept (default 5)' },
  { flag: '--max-pending-invites-per-peer', env: 'PARACORD_MAX_PENDING_INVITES_PER_PEER', key: 'maxPendingInvitesPerPeer', help: 'pending room invites one peer may hold here (default 50)' },
  { flag: '--admin-headers-timeout', env: 'PARACORD_ADMIN_HEADERS_TIMEOUT_MS', key: 'adminHeadersTimeoutMs', help: 'ms an admin connection has to send its request headers; idle ones are closed first when the admin listener is full (default 5000)' },
  { flag: '--catch-up-requests-per-minute', env: 'PARACORD_CATCH_UP_REQUESTS_PER_MINUTE', key: 'catchUpRequestsPerHostPerMinute', help: 'catch-up requests to one room host per minute (default 120)' },
  { flag: '--catch-up-max-pages', env: 'PARACORD_CATCH_UP_MAX_PAGES', key: 'catchUpMaxPagesPerRun', help: 'pages of 200 events one catch-up run asks a host for (default 500)' },
  { flag: '--lock-stale-ms', env: 'PARACORD_LOCK_STALE_MS', key: 'dataDirLockStaleMs', help: 'ms after which a data-dir lock held from another host counts as stale (default 30000; a live holder on this host never does)' },
  { flag: '--reference-poll-interval-ms', env: 'PARACORD_REFERENCE_POLL_INTERVAL_MS', key: 'referencePollIntervalMs', help: 'how often rooms shared with Paracord reference servers are polled (default 5000)' },
  { flag: '--reference-push-per-minute', env: 'PARACORD_REFERENCE_PUSH_PER_MINUTE', key: 'referencePushPerMinute', help: 'events pushed to one Paracord reference server per minute (its limit: default 120; 0 = no pacing)' },
  { flag: '--session-ttl-seconds', env: 'PARACORD_SESSION_TTL_SECONDS', key: 'sessionTtlSeconds', help: 'seconds a signed-in browser stays signed in without use (default 2592000 = 30 days)' },
  { flag: '--banned-events-before-quarantine', env: 'PARACORD_BANNED_EVENTS_BEFORE_QUARANTINE', key: 'bannedEventsBeforeQuarantine', help: 'events for users banned from our rooms one server may send (per auto-quarantine window) before it is quarantined (default 20)' },
] as const satisfies ReadonlyArray<{ flag: string; env: string; key: keyof NodeConfig; help: string }>;

/** commander's camel-cased attribute name of a flag. */
const attributeOf = (flag: string) => flag.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

function serveOptions(): Option[] {
  return [
    dataOption(),
    new Option('--server-name <name>', 'initialize an empty data directory with this name').env('PARACORD_SERVER_NAME'),
    new Option('--listen <host:port>', 'federation listener').env('PARACORD_LISTEN').default(DEFAULT_LISTEN),
    new Option('--admin-listen <host:port>', 'admin API and UI listener (keep it on loopback)').env('PARACORD_ADMIN_LISTEN').default(DEFAULT_ADMIN_LISTEN),
    new Option('--public-url <url>', 'URL peers reach this node at (published in discovery)').env('PARACORD_PUBLIC_URL'),
    new Option('--insecure-http', 'serve federation over plain HTTP and allow http:// peers (loopback/LAN testing only)'),
    new Option('--tls-cert <file>', 'PEM certificate to serve instead of the generated self-signed one'),
    new Option('--tls-key <file>', 'PEM private key of --tls-cert'),
    new Option('--retry-initial <ms>', 'first retry delay of an undelivered event').env('PARACORD_RETRY_INITIAL_MS').default('1000'),
    new Option('--retry-max <ms>', 'longest retry delay').env('PARACORD_RETRY_MAX_MS').default('300000'),
    new Option('--outbox-max-age <days>', 'undelivered events expire after this many days').env('PARACORD_OUTBOX_MAX_AGE_DAYS').default('7'),
    new Option('--new-identity', 'identity.json is lost: make a new signing key for the existing database (peers must accept it)'),
    new Option('--new-database', 'paracord.db is lost or empty: start again with an empty database for the existing identity'),
    new Option('--trusted-proxy <list>', 'reverse proxies (addresses or CIDRs, comma separated) whose X-Forwarded-For is believed').env('PARACORD_TRUSTED_PROXIES'),
    new Option('--allow-private-addresses', 'let peers\' names resolve to LAN addresses (192.168.x, 10.x, ...): for a LAN of home servers (env PARACORD_ALLOW_PRIVATE_ADDRESSES=1)'),
    ...LIMIT_OPTIONS.map((o) => new Option(`${o.flag} <n>`, o.help).env(o.env)),
    new Option('--backup-dir <dir>', 'make scheduled backups into this folder (outside the data folder); while given, this wins over a schedule set in the dashboard or the admin API').env('PARACORD_BACKUP_DIR'),
    new Option('--backup-every <period>', 'hourly, daily or weekly').env('PARACORD_BACKUP_EVERY').choices(['hourly', 'daily', 'weekly']),
    new Option('--backup-keep <n>', 'scheduled backups to keep (default 7)').env('PARACORD_BACKUP_KEEP'),
    new Option('--backup-passphrase-file <file>', 'encrypt scheduled backups with the passphrase in this file (without it they hold the keys in the clear)').env('PARACORD_BACKUP_PASSPHRASE_FILE'),
    new Option('--pull', 'receive by pull: peers keep this node\'s events until it pulls them (for a node nobody can reach; env PARACORD_PULL=1)'),
    new Option('--no-port-mapping', 'never ask the router (UPnP-IGD, NAT-PMP/PCP) to forward the federation port or (UPnP IGDv2) to open its IPv6 firewall to it (env PARACORD_NO_PORT_MAPPING=1)'),
    new Option('--metrics-destinations <n>', 'destinations with their own label in /metrics (default 20)').env('PARACORD_METRICS_DESTINATIONS'),
    new Option('--open', 'open the UI in the default browser once ready (signed in: a login link valid 60 seconds; a browser already signed in just opens the UI); PARACORD_OPEN_COMMAND names another program to open it with; env PARACORD_OPEN=1)'),
    new Option('--log-level <level>', 'how much the log says').env('PARACORD_LOG_LEVEL').default('info').choices(LOG_LEVELS),
  ];
}

/** The levels of the log (pino's; `silent` logs nothing). */
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function limitsFromOptions(opts: ServeOptions): Partial<NodeConfig> {
  const limits: Record<string, number> = {};
  for (const option of LIMIT_OPTIONS) {
    const value = opts[attributeOf(option.flag)];
    if (typeof value === 'string') limits[option.key] = positiveNumber(value, option.flag);
  }
  return limits as Partial<NodeConfig>;
}

function checkedProxies(value: string): string[] {
  try {
    return parseTrustedProxyList(value);
  } catch (error) {
    throw new UsageError(`--trusted-proxy: ${(error as Error).message}`);
  }
}

function backupFromOptions(opts: ServeOptions, readFiles: boolean): Partial<NodeConfig> {
  const dir = opts.backupDir;
  if (typeof dir !== 'string') {
    if (opts.backupEvery !== undefined || opts.backupKeep !== undefined || opts.backupPassphraseFile !== undefined) {
      throw new UsageError('--backup-every, --backup-keep and --backup-passphrase-file need --backup-dir');
    }
    return {};
  }
  const inside = backupTargetProblem(opts.data, dir, true);
  if (inside) throw new UsageError(`--backup-dir: ${inside}`);
  // A folder not there yet (a disk mounted later) is the scheduler's to report; a file never becomes one.
  if (readFiles && existsSync(dir) && !statSync(dir).isDirectory()) throw new Error(`--backup-dir ${dir} is a file, not a folder`);
  if (readFiles && typeof opts.backupPassphraseFile === 'string') {
    try {
      readPassphraseFile(opts.backupPassphraseFile);
    } catch (error) {
      throw new Error(`--backup-passphrase-file: ${(error as Error).message}`, { cause: error });
    }
  }
  return {
    backup: {
      dir,
      ...(typeof opts.backupEvery === 'string' ? { every: opts.backupEvery as 'hourly' | 'daily' | 'weekly' } : {}),
      ...(typeof opts.backupKeep === 'string' ? { keep: positiveNumber(opts.backupKeep, '--backup-keep') } : {}),
      ...(typeof opts.backupPassphraseFile === 'string' ? { passphraseFile: opts.backupPassphraseFile } : {}),
    },
  };
}

/**
 * Checks the options and builds the node's configuration; UsageError on bad values. `readFiles`
 * false: the values only, no file read (`service print` checks the arguments of a unit whose
 * files may be readable only by the service's user).
 */
export function configFromOptions(opts: ServeOptions, readFiles = true): NodeConfig {
  const retryInitialMs = positiveNumber(opts.retryInitial, '--retry-initial');
  const retryMaxMs = positiveNumber(opts.retryMax, '--retry-max');
  if (retryMaxMs < retryInitialMs) throw new UsageError('--retry-max must be at least --retry-initial');
  const outboxMaxAgeMs = positiveNumber(opts.outboxMaxAge, '--outbox-max-age') * 24 * 3600_000;
  for (const [value, what] of [[opts.listen, '--listen'], [opts.adminListen, '--admin-listen']] as const) {
    try {
      parseHostPort(value, what);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  const publicUrlWrong = opts.publicUrl === undefined ? null : publicUrlProblem(opts.publicUrl);
  if (publicUrlWrong) {
    throw new UsageError(`--public-url "${opts.publicUrl!.slice(0, 300)}" ${publicUrlWrong}`);
  }
  if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
  // Read now, so a missing or wrong file is one line naming its option (and nothing starts).
  if (readFiles && opts.tlsCert !== undefined && opts.tlsKey !== undefined) loadCertificate(opts.tlsCert, opts.tlsKey, false, { cert: '--tls-cert', key: '--tls-key' });
  return {
    dataDir: opts.data,
    ...(opts.serverName ? { serverName: checkServerName(opts.serverName) } : {}),
    listen: opts.listen,
    adminListen: opts.adminListen,
    ...(opts.publicUrl ? { publicUrl: opts.publicUrl } : {}),
    insecureHttp: opts.insecureHttp === true || envFlag('PARACORD_INSECURE_HTTP'),
    ...(opts.tlsCert && opts.tlsKey ? { tlsCertFile: opts.tlsCert, tlsKeyFile: opts.tlsKey } : {}),
    logLevel: opts.logLevel,
    logToStderr: true,
    retryInitialMs,
    retryMaxMs,
    outboxMaxAgeMs,
    newIdentity: opts.newIdentity === true || envFlag('PARACORD_NEW_IDENTITY'),
    newDatabase: opts.newDatabase === true || envFlag('PARACORD_NEW_DATABASE'),
    allowPrivateAddresses: opts.allowPrivateAddresses === true || envFlag('PARACORD_ALLOW_PRIVATE_ADDRESSES'),
    pull: opts.pull === true || envFlag('PARACORD_PULL'),
    noPortMapping: opts.portMapping === false || envFlag('PARACORD_NO_PORT_MAPPING'),
    ...limitsFromOptions(opts),
    ...(typeof opts.trustedProxy === 'string' ? { trustedProxies: checkedProxies(opts.trustedProxy) } : {}),
    ...backupFromOptions(opts, readFiles),
    ...(typeof opts.metricsDestinations === 'string' ? { metricsDestinations: positiveNumber(opts.metricsDestinations, '--metrics-destinations') } : {}),
  };
}

async function serve(opts: ServeOptions, command: Command): Promise<void> {
  const config = configFromOptions(opts);
  // The default dual-stack listener falls back to IPv4 on a host without IPv6; a given one is used as given.
  if (command.getOptionValueSource('listen') === 'default') config.listenFallback = DEFAULT_LISTEN_IPV4;
  let stopping = false;
  // Loaded here, not at the top: the node is most of the program, and every other command (status,
  // peer, member…) would load it for nothing (~0.8 s of CPU per command on a small machine).
  const { createNode } = await import('../core/node.ts');
  const node = createNode(config, {
    onFatal: (error) => {
      stopping = true;
      say(error.message);
      process.exit(1);
    },
  });
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    node.log.info({ event: 'signal', signal }, `received ${signal}`);
    node.stop().then(
      () => process.exit(0),
      (error: Error) => {
        say(`shutdown failed: ${error.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  // Under systemd the ready line is kept in the journal, which other local users may read (the adm and
  // systemd-journal groups): its link works for a minute there, not 15 (docs/SECURITY.md).
  const journal = writesToJournal();
  const started = await node.start(journal ? { loginLinkValidMs: JOURNAL_LINK_VALID_MS } : {}).catch(async (error: unknown) => {
    // This process ends on a failed start (a port in use): what started stops and the data
    // directory's lock is freed first (at most 2 s), so no lock is left naming a dead process.
    await Promise.race([node.stop(0, { afterFailedStart: true }).catch(() => undefined), new Promise((resolve) => setTimeout(resolve, 2_000).unref())]);
    throw error;
  });
  turbofanOffOnceReady();
  const exposed = adminListenWarning(config.adminListen, started.admin_address);
  if (exposed) {
    say(exposed);
    node.log.warn({ event: 'admin_listen_not_loopback', admin_listen: config.adminListen, bound_to: started.admin_address }, exposed.replace(/^warning: /, ''));
  }
  const validMs = journal ? JOURNAL_LINK_VALID_MS : LOGIN_LINK_VALID_MS;
  printJson({ ready: true, mode: started.mode, federation_url: started.federation_url, admin_url: started.admin_url, login_url: started.login_url, login_valid_seconds: validMs / 1000 });
  const lifetime = journal ? 'it works once, for one minute, as this output is kept in the system journal' : 'the link works once';
  process.stderr.write(`paracord-node: open ${started.login_url} in your browser (${lifetime}; \`paracord-node login\` makes another)\n`);
  // The browser gets its own link, valid only briefly: the opener's command line is visible to
  // other local users (ps), the printed link is not (docs/SECURITY.md).
  if (opts.open === true || envFlag('PARACORD_OPEN')) openInBrowser(node.context.loginUrl(OPEN_LINK_VALID_MS));
  if (started.mode === 'setup') {
    process.stderr.write(
      `paracord-node: this data directory is not set up yet: the link above opens the setup wizard ` +
        `(or run: paracord-node init --data ${opts.data} --server-name NAME)\n`,
    );
  }
}

export function register(program: Command): void {
  const command = program.command('serve').description('run the node until SIGINT/SIGTERM; prints one JSON ready line');
  for (const option of serveOptions()) command.addOption(option);
  command.action(serve);
}

/**
 * Checks `serve` arguments another command passes on (`service print|install -- ARGS` puts them
 * in a unit's ExecStart): parsed by serve's own options and checked as serve checks them, with the
 * unit's data folder; this shell's PARACORD_* variables play no part (the unit does not have them).
 * UsageError naming the first problem.
 */
export function checkServeArguments(args: string[], dataDir: string): void {
  const command = new Command('serve')
    .exitOverride()
    .configureOutput({ writeOut: () => undefined, writeErr: () => undefined, outputError: () => undefined });
  for (const option of serveOptions()) {
    option.envVar = undefined;
    command.addOption(option);
  }
  let opts: ServeOptions;
  try {
    command.parse(args, { from: 'user' });
    opts = { ...command.opts<ServeOptions>(), data: dataDir };
  } catch (error) {
    if (!(error instanceof CommanderError)) throw error;
    if (error.exitCode === 0) throw new UsageError(`the serve arguments after --: ${args.find((arg) => /^(-h|--help|-V|--version)$/.test(arg)) ?? 'help'} has no place in a service`, { cause: error });
    throw new UsageError(`the serve arguments after --: ${error.message.replace(/^error: /, '')}`, { cause: error });
  }
  try {
    configFromOptions(opts, false);
  } catch (error) {
    throw new UsageError(`the serve arguments after --: ${(error as Error).message}`, { cause: error });
  }
}

/** Whether HOST (of HOST:PORT) is this machine's loopback, in any spelling (the node's one check). */
export { isLoopbackHost };

/**
 * Said once at start when the admin listener is not on loopback (README: keep it there), judged by
 * the address it is bound to: a host name given to --admin-listen counts as what it resolved to
 * (Debian's own host name is 127.0.1.1, a LAN name is not).
 */
export function adminListenWarning(adminListen: string, boundAddress: string): string | null {
  if (isLoopbackHost(boundAddress)) return null;
  return `warning: the admin listener (--admin-listen ${adminListen}) is not on loopback: anyone who can reach that address can try the admin token; keep it on 127.0.0.1 unless you mean it`;
}

/** How long the login link handed to the browser by `--open` works. */
const OPEN_LINK_VALID_MS = 60_000;
/** How long the ready line's login link works: 15 minutes (the longest a login code lives), one under the journal. */
const LOGIN_LINK_VALID_MS = 15 * 60_000;
const JOURNAL_LINK_VALID_MS = 60_000;

/**
 * Whether stdout or stderr is the systemd journal: systemd names the journal stream it connected in
 * JOURNAL_STREAM ("device:inode"); a child that inherited the variable but writes elsewhere does not match.
 */
export function writesToJournal(env: NodeJS.ProcessEnv = process.env): boolean {
  const match = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (!match) return false;
  return [1, 2].some((fd) => {
    try {
      const stat = fstatSync(fd, { bigint: true });
      return stat.dev === BigInt(match[1]!) && stat.ino === BigInt(match[2]!);
    } catch {
      return false;
    }
  });
}

/**
 * `--open` (issue #16 item 1): the login link in the default browser, through `open` (which knows
 * macOS, Windows quoting, WSL and Linux desktops), or with the program named by
 * PARACORD_OPEN_COMMAND (given the link as its one argument); a failure only says so.
 */
function openInBrowser(url: string): void {
  const failed = (): void => void process.stderr.write('paracord-node: could not open a browser; open the link above\n');
  const custom = process.env.PARACORD_OPEN_COMMAND;
  if (!custom) {
    import('open').then(({ default: open }) => open(url)).catch(failed);
    return;
  }
  try {
    const child = spawn(custom, [url], { stdio: 'ignore', detached: true });
    child.on('error', failed);
    child.unref();
  } catch {
    failed();
  }
}
