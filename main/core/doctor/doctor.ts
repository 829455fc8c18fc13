/**
 * `paracord-node doctor` (README "Keep it running"): what goes wrong on a home server, each
 * checked and reported as ok / warning / problem (or a note) with a sentence on what to do.
 * Reads the data folder and the database (read-only), and asks the running node, its
 * federation listener and the allowed peers; changes nothing (its write probe creates one
 * empty file in each folder the node writes and removes it at once).
 */
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { closeSync, constants as fsConstants, existsSync, openSync, readFileSync, statSync, statfsSync, unlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import Database from 'better-sqlite3';
import { Agent, request } from 'undici';
import { ADMIN_API_PREFIX } from '../../../shared/contract/admin-operations.ts';
import { DEFAULT_ADMIN_LISTEN, DEFAULT_LISTEN, parseHostPort } from '../config.ts';
import { dataDirPaths, readRuntimeInfo, type DataDirPaths } from '../data-dir.ts';
import { checkRunningNode, StaleRuntimeError } from '../admin/running-node.ts';
import { AddressPolicy } from '../federation/address-policy.ts';
import { HttpClient } from '../federation/http-client.ts';
import { Settings } from '../store/settings.ts';
import { TrustStore } from '../trust/trust-store.ts';
import { BACKUP_INTERVALS, BACKUP_SETTING_KEYS, IN_THE_CLEAR, STALE_BACKUP_MS, type BackupSchedule } from '../backup/records.ts';

export type CheckStatus = 'ok' | 'warning' | 'problem' | 'note';
export interface CheckResult {
  check: string;
  status: CheckStatus;
  message: string;
}

export interface DoctorOptions {
  dataDir: string;
  /** Where the node would listen, to check for port conflicts when it is not running. */
  listen?: string;
  adminListen?: string;
  /** Per network request. Default 3 s. */
  timeoutMs?: number;
  /** Free disk below this is a problem (default 256 MiB); below 8 times this, a warning. */
  minFreeBytes?: number;
  /** Events waiting for one destination from this many on are a problem (default 1000). */
  maxBacklog?: number;
  /**
   * The node's outbound address policy (serve's flags of the same names): peers are asked for
   * their clocks under the same rules the node follows (docs/SECURITY.md §8). Plain http is
   * also allowed when node.json says the node serves it.
   */
  insecureHttp?: boolean;
  allowPrivateAddresses?: boolean;
}

export const REQUIRED_NODE = [22, 12] as const;
/** Requests and events are refused beyond ±60 s (docs/PROTOCOL.md §Request signatures, §Ordering); warn well before. */
const SKEW_PROBLEM_S = 60;
const SKEW_WARNING_S = 20;
export const DEFAULT_MIN_FREE_BYTES = 256 * 1024 ** 2;
export const DEFAULT_MAX_BACKLOG = 1000;
const CERT_WARNING_DAYS = 21;

const ok = (check: string, message: string): CheckResult => ({ check, status: 'ok', message });
const warning = (check: string, message: string): CheckResult => ({ check, status: 'warning', message });
const problem = (check: string, message: string): CheckResult => ({ check, status: 'problem', message });
const note = (check: string, message: string): CheckResult => ({ check, status: 'note', message });

function ago(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86400)} days`;
}

export function checkNodeVersion(version = process.versions.node): CheckResult {
  const [major, minor] = version.split('.').map(Number) as [number, number];
  const needed = `${REQUIRED_NODE[0]}.${REQUIRED_NODE[1]}`;
  if (major > REQUIRED_NODE[0] || (major === REQUIRED_NODE[0] && minor >= REQUIRED_NODE[1])) return ok('node_version', `Node.js ${version} (needs ${needed} or newer).`);
  return problem('node_version', `Node.js ${version} is too old: install Node.js ${needed} or newer (for example the current LTS from nodejs.org).`);
}

export function checkPermissions(paths: DataDirPaths): CheckResult {
  if (process.platform === 'win32') return note('data_dir', `Permissions of ${paths.root} are not checked on Windows: keep the folder in your own profile.`);
  const wrong: string[] = [];
  const dirMode = statSync(paths.root).mode & 0o777;
  if (dirMode & 0o077) wrong.push(`chmod 700 ${paths.root} (it is ${dirMode.toString(8)})`);
  const secrets = [paths.adminToken, paths.identity, paths.tlsKey, paths.database, `${paths.database}-wal`, `${paths.database}-shm`];
  for (const file of secrets) {
    if (!existsSync(file)) continue;
    const mode = statSync(file).mode & 0o777;
    if (mode & 0o077) wrong.push(`chmod 600 ${file} (it is ${mode.toString(8)})`);
  }
  if (wrong.length > 0) return problem('data_dir', `Other users of this machine can read the node's secrets: run ${wrong.join('; ')}.`);
  return ok('data_dir', `${paths.root} and its secrets are private to you (0700 / 0600).`);
}

