/**
 * The headless entry point (CONTRACT.md "CLI"): init | serve | status.
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage; errors are one line on stderr.
 */
import { Command, CommanderError, Option } from 'commander';
import { isServerName } from '../shared/identifiers.ts';
import { DEFAULT_ADMIN_LISTEN, DEFAULT_LISTEN, parseHostPort, type NodeConfig } from './core/config.ts';
import { dataDirPaths, defaultDataDir, readAdminToken, readRuntimeInfo } from './core/data-dir.ts';
import { createNode, initDataDir } from './core/node.ts';
import { VERSION } from './core/version.ts';
import { restoreOptimizingCompilers } from './core/memory/deferred-jit.ts';
import { ADMIN_API_PREFIX } from '../shared/contract/admin-operations.ts';

class UsageError extends Error {}

function dataOption(): Option {
  return new Option('--data <dir>', 'data directory').env('PARACORD_DATA').default(defaultDataDir(), 'per-user data folder');
}

function checkServerName(name: string): string {
  const lower = name.toLowerCase();
  if (!isServerName(lower)) throw new UsageError(`--server-name "${name}" is not a host name (letters, digits, dots, dashes, optional :port)`);
  return lower;
}

function positiveNumber(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${what} must be a positive number, not "${value}"`);
  return n;
}

function envFlag(name: string): boolean {
  const value = process.env[name];
  return value !== undefined && /^(1|true|yes|on)$/i.test(value);
}

function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value) + '\n');
}

export function buildProgram(): Command {
  const program = new Command('paracord-node')
    .description('Paracord federation node: run a personal Paracord server and federate it with friends')
    .version(VERSION)
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();

  program
    .command('init')
    .description('create the data directory, the signing identity and the admin token; prints {server_name, key_id, public_key}')
    .addOption(dataOption())
    .addOption(new Option('--server-name <name>', 'this server\'s name, e.g. paracord.example.org').env('PARACORD_SERVER_NAME').makeOptionMandatory())
    .action(async (opts: { data: string; serverName: string }) => {
      const identity = await initDataDir(opts.data, checkServerName(opts.serverName));
      printJson({ server_name: identity.serverName, key_id: identity.keyId, public_key: identity.publicKeyHex });
    });

  program
    .command('serve')
    .description('run the node until SIGINT/SIGTERM; prints one JSON ready line')
    .addOption(dataOption())
    .addOption(new Option('--server-name <name>', 'initialize an empty data directory with this name').env('PARACORD_SERVER_NAME'))
    .addOption(new Option('--listen <host:port>', 'federation listener').env('PARACORD_LISTEN').default(DEFAULT_LISTEN))
    .addOption(new Option('--admin-listen <host:port>', 'admin API and UI listener (keep it on loopback)').env('PARACORD_ADMIN_LISTEN').default(DEFAULT_ADMIN_LISTEN))
    .addOption(new Option('--public-url <url>', 'URL peers reach this node at (published in discovery)').env('PARACORD_PUBLIC_URL'))
    .addOption(new Option('--insecure-http', 'serve federation over plain HTTP and allow http:// peers (loopback/LAN testing only)'))
    .addOption(new Option('--tls-cert <file>', 'PEM certificate to serve instead of the generated self-signed one'))
    .addOption(new Option('--tls-key <file>', 'PEM private key of --tls-cert'))
    .addOption(new Option('--retry-initial <ms>', 'first retry delay of an undelivered event').env('PARACORD_RETRY_INITIAL_MS').default('1000'))
    .addOption(new Option('--retry-max <ms>', 'longest retry delay').env('PARACORD_RETRY_MAX_MS').default('300000'))
    .addOption(new Option('--outbox-max-age <days>', 'undelivered events expire after this many days').env('PARACORD_OUTBOX_MAX_AGE_DAYS').default('7'))
    .addOption(new Option('--log-level <level>', 'fatal, error, warn, info, debug or trace').env('PARACORD_LOG_LEVEL').default('info'))
    .action(async (opts: {
      data: string; serverName?: string; listen: string; adminListen: string; publicUrl?: string;
      insecureHttp?: boolean; tlsCert?: string; tlsKey?: string; logLevel: string;
      retryInitial: string; retryMax: string; outboxMaxAge: string;
    }) => {
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
      if (opts.publicUrl !== undefined && !/^https?:\/\/[^/?#]+(\/[^?#]*)?$/.test(opts.publicUrl)) {
        throw new UsageError(`--public-url "${opts.publicUrl}" must be an http(s) URL`);
      }
      if ((opts.tlsCert === undefined) !== (opts.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
      const config: NodeConfig = {
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
      };
      const node = createNode(config);
      let stopping = false;
      const shutdown = (signal: string) => {
        if (stopping) return;
        stopping = true;
        node.log.info({ event: 'signal', signal }, `received ${signal}`);
        node.stop().then(
          () => process.exit(0),
          (error: Error) => {
            process.stderr.write(`paracord-node: shutdown failed: ${error.message}\n`);
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
      const started = await node.start();
      restoreOptimizingCompilers();
      printJson({ ready: true, mode: started.mode, federation_url: started.federation_url, admin_url: started.admin_url, login_url: started.login_url });
      process.stderr.write(`paracord-node: open ${started.login_url} in your browser (the link works once; \`paracord-node login\` makes another)\n`);
      if (started.mode === 'setup') {
        process.stderr.write(
          `paracord-node: this data directory is not set up yet: the link above opens the setup wizard ` +
            `(or run: paracord-node init --data ${opts.data} --server-name NAME)\n`,
        );
      }
    });

  program
    .command('status')
    .description('print the running node\'s status as JSON')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => printJson(await adminCall(opts.data, 'GET', '/status')));

  program
    .command('login')
    .description('print a one-time link that opens the web UI, logged in')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => {
      const { login_url } = (await adminCall(opts.data, 'POST', '/login-links')) as { login_url: string };
      process.stdout.write(`${login_url}\n`);
    });

  program
    .command('invite')
    .description('print a one-click peer invite link for a friend (single use, expires)')
    .addOption(dataOption())
    .addOption(new Option('--expires-in <days>', 'days until the link expires').default('7'))
    .addOption(new Option('--note <text>', 'a note to remember who the link was for'))
    .addOption(new Option('--json', 'print {id, link, https_link, expires_at} instead of the link'))
    .action(async (opts: { data: string; expiresIn: string; note?: string; json?: boolean }) => {
      const seconds = Math.round(positiveNumber(opts.expiresIn, '--expires-in') * 24 * 3600);
      const created = (await adminCall(opts.data, 'POST', '/invites/peer', { expires_in_seconds: seconds, ...(opts.note ? { note: opts.note } : {}) })) as { link: string };
      if (opts.json) printJson(created);
      else process.stdout.write(`${created.link}\n`);
    });

  const peer = program.command('peer').description('peers: redeem a friend\'s link, list, add by hand');
  peer
    .command('redeem')
    .description('peer with the server whose invite link this is')
    .argument('<link>', 'paracord://peer/… or https://…/_paracord/peer#…')
    .addOption(dataOption())
    .action(async (link: string, opts: { data: string }) => printJson(await adminCall(opts.data, 'POST', '/invites/peer/redeem', { link })));
  peer
    .command('list')
    .description('list known servers with their trust and keys')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => printJson(await adminCall(opts.data, 'GET', '/peers')));
  peer
    .command('add')
    .description('allow a server by hand (fetches its keys, or pins the given one)')
    .argument('<server_name>')
    .addOption(dataOption())
    .addOption(new Option('--endpoint <url>', 'its federation URL, when not at https://<server_name>'))
    .addOption(new Option('--key-id <id>', 'pin this key id (with --public-key)'))
    .addOption(new Option('--public-key <hex>', 'pin this public key (with --key-id)'))
    .action(async (serverName: string, opts: { data: string; endpoint?: string; keyId?: string; publicKey?: string }) =>
      printJson(await adminCall(opts.data, 'POST', '/peers', {
        server_name: serverName,
        ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
        ...(opts.keyId ? { key_id: opts.keyId } : {}),
        ...(opts.publicKey ? { public_key: opts.publicKey } : {}),
      })));

  program
    .command('trust')
    .description('set how much you trust a server: allow, block or quarantine')
    .argument('<server_name>')
    .argument('<mode>', 'allow | block | quarantine')
    .addOption(dataOption())
    .addOption(new Option('--reason <text>', 'why (shown in the peer list)'))
    .addOption(new Option('--hours <n>', 'quarantine only: end it after this many hours'))
    .action(async (serverName: string, mode: string, opts: { data: string; reason?: string; hours?: string }) => {
      if (!['allow', 'block', 'quarantine'].includes(mode)) throw new UsageError(`mode must be allow, block or quarantine, not "${mode}"`);
      const until = opts.hours ? Date.now() + positiveNumber(opts.hours, '--hours') * 3600_000 : undefined;
      printJson(await adminCall(opts.data, 'PUT', `/peers/${encodeURIComponent(serverName)}/trust`, {
        mode, ...(opts.reason ? { reason: opts.reason } : {}), ...(until ? { until_ms: Math.round(until) } : {}),
      }));
    });

  const keys = program.command('keys').description('this server\'s signing keys');
  keys
    .command('show')
    .description('print the active, announced and old keys')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => printJson(await adminCall(opts.data, 'GET', '/keys')));
  keys
    .command('rotate')
    .description('switch to a new signing key; the old one keeps verifying past events')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => printJson(await adminCall(opts.data, 'POST', '/keys/rotate')));
  keys
    .command('announce')
    .description('publish the next key now, so peers know it before the switch')
    .addOption(dataOption())
    .action(async (opts: { data: string }) => printJson(await adminCall(opts.data, 'POST', '/keys/announce')));

  return program;
}

