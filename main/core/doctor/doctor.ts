/**
 * `paracord-node doctor` (README "Keep it running"): what goes wrong on a home server, each
 * checked and reported as ok / warning / problem (or a note) with a sentence on what to do.
 * Reads the data folder and the database (read-only), and asks the running node, its
 * federation listener and the allowed peers; changes nothing (its write probe creates one
 * empty file in each folder the node writes and removes it at once). Each check in its file:
 * data-dir-checks.ts, running-node-checks.ts, tls-check.ts, clock-skew-check.ts, outbox-check.ts,
 * backup-check.ts; this file runs them in order and returns the report.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { dataDirPaths, readRuntimeInfo } from '../data-dir.ts';
import { problem, warning, type CheckResult } from './check-result.ts';
import { allowedPeerCount, openDb } from './read-only-db.ts';
import { checkDisk, checkIdentity, checkNodeVersion, checkPermissions, checkWritable } from './data-dir-checks.ts';
import { checkFederation, checkPorts, checkReachability, checkRunning } from './running-node-checks.ts';
import { checkTls } from './tls-check.ts';
import { checkClockSkew, peerClient } from './clock-skew-check.ts';
import { checkOutbox } from './outbox-check.ts';
import { checkBackup, scheduledBackupDir } from './backup-check.ts';

export type { CheckResult, CheckStatus } from './check-result.ts';
export { DEFAULT_MIN_FREE_BYTES, checkDisk, checkIdentity, checkNodeVersion, checkPermissions, checkWritable } from './data-dir-checks.ts';
export { checkTls } from './tls-check.ts';
export { DEFAULT_MAX_BACKLOG } from './outbox-check.ts';

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

export async function runDoctor(options: DoctorOptions): Promise<CheckResult[]> {
  const timeoutMs = options.timeoutMs ?? 3_000;
  const paths = dataDirPaths(options.dataDir);
  const results: CheckResult[] = [await checkNodeVersion()];
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