/** Whether identity.json is this database's server (the node refuses another server's: startup-checks.ts). */
export function checkIdentity(paths: DataDirPaths, db: Database.Database | null): CheckResult | null {
  const stored = db ? setting(db, 'server_name') ?? null : null;
  if (!existsSync(paths.identity)) {
    return stored ? problem('identity', `${paths.identity} is missing but the database holds the data of ${stored}: the node will not start; put back the identity.json of ${stored} from a backup of ${stored}.`) : null;
  }
  let name: unknown;
  try {
    name = (JSON.parse(readFileSync(paths.identity, 'utf8')) as { server_name?: unknown }).server_name;
  } catch (error) {
    return problem('identity', `${paths.identity} cannot be read (${(error as Error).message}): put it back from a backup.`);
  }
  if (typeof name !== 'string') return problem('identity', `${paths.identity} is not an identity file: put it back from a backup.`);
  if (stored && stored !== name) {
    return problem('identity', `${paths.identity} is the identity of ${name}, but the database holds the data of ${stored}: the node will not start; put back the identity.json of ${stored} (from a backup of ${stored}).`);
  }
  return ok('identity', `The signing identity is ${name}'s${stored ? ', the server whose data the database holds' : ''}.`);
}

/** What an error of a write probe means, in words. */
function whyNotWritable(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EPERM') return 'the system forbids it: an immutable or append-only attribute (lsattr shows i or a; remove it with chattr -i / chattr -a) or a security policy';
  if (code === 'EACCES') return 'permission denied (ls -l: it belongs to another user or is read-only; fix it with chown or chmod)';
  if (code === 'EROFS') return 'the disk is mounted read-only';
  if (code === 'ENOSPC' || code === 'EDQUOT') return 'the disk is full';
  if (code === 'ENOENT') return 'it does not exist';
  return (error as Error).message;
}

/**
 * Whether the node's user can really write where the node must: the data folder, the database
 * and its WAL, the logs and the backup folder. A real probe (a file created and removed, files
 * opened for writing), so an immutable attribute or a read-only mount shows even to root.
 * Run as root for a folder another user owns, also checks that the files are that user's.
 */
