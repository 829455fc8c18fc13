import type Koa from 'koa';
import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { HttpError, badRequest } from '../errors.ts';
import { checkJsonLimits, WIRE_JSON_LIMITS, type JsonLimits } from '../crypto/json-limits.ts';

/** Request bodies larger than this are refused with 413 while they are read. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * A body must arrive within this long once a handler starts reading it (issue #14, item 6): a
 * peer dribbling a body byte by byte gets 408 and the connection is closed. Shorter than the
 * listener's request timeout, so the answer is a JSON error rather than a cut connection.
 */
export const DEFAULT_BODY_TIMEOUT_MS = 20_000;

const bodyTimeouts = new WeakMap<Koa, number>();

/** Sets the body deadline of every request of `app` (NodeConfig `bodyTimeoutMs`). */
export function setBodyTimeout(app: Koa, ms: number): void {
  bodyTimeouts.set(app, ms);
}

export async function readRawBody(ctx: Context, limit = MAX_BODY_BYTES): Promise<Buffer> {
  const timeoutMs = bodyTimeouts.get(ctx.app) ?? DEFAULT_BODY_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(408, 'body_timeout', `the request body did not arrive within ${Math.round(timeoutMs / 100) / 10} s`, { connection: 'close' })), timeoutMs);
  });
  try {
    return await Promise.race([getRawBody(ctx.req, { limit, length: ctx.get('content-length') || undefined }), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A body's bytes as text: 400 malformed_json unless they are valid UTF-8 (never replaced by U+FFFD). */
export function utf8Text(raw: Buffer): string {
  try {
    return utf8.decode(raw);
  } catch {
    throw badRequest('malformed_json', 'request body is not valid UTF-8');
  }
}

/**
 * Raw bytes → JSON value, enforcing the wire limits on the text first (depth 32, 10,000
 * elements, integers only). Every failure is a 400 with a code saying which rule.
 */
export function parseJsonBody(raw: Buffer, limits: JsonLimits = WIRE_JSON_LIMITS): unknown {
  const text = utf8Text(raw);
  const violation = checkJsonLimits(text, limits);
  if (violation) {
    throw badRequest(violation.kind === 'number' ? 'invalid_number' : 'limits_exceeded', violation.message);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw badRequest('malformed_json', `request body is not valid JSON: ${(error as Error).message}`);
  }
}
