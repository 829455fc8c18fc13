import type { Context } from 'koa';
import getRawBody from 'raw-body';
import { badRequest } from '../errors.ts';
import { checkJsonLimits, WIRE_JSON_LIMITS, type JsonLimits } from '../crypto/json-limits.ts';

/** Request bodies larger than this are refused with 413 while they are read. */
export const MAX_BODY_BYTES = 1024 * 1024;

export async function readRawBody(ctx: Context, limit = MAX_BODY_BYTES): Promise<Buffer> {
  return getRawBody(ctx.req, { limit, length: ctx.get('content-length') || undefined });
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Raw bytes → JSON value, enforcing the wire limits on the text first (depth 32, 10,000
 * elements, integers only). Every failure is a 400 with a code saying which rule.
 */
export function parseJsonBody(raw: Buffer, limits: JsonLimits = WIRE_JSON_LIMITS): unknown {
  let text: string;
  try {
    text = utf8.decode(raw);
  } catch {
    throw badRequest('malformed_json', 'request body is not valid UTF-8');
  }
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