export function checkWritable(paths: DataDirPaths, backupDir: string | null): CheckResult {
  const wrong: string[] = [];
  const probeFolder = (dir: string, what: string) => {
    const probe = join(dir, `.paracord-doctor-${randomBytes(6).toString('hex')}`);
    try {
      closeSync(openSync(probe, fsConstants.O_CREAT | fsConstants.O_EXCL | fsConstants.O_WRONLY, 0o600));
    } catch (error) {
      wrong.push(`cannot create files in ${what} ${dir}: ${whyNotWritable(error)}`);
      return;
    }
    try {
      unlinkSync(probe);
    } catch (error) {
      wrong.push(`cannot remove files in ${what} ${dir} (${probe} is left): ${whyNotWritable(error)}`);
    }
  };
  const probeFile = (file: string, what: string) => {
    if (!existsSync(file)) return;
    try {
      closeSync(openSync(file, 'r+'));
    } catch (error) {
      wrong.push(`cannot write ${what} ${file}: ${whyNotWritable(error)}`);
    }
  };
  probeFolder(paths.root, 'the data folder');
  probeFile(paths.database, 'the database');
  probeFile(`${paths.database}-wal`, 'the database\'s write-ahead log');
  probeFile(`${paths.database}-shm`, 'the database\'s shared-memory file');
  if (existsSync(paths.logsDir)) probeFolder(paths.logsDir, 'the log folder');
  probeFile(paths.logFile, 'the log');
  if (backupDir) probeFolder(backupDir, 'the backup folder');
  // Root passes the probes: a node running as the folder's owner may not (files left by `sudo …`).
  const owner = process.platform === 'win32' || process.getuid?.() !== 0 ? null : statSync(paths.root).uid;
  if (owner !== null && owner !== 0) {
    for (const file of [paths.root, paths.database, `${paths.database}-wal`, `${paths.database}-shm`, paths.logsDir, paths.logFile, paths.identity, paths.adminToken]) {
      if (!existsSync(file)) continue;
      const stat = statSync(file);
      if (stat.uid !== owner) wrong.push(`${file} belongs to uid ${stat.uid}, not to the node's user (uid ${owner}, the data folder's owner): chown ${owner} ${file}`);
      else if (!(stat.mode & 0o200)) wrong.push(`${file} is read-only for its owner: chmod u+w ${file}`);
    }
  }
  if (wrong.length > 0) return problem('writable', `The node cannot save its data: it ${wrong.join('; it ')}.`);
  return ok('writable', `The node can write its data folder, database, log${backupDir ? ' and backup folder' : ''} (checked by writing).`);
}

/** The backup folder of the schedule the node follows (the command line's wins), if any. */
function scheduledBackupDir(db: Database.Database | null): string | null {
  if (!db) return null;
  try {
    const schedule = JSON.parse(setting(db, BACKUP_SETTING_KEYS.commandLine) || setting(db, BACKUP_SETTING_KEYS.schedule) || 'null') as BackupSchedule | null;
    return typeof schedule?.dir === 'string' ? schedule.dir : null;
  } catch {
    return null;
  }
}

export function checkDisk(paths: DataDirPaths, minFreeBytes = DEFAULT_MIN_FREE_BYTES): CheckResult {
  const stat = statfsSync(paths.root);
  const free = Number(stat.bavail) * Number(stat.bsize);
  const gib = (free / 1024 ** 3).toFixed(1);
  if (free < minFreeBytes) return problem('disk_space', `Only ${gib} GiB free where ${paths.root} is: the database cannot grow; free some space now.`);
  if (free < 8 * minFreeBytes) return warning('disk_space', `${gib} GiB free where ${paths.root} is: free some space before the disk fills.`);
  return ok('disk_space', `${gib} GiB free.`);
}

interface RunningNode {
  adminUrl: string;
  status: { server_name: string | null; version: string; federation: { url: string | null; tls_fingerprint: string | null } };
}