/** Calls the admin API of the node running for `dataDir`; one clear error when that fails. */
async function adminCall(dataDir: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const paths = dataDirPaths(dataDir);
  const runtime = readRuntimeInfo(paths);
  if (!runtime) throw new Error(`no node is running for ${paths.root} (start one with: paracord-node serve --data ${dataDir})`);
  const { request } = await import('undici');
  let response;
  try {
    response = await request(`${runtime.admin_url}${ADMIN_API_PREFIX}${path}`, {
      method: method as 'GET',
      headers: { authorization: `Bearer ${readAdminToken(paths)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
  } catch (error) {
    throw new Error(`the node for ${paths.root} does not answer at ${runtime.admin_url} (${(error as Error).message}); is it still running (pid ${runtime.pid})?`, { cause: error });
  }
  const answer = (await response.body.json().catch(() => ({}))) as { error?: string; message?: string };
  if (response.statusCode >= 400) throw new Error(`${answer.message ?? `HTTP ${response.statusCode}`} (${answer.error ?? 'error'})`);
  return answer;
}

/** Runs the CLI; resolves with the exit code, or 'serving' while `serve` keeps the process up. */
export async function main(argv: string[]): Promise<number | 'serving'> {
  const program = buildProgram();
  let serving = false;
  program.hook('postAction', (_program, action) => {
    serving = action.name() === 'serve';
  });
  try {
    await program.parseAsync(argv);
    return serving ? 'serving' : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version "fail" with exit code 0; real usage errors were printed by commander.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`paracord-node: ${error.message}\n`);
      return 2;
    }
    process.stderr.write(`paracord-node: ${(error as Error).message}\n`);
    return 1;
  }
}

const outcome = await main(process.argv);
// `serve` keeps running (its listeners hold the process) until a signal; other commands end here.
if (outcome !== 'serving') process.exit(outcome);
