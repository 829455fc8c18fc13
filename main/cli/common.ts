/**
 * Shared pieces of the CLI commands (docs/ARCHITECTURE.md §What outside tools rely on): usage errors, the --data option,
 * small value checks, JSON output and the admin API call the client commands make.
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage; errors are one line on stderr.
 */
import { Option } from 'commander';
import { isServerName } from '../../shared/identifiers.ts';
import { dataDirPaths, defaultDataDir, readAdminToken, readRuntimeInfo } from '../core/data-dir.ts';
import { checkRunningNode } from '../core/admin/running-node.ts';
import { ADMIN_API_PREFIX } from '../../shared/contract/admin-operations.ts';
import { cleanText, terminalJson } from '../core/util/untrusted-text.ts';

/** A mistake in the command line: printed as one line, exit code 2. */
export class UsageError extends Error {}

export function dataOption(): Option {
  return new Option('--data <dir>', 'data directory').env('PARACORD_DATA').default(defaultDataDir(), 'per-user data folder');
}

export function checkServerName(name: string): string {
  const lower = name.toLowerCase();
  if (!isServerName(lower)) throw new UsageError(`--server-name "${name}" is not a host name (letters, digits, dots, dashes, optional :port)`);
  return lower;
}

export function positiveNumber(value: string, what: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${what} must be a positive number, not "${value}"`);
  return n;
}

export function envFlag(name: string): boolean {
  const value = process.env[name];
  return value !== undefined && /^(1|true|yes|on)$/i.test(value);
}

/** Answers of the node carry text from peers: JSON escapes what a terminal would act on (util/untrusted-text.ts). */
export function printJson(value: unknown): void {
  process.stdout.write(terminalJson(value) + '\n');
}

/**
 * A line for stderr: `paracord-node: ` and the text, cleaned (escape sequences, CR/LF, bidi
 * overrides shown escaped: util/untrusted-text.ts). Every message the CLI prints goes through here.
 */
export function say(text: string): void {
  process.stderr.write(`paracord-node: ${cleanText(text, 4000)}\n`);
}

/** Calls the admin API of the node running for `dataDir`; one clear error when that fails. */
export async function adminCall(dataDir: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const paths = dataDirPaths(dataDir);
  const runtime = readRuntimeInfo(paths);
  if (!runtime) throw new Error(`no node is running for ${paths.root} (start one with: paracord-node serve --data ${dataDir})`);
  // SECURITY.md item 19: the token goes only to the node that proves it is this run.
  await checkRunningNode(paths, runtime);
  const { request } = await import('../core/http/undici-request.ts');
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
  if (response.statusCode >= 400) throw new Error(`${typeof answer.message === 'string' ? answer.message : `HTTP ${response.statusCode}`} (${typeof answer.error === 'string' ? answer.error : 'error'})`);
  return answer;
}