async function checkRunning(paths: DataDirPaths, timeoutMs: number): Promise<{ result: CheckResult; running: RunningNode | null }> {
  const runtime = readRuntimeInfo(paths);
  if (!runtime) return { result: warning('node_running', `No node is running for ${paths.root}: start it with \`paracord-node serve --data ${paths.root}\` (or its service).`), running: null };
  try {
    // SECURITY.md item 19: the admin token goes only to the node that proves it is this run.
    await checkRunningNode(paths, runtime, timeoutMs);
  } catch (error) {
    if (error instanceof StaleRuntimeError) {
      return { result: warning('node_running', `node.json names pid ${runtime.pid}, but that is not this node running (it did not stop cleanly, and the pid or the admin port may now be another program's); start the node again.`), running: null };
    }
    return { result: problem('node_running', `pid ${runtime.pid} runs but its admin API does not answer at ${runtime.admin_url} (${((error as Error).cause as Error | undefined)?.message ?? (error as Error).message}): look at ${paths.logFile}, or restart it.`), running: null };
  }
  try {
    const token = readFileSync(paths.adminToken, 'utf8').trim();
    const response = await request(`${runtime.admin_url}${ADMIN_API_PREFIX}/status`, { headers: { authorization: `Bearer ${token}` }, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const status = (await response.body.json()) as RunningNode['status'];
    if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`);
    return { result: ok('node_running', `Running as pid ${runtime.pid} (${status.server_name ?? 'setup mode'}, version ${status.version}), admin API at ${runtime.admin_url}.`), running: { adminUrl: runtime.admin_url, status } };
  } catch (error) {
    return { result: problem('node_running', `pid ${runtime.pid} runs but its admin API does not answer at ${runtime.admin_url} (${(error as Error).message}): look at ${paths.logFile}, or restart it.`), running: null };
  }
}

const insecureAgent = new Agent({ connect: { rejectUnauthorized: false } });

/** The SHA-256 fingerprint of the certificate a TLS listener serves (null when it cannot be read). */
function servedCertificate(url: URL, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = tlsConnect({ host: url.hostname, port: Number(url.port || 443), servername: /^[\d.]+$|:/.test(url.hostname) ? undefined : url.hostname, rejectUnauthorized: false, timeout: timeoutMs }, () => {
      const fingerprint = socket.getPeerCertificate()?.fingerprint256 ?? null;
      socket.end();
      resolve(fingerprint);
    });
    socket.once('error', () => resolve(null));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(null);
    });
  });
}

async function checkFederation(running: RunningNode, timeoutMs: number): Promise<{ result: CheckResult; servedFingerprint: string | null }> {
  const url = running.status.federation.url;
  if (!url) return { result: note('federation_listener', 'Federation is not running yet (setup mode): finish the setup in the web UI.'), servedFingerprint: null };
  let servedFingerprint: string | null = null;
  try {
    const response = await request(`${url}/.well-known/paracord/server`, {
      dispatcher: insecureAgent,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    if (url.startsWith('https://')) servedFingerprint = await servedCertificate(new URL(url), timeoutMs);
    const body = (await response.body.json()) as { server_name?: string };
    if (response.statusCode !== 200) throw new Error(`HTTP ${response.statusCode}`);
    if (body.server_name !== running.status.server_name) {
      return { result: problem('federation_listener', `${url} answers as ${body.server_name}, not ${running.status.server_name}: another server has this address; fix --public-url.`), servedFingerprint };
    }
    return { result: ok('federation_listener', `The federation listener answers at ${url}.`), servedFingerprint };
  } catch (error) {
    return { result: problem('federation_listener', `The federation listener does not answer at ${url} (${(error as Error).message}): check --listen, --public-url and the firewall.`), servedFingerprint };
  }
}

async function adminCall<T>(running: RunningNode, paths: DataDirPaths, method: 'GET' | 'POST', path: string, timeoutMs: number): Promise<{ status: number; body: T }> {
  // Only after checkRunning's nonce proof (SECURITY.md item 19): `running` exists only then.
  const token = readFileSync(paths.adminToken, 'utf8').trim();
  const response = await request(`${running.adminUrl}${ADMIN_API_PREFIX}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
    ...(method === 'POST' ? { body: '{}' } : {}),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });
  return { status: response.statusCode, body: (await response.body.json()) as T };
}

type ReachabilityAnswer = { reachable?: boolean | null; via?: string | null; error?: string | null; checked_at?: number | null; mode?: string };

/**
 * The node's reachability self-test (docs/PROTOCOL.md §Reachability: reach-probe and pull mode): its last result, or, when none
 * has run yet and the node has peers to ask, a fresh one (POST /reachability/check).
 */
async function checkReachability(running: RunningNode | null, paths: DataDirPaths, peerCount: number, timeoutMs: number): Promise<CheckResult> {
  if (!running) return note('reachability', 'Not tested yet: start the node; it tests whether peers can reach it a second after it starts (or run `paracord-node reach-test`).');
  let answer: ReachabilityAnswer;
  try {
    const last = await adminCall<ReachabilityAnswer>(running, paths, 'GET', '/reachability', timeoutMs);
    if (last.status !== 200) throw new Error(`HTTP ${last.status}`);
    answer = last.body;
    let ran = false;
    if (typeof answer.reachable !== 'boolean' && peerCount > 0) {
      // A self-test asks a peer to call this node back: allow it the peer's time and ours.
      const fresh = await adminCall<ReachabilityAnswer>(running, paths, 'POST', '/reachability/check', Math.max(timeoutMs, 20_000));
      if (fresh.status !== 200) throw new Error(`HTTP ${fresh.status}`);
      answer = fresh.body;
      ran = true;
    }
    const when = ran ? 'just now' : answer.checked_at ? `${ago(Date.now() - answer.checked_at)} ago` : '';
    if (answer.reachable === true) return ok('reachability', `Peers can reach this node (tested ${when}${answer.via ? ` by ${answer.via}` : ''}).`);
    if (answer.reachable === false) {
      const pull = answer.mode === 'pull' ? ' The node receives in pull mode meanwhile (it fetches from its peers).' : '';
      return warning('reachability', `Peers cannot reach this node (tested ${when}${answer.via ? ` by ${answer.via}` : ''}: ${answer.error ?? 'no answer'}): forward the port on your router, or use pull mode (serve --pull).${pull}`);
    }
  } catch (error) {
    return warning('reachability', `Could not ask the node for its reachability self-test (${(error as Error).message}): run \`paracord-node reach-test\`.`);
  }
  if (peerCount === 0) return note('reachability', 'Not tested yet: the self-test asks a peer to call this node back; add a peer first.');
  return note('reachability', `Not tested yet: no peer could be asked${answer.error ? ` (${answer.error})` : ''}; run \`paracord-node reach-test\` once a peer is online.`);
}

function openDb(paths: DataDirPaths): Database.Database | null {
  if (!existsSync(paths.database)) return null;
  try {
    const db = new Database(paths.database, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return db;
  } catch {
    return null;
  }
}

function setting(db: Database.Database, key: string): string | undefined {
  try {
    return db.prepare<[string], { value: string }>('SELECT value FROM settings WHERE key = ?').get(key)?.value;
  } catch {
    return undefined;
  }
}

export function checkTls(paths: DataDirPaths, db: Database.Database | null, servedFingerprint: string | null, federationUrl: string | null, now = Date.now()): CheckResult {
  const certFile = (db && setting(db, 'tls_cert_file')) || paths.tlsCert;
  const keyFile = (db && setting(db, 'tls_key_file')) || paths.tlsKey;
  if (!existsSync(certFile)) {
    if (federationUrl?.startsWith('http://')) return note('tls', 'Federation is served over plain HTTP (--insecure-http): for testing on a LAN only.');
    return note('tls', 'No certificate yet: the node makes a self-signed one when it starts.');
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(readFileSync(certFile));
  } catch (error) {
    return problem('tls', `${certFile} is not a PEM certificate (${(error as Error).message}): replace it, or delete the tls folder to get a new self-signed one (peers will need a new invite link).`);
  }
  try {
    if (!cert.checkPrivateKey(createPrivateKey(readFileSync(keyFile)))) return problem('tls', `${keyFile} is not the key of ${certFile}: put the matching key there.`);
  } catch (error) {
    return problem('tls', `Cannot read the certificate key ${keyFile} (${(error as Error).message}).`);
  }
  const validTo = Date.parse(cert.validTo);
  const days = Math.floor((validTo - now) / 86400_000);
  if (validTo < now) return problem('tls', `The certificate ${certFile} expired on ${cert.validTo}: renew it, then restart the node.`);
  if (servedFingerprint && servedFingerprint !== cert.fingerprint256) {
    return warning('tls', `The node serves another certificate than ${certFile} (fingerprint ${servedFingerprint}): restart it to serve the file; peers that pinned a fingerprint need the current one (a new invite link).`);
  }
  if (days < CERT_WARNING_DAYS) return warning('tls', `The certificate ${certFile} expires in ${days} days (${cert.validTo}): renew it soon.`);
  return ok('tls', `Certificate valid until ${cert.validTo}; fingerprint ${cert.fingerprint256}${servedFingerprint ? ' (served and pinned by peers through invite links)' : ''}.`);
}

function portFree(hostPort: string): Promise<NodeJS.ErrnoException | null> {
  const { host, port } = parseHostPort(hostPort, 'address');
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    server.listen(port, host, () => server.close(() => resolve(null)));
  });
}

