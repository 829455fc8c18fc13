/**
 * The doctor's checks that ask the running node (doctor.ts): is it running and proving it is this
 * run, does its federation listener answer, can peers reach it, and, when it is not running, are
 * its ports free.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { Agent, request } from '../http/undici-request.ts';
import { ADMIN_API_PREFIX } from '../../../shared/contract/admin-operations.ts';
import { DEFAULT_ADMIN_LISTEN, DEFAULT_LISTEN, parseHostPort } from '../config.ts';
import { readRuntimeInfo, type DataDirPaths } from '../data-dir.ts';
import { WELL_KNOWN_PATH } from '../federation/paths.ts';
import { checkRunningNode, StaleRuntimeError } from '../admin/running-node.ts';
import { ago, note, ok, problem, warning, type CheckResult } from './check-result.ts';
import type { DoctorOptions } from './doctor.ts';

export interface RunningNode {
  adminUrl: string;
  status: { server_name: string | null; version: string; federation: { url: string | null; tls_fingerprint: string | null } };
}

export async function checkRunning(paths: DataDirPaths, timeoutMs: number): Promise<{ result: CheckResult; running: RunningNode | null }> {
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

export async function checkFederation(running: RunningNode, timeoutMs: number): Promise<{ result: CheckResult; servedFingerprint: string | null }> {
  const url = running.status.federation.url;
  if (!url) return { result: note('federation_listener', 'Federation is not running yet (setup mode): finish the setup in the web UI.'), servedFingerprint: null };
  let servedFingerprint: string | null = null;
  try {
    const response = await request(`${url}${WELL_KNOWN_PATH}`, {
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
export async function checkReachability(running: RunningNode | null, paths: DataDirPaths, peerCount: number, timeoutMs: number): Promise<CheckResult> {
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

function portFree(hostPort: string): Promise<NodeJS.ErrnoException | null> {
  const { host, port } = parseHostPort(hostPort, 'address');
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) => resolve(error));
    server.listen(port, host, () => server.close(() => resolve(null)));
  });
}

export async function checkPorts(running: RunningNode | null, options: DoctorOptions): Promise<CheckResult> {
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
