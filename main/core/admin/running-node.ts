/**
 * Is the node that node.json describes the one answering at its admin URL? (SECURITY.md item 19.)
 * Every local tool that sends the admin bearer token (the CLI client commands, `doctor`) asks
 * this first: the pid must be alive, and whatever answers at the admin URL must prove it knows
 * this run's nonce (HMAC of a fresh challenge, whoami.ts). A stale node.json whose pid was reused
 * and whose port another program took never gets the token.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { DataDirPaths, RuntimeInfo } from '../data-dir.ts';
import { isProcessAlive } from '../util/process-alive.ts';
import { WHOAMI_PATH, whoamiProof } from './middleware/whoami.ts';

/** node.json does not describe a node that runs now (dead pid, or a listener without the nonce). */
export class StaleRuntimeError extends Error {
  constructor(paths: DataDirPaths, runtime: RuntimeInfo) {
    super(`no node is running for ${paths.root} (stale node.json from pid ${runtime.pid})`);
    this.name = 'StaleRuntimeError';
  }
}

/** Nothing answered at node.json's admin URL (the pid is alive). */
export class NoAnswerError extends Error {
  constructor(paths: DataDirPaths, runtime: RuntimeInfo, cause: unknown) {
    super(`the node for ${paths.root} does not answer at ${runtime.admin_url} (${(cause as Error).message}); is it still running (pid ${runtime.pid})?`, { cause });
    this.name = 'NoAnswerError';
  }
}

/**
 * Resolves when the node of `runtime` runs and proved its nonce; throws StaleRuntimeError or
 * NoAnswerError otherwise. Sends no token.
 */
export async function checkRunningNode(paths: DataDirPaths, runtime: RuntimeInfo, timeoutMs = 10_000): Promise<void> {
  if (!isProcessAlive(runtime.pid) || typeof runtime.nonce !== 'string') throw new StaleRuntimeError(paths, runtime);
  // Loaded here, not at the top: the CLI commands that import this start faster without it.
  const { request } = await import('../http/undici-request.ts');
  const challenge = randomBytes(32).toString('hex');
  let proof: unknown;
  try {
    const response = await request(`${runtime.admin_url}${WHOAMI_PATH}?challenge=${challenge}`, { method: 'GET', headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const answer = (await response.body.json().catch(() => ({}))) as { proof?: unknown };
    proof = response.statusCode === 200 ? answer.proof : undefined;
  } catch (error) {
    throw new NoAnswerError(paths, runtime, error);
  }
  const expected = Buffer.from(whoamiProof(runtime.nonce, challenge), 'hex');
  const given = typeof proof === 'string' && /^[0-9a-f]{64}$/.test(proof) ? Buffer.from(proof, 'hex') : Buffer.alloc(0);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new StaleRuntimeError(paths, runtime);
}