async function checkPorts(running: RunningNode | null, options: DoctorOptions): Promise<CheckResult> {
  if (running) return ok('ports', `The node holds its ports (admin API at ${running.adminUrl}).`);
  const busy: string[] = [];
  for (const [address, flag] of [[options.adminListen ?? DEFAULT_ADMIN_LISTEN, '--admin-listen'], [options.listen ?? DEFAULT_LISTEN, '--listen']] as const) {
    const error = await portFree(address);
    if (error?.code === 'EADDRINUSE') busy.push(`${address} is used by another program (choose another with ${flag}, or find it with \`ss -ltnp\`)`);
    else if (error?.code === 'EACCES') busy.push(`${address} needs privileges to listen on (use a port above 1024, or the system unit's capability)`);
  }
  if (busy.length > 0) return problem('ports', `The node could not start: ${busy.join('; ')}.`);
  return ok('ports', 'The admin and federation ports are free for the node.');
}

async function checkClockSkew(db: Database.Database | null, http: HttpClient | null, timeoutMs: number): Promise<CheckResult> {
  if (!db || !http) return note('clock_skew', 'No database yet: no peers to compare clocks with.');
  let peers: Array<{ server_name: string; endpoint: string }>;
  try {
    peers = db.prepare<[], { server_name: string; endpoint: string }>("SELECT server_name, endpoint FROM federation_servers WHERE trust = 'allow' AND endpoint IS NOT NULL ORDER BY last_seen_at DESC LIMIT 10").all();
  } catch {
    return note('clock_skew', 'Could not read the peers from the database.');
  }
  if (peers.length === 0) return ok('clock_skew', 'No peers yet to compare clocks with (events are refused beyond ±60 s, so keep NTP on).');
  const results = await Promise.all(
    peers.map(async (peer) => {
      const sent = Date.now();
      try {
        // Through the node's outbound address policy and certificate pins, as the node itself calls.
        const response = await http.send('GET', `${peer.endpoint.replace(/\/+$/, '')}/_paracord/federation/v1/keys`, {}, undefined, { timeoutMs });
        const received = Date.now();
        const date = Date.parse(String(response.headers.date ?? ''));
        if (Number.isNaN(date)) return { peer: peer.server_name, skew: null, refused: null, failed: 'no Date header' };
        // The Date header has 1 s resolution: compare with the middle of the exchange, allow 1 s.
        const skew = (date - (sent + received) / 2) / 1000;
        return { peer: peer.server_name, skew: Math.abs(skew) <= 1 ? 0 : skew, refused: null, failed: null };
      } catch (error) {
        const message = (error as Error).message;
        return { peer: peer.server_name, skew: null, refused: /refusing to connect/.test(message) ? message : null, failed: message };
      }
    }),
  );
  const answered = results.filter((r): r is { peer: string; skew: number; refused: null; failed: null } => r.skew !== null);
  const refused = results.filter((r) => r.refused !== null);
  const refusedText = refused.length > 0 ? ` ${refused.length} not asked: the node's address policy refuses ${refused.map((r) => r.peer).slice(0, 3).join(', ')} (docs/SECURITY.md §8).` : '';
  const silent = results.find((r) => r.failed !== null && r.refused === null);
  if (answered.length === 0) return note('clock_skew', `None of ${peers.length} peers answered${silent ? ` (${silent.peer}: ${silent.failed})` : ''}: cannot compare clocks (keep NTP on: timedatectl set-ntp true).${refusedText}`);
  const worst = answered.reduce((a, b) => (Math.abs(b.skew) > Math.abs(a.skew) ? b : a));
  const text = `${worst.peer}'s clock differs by ${Math.round(worst.skew)} s`;
  if (Math.abs(worst.skew) > SKEW_PROBLEM_S) return problem('clock_skew', `${text}: events are refused beyond ±60 s; turn on time sync (timedatectl set-ntp true), or tell that peer.${refusedText}`);
  if (Math.abs(worst.skew) > SKEW_WARNING_S) return warning('clock_skew', `${text}: events are refused beyond ±60 s; check time sync here and there.${refusedText}`);
  return ok('clock_skew', `Clock within ${Math.max(1, Math.ceil(Math.abs(worst.skew)))} s of ${answered.length} peer(s).${refusedText}`);
}

