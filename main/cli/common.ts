/**
 * Shared pieces of the CLI commands (docs/ARCHITECTURE.md §What outside tools rely on): usage errors, the --data option,
 * small value checks, JSON output and the admin API call the client commands make.
 * Exit codes: 0 success, 1 runtime failure, 2 bad usage; errors are one line on stderr.
 */
import { Option, type Command } from 'commander';
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

/** A duration in words: "1 second", "1 minute", "2 hours". */
function durationWords(seconds: number): string {
  for (const [unit, size] of [['day', 86_400], ['hour', 3_600], ['minute', 60]] as const) {
    if (seconds >= size && seconds % size === 0) return `${seconds / size} ${unit}${seconds === size ? '' : 's'}`;
  }
  return `${seconds} second${seconds === 1 ? '' : 's'}`;
}

/**
 * An option given in days (`--expires-in 7`) for a field the admin API takes in whole seconds:
 * checked here against the field's own bounds (its schema in shared/contract/admin/), and said in
 * days; the seconds to send.
 */
export function daysToSeconds(value: string, option: string, field: { minValue: number | null; maxValue: number | null }): number {
  const days = Number(value);
  if (value.trim() === '' || !Number.isFinite(days) || days <= 0) throw new UsageError(`${option} is in days: give a positive number such as 7 (0.5 is 12 hours), not "${value}"`);
  const seconds = Math.round(days * 86_400);
  if (field.maxValue !== null && seconds > field.maxValue) throw new UsageError(`${option} is in days: at most ${Number((field.maxValue / 86_400).toFixed(4))}, not ${value}`);
  if (field.minValue !== null && seconds < field.minValue) {
    throw new UsageError(`${option} is in days: at least ${durationWords(field.minValue)} (${Number((field.minValue / 86_400).toPrecision(2))}), not ${value}`);
  }
  return seconds;
}

/** A text option checked against its admin API field's length limit (its schema in shared/contract/admin/). */
export function limitedText(value: string, option: string, field: { maxLength: number | null; safeParse(value: string): { success: boolean; data?: string } }): string {
  // As the node reads it: a field the node trims is counted without its surrounding spaces.
  const read = field.safeParse(value);
  if (read.success) return read.data ?? value;
  // Counted as the node counts it: without the spaces around it when the field trims them.
  const counted = field.safeParse('a ').data === 'a' ? value.trim() : value;
  throw new UsageError(`${option} is at most ${field.maxLength} characters (this one has ${counted.length})`);
}

/**
 * A command group (`member`, `peer`, `keys`, `service`) run without one of its commands: one line
 * that says so and names them, rather than commander's whole help or "unknown option '--data'"
 * (the options belong to the command: `member list --data DIR`). Called once the group's commands
 * are added: a command added later would inherit allowExcessArguments and take extra arguments.
 */
export function requireSubcommand(group: Command): void {
  if (group.commands.length === 0) throw new Error(`requireSubcommand(${group.name()}) before its commands were added`);
  group
    .allowUnknownOption()
    .allowExcessArguments()
    .action((_opts: unknown, command: Command) => {
      const names = group.commands.map((c) => c.name());
      const list = names.join(', ');
      const given = command.args;
      const named = given.find((arg) => names.includes(arg));
      const usage = `(run with ${group.name()} --help for usage)`;
      if (named) throw new UsageError(`${group.name()}'s options go after its command: paracord-node ${group.name()} ${named} [options] ${usage}`);
      const first = given[0];
      if (first !== undefined && !first.startsWith('-')) {
        const near = closest(first, names);
        throw new UsageError(`${group.name()} has no command "${first}"${near ? ` (did you mean ${near}?)` : ''}; its commands: ${list} ${usage}`);
      }
      throw new UsageError(`${group.name()} needs a command: ${list} ${usage}`);
    });
}

/** The name a mistyped one was most likely meant as (a prefix of it, or at most two letters off), or null. */
function closest(typed: string, names: readonly string[]): string | null {
  const lower = typed.toLowerCase();
  const prefixed = names.filter((n) => n.startsWith(lower));
  if (prefixed.length === 1) return prefixed[0]!;
  let best: { name: string; distance: number } | null = null;
  for (const name of names) {
    const distance = editDistance(lower, name);
    if (distance <= Math.min(2, Math.floor(name.length / 2)) && (best === null || distance < best.distance)) best = { name, distance };
  }
  return best?.name ?? null;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
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

/** The admin API's codes (with 400) for input it refused as invalid: what the user typed, not a failure of the node. */
const REFUSED_INPUT = new Set(['invalid_input', 'invalid_link']);

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
  if (response.statusCode >= 400) {
    const code = typeof answer.error === 'string' ? answer.error : 'error';
    const message = typeof answer.message === 'string' ? answer.message : `HTTP ${response.statusCode}`;
    // The code once: a refusal passed on from a peer names it already ("alpha.test refused (link_revoked): …").
    const line = message.includes(`(${code})`) ? message : `${message} (${code})`;
    // Input the node's validation refused is bad usage (exit 2), as the README's exit codes say.
    if (response.statusCode === 400 && REFUSED_INPUT.has(code)) throw new UsageError(line);
    throw new Error(line);
  }
  return answer;
}