function checkOutbox(db: Database.Database | null, maxBacklog = DEFAULT_MAX_BACKLOG, now = Date.now()): CheckResult {
  if (!db) return note('outbox', 'No database yet.');
  try {
    const rows = db
      .prepare<[], { destination: string; pending: number; failed: number; retried: number; oldest: number | null }>(
        `SELECT destination,
                SUM(state = 'pending') AS pending, SUM(state = 'failed') AS failed,
                SUM(state = 'pending' AND attempts > 0) AS retried,
                MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldest
           FROM federation_outbox WHERE state IN ('pending', 'failed') GROUP BY destination ORDER BY pending DESC, destination`,
      )
      .all();
    const pending = rows.reduce((n, r) => n + r.pending, 0);
    const failed = rows.reduce((n, r) => n + r.failed, 0);
    const worst = rows[0];
    if (worst && worst.pending >= maxBacklog) {
      return problem('outbox', `${worst.pending} events wait for ${worst.destination}${worst.oldest !== null ? `, the oldest for ${ago(now - worst.oldest)}` : ''} (${pending} in all): that server is down or cannot be reached; ask its owner, or drop its queue in the web UI (Queue) if it is gone for good.`);
    }
    if (failed > 0) return warning('outbox', `${failed} deliveries were refused by peers (and ${pending} wait): see the Queue in the web UI, then retry or drop them.`);
    const oldest = Math.min(...rows.filter((r) => r.oldest !== null).map((r) => r.oldest!));
    if (Number.isFinite(oldest) && now - oldest > 24 * 3600_000) return warning('outbox', `${pending} events wait for delivery, the oldest for ${ago(now - oldest)}: a peer may be down or unreachable (see the Queue).`);
    const retried = rows.filter((r) => r.retried > 0);
    if (retried.length > 0) {
      const names = retried.slice(0, 3).map((r) => `${r.destination} (${r.pending})`).join(', ');
      return warning('outbox', `Deliveries to ${names}${retried.length > 3 ? ` and ${retried.length - 3} more` : ''} fail and are being retried: that server may be down; nothing to do unless it lasts (see the Queue).`);
    }
    return ok('outbox', pending === 0 ? 'Nothing waits for delivery.' : `${pending} events wait for delivery.`);
  } catch {
    return note('outbox', 'Could not read the outbound queue.');
  }
}

/** The node's HTTP client for peers, over the read-only database: its address policy and pins. */
function peerClient(db: Database.Database | null, insecureHttp: boolean, allowPrivateAddresses: boolean): HttpClient | null {
  if (!db) return null;
  try {
    const trust = new TrustStore(db, new Settings(db));
    const policy = new AddressPolicy({ insecureHttp, allowPrivateAddresses, endpointVouch: (origin) => trust.endpointVouch(origin) });
    return new HttpClient({ allowInsecureHttp: insecureHttp, pinFor: (url) => trust.pinnedFingerprintFor(url), policy });
  } catch {
    return null;
  }
}

function allowedPeerCount(db: Database.Database | null): number {
  try {
    return db?.prepare<[], { n: number }>("SELECT COUNT(*) AS n FROM federation_servers WHERE trust = 'allow'").get()?.n ?? 0;
  } catch {
    return 0;
  }
}

function checkBackup(db: Database.Database | null, now = Date.now()): CheckResult {
  if (!db) return note('last_backup', 'No database yet: nothing to back up.');
  const at = Number(setting(db, BACKUP_SETTING_KEYS.at) ?? NaN);
  let schedule: BackupSchedule | null;
  try {
    // The last run's command-line schedule (serve --backup-dir) wins over the API's, as in the node.
    schedule = JSON.parse(setting(db, BACKUP_SETTING_KEYS.commandLine) || setting(db, BACKUP_SETTING_KEYS.schedule) || 'null') as BackupSchedule | null;
  } catch {
    schedule = null;
  }
  const error = setting(db, BACKUP_SETTING_KEYS.error);
  if (Number.isNaN(at)) return warning('last_backup', 'No backup yet: run `paracord-node backup --out FILE --passphrase-file F`, or set a schedule (Dashboard, or PUT /backups/schedule).');
  const age = now - at;
  if (schedule && error) return warning('last_backup', `The last scheduled backup failed (${error}); the last good one is ${ago(age)} old.`);
  const limit = schedule ? 2 * BACKUP_INTERVALS[schedule.every] : STALE_BACKUP_MS;
  if (age > limit) return warning('last_backup', `The last backup is ${ago(age)} old: make a fresh one${schedule ? '' : ', or set a schedule'}.`);
  if (schedule && !schedule.passphrase_file) return warning('last_backup', `Scheduled backups into ${schedule.dir} are not encrypted: each one ${IN_THE_CLEAR}; give them a passphrase file (serve --backup-passphrase-file).`);
  if (setting(db, BACKUP_SETTING_KEYS.encrypted) === '0') return warning('last_backup', `The last backup (${ago(age)} ago) is not encrypted: it ${IN_THE_CLEAR}; keep it as safe as the data folder, or use --passphrase-file.`);
  return ok('last_backup', `Last backup ${ago(age)} ago${schedule ? ` (scheduled ${schedule.every}, keeping ${schedule.keep})` : ''}.`);
}

export async function runDoctor(options: DoctorOptions): Promise<CheckResult[]> {
  const timeoutMs = options.timeoutMs ?? 3_000;
  const paths = dataDirPaths(options.dataDir);
  const results: CheckResult[] = [checkNodeVersion()];
  if (!existsSync(paths.root) || !statSync(paths.root).isDirectory()) {
    results.push(problem('data_dir', `There is no data folder at ${paths.root}: check --data, or create one with \`paracord-node init --data ${paths.root} --server-name NAME\`.`));
    return results;
  }
  results.push(checkPermissions(paths), checkDisk(paths, options.minFreeBytes));
  const db = openDb(paths);
  try {
    if (!db && existsSync(paths.database)) results.push(problem('database', `${paths.database} cannot be opened, even to read: look at the writable check below, and at ${paths.logFile}.`));
    else if (!db) results.push(warning('database', `${join(paths.root, 'paracord.db')} does not exist yet: the folder is not initialized (run init, or serve with --server-name).`));
    results.push(checkWritable(paths, scheduledBackupDir(db)));
    const identity = checkIdentity(paths, db);
    if (identity) results.push(identity);
    const { result, running } = await checkRunning(paths, timeoutMs);
    results.push(result);
    let served: string | null = null;
    if (running) {
      const federation = await checkFederation(running, timeoutMs);
      served = federation.servedFingerprint;
      results.push(federation.result);
    }
    results.push(await checkReachability(running, paths, allowedPeerCount(db), timeoutMs));
    results.push(checkTls(paths, db, served, running?.status.federation.url ?? null));
    results.push(await checkPorts(running, options));
    const insecureHttp = (options.insecureHttp ?? false) || (readRuntimeInfo(paths)?.federation_url ?? '').startsWith('http://');
    results.push(await checkClockSkew(db, peerClient(db, insecureHttp, options.allowPrivateAddresses ?? false), timeoutMs));
    results.push(checkOutbox(db, options.maxBacklog));
    results.push(checkBackup(db));
  } finally {
    db?.close();
  }
  return results;
}
