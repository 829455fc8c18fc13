import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { HttpError } from '../../errors.ts';
import { cleanText } from '../../util/untrusted-text.ts';
import { isLocalFailure } from '../../util/local-failure.ts';

/**
 * Turns every failure into `{error, message}` with the right status (docs/PROTOCOL.md §Status codes and error bodies). Errors
 * we did not anticipate become 500 `internal_error` and are logged; their text is not sent.
 */
export function errorHandler(log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next();
      if (ctx.status === 404 && ctx.body === undefined) {
        ctx.status = 404;
        ctx.body = { error: 'not_found', message: `no such endpoint: ${ctx.method} ${ctx.path}` };
      } else if (ctx.status === 405 && ctx.body === undefined) {
        ctx.body = { error: 'method_not_allowed', message: `${ctx.method} is not allowed on ${ctx.path}` };
      } else if (ctx.status === 501 && ctx.body === undefined) {
        // A method no route knows (PROPFIND, …): the router answers 501, which was plain text.
        ctx.body = { error: 'method_not_implemented', message: `${ctx.method} is not a method this server answers` };
      }
    } catch (error) {
      const answer = errorAnswer(error);
      if (!(error instanceof HttpError) && answer.status >= 500) log.error({ event: 'request_failed', method: ctx.method, path: ctx.path, err: error }, 'unexpected error while handling a request');
      ctx.status = answer.status;
      ctx.set(answer.headers);
      ctx.body = answer.body;
    }
  };
}

/** Longer messages are cut: none of ours comes near. */
const MAX_MESSAGE = 2000;

/**
 * The answer to a failure, for every transport of a request (HTTP here, the admin stream's
 * frames): an HttpError as it says, raw-body's errors as 413/400, anything else 500
 * `internal_error` without its text (the caller logs it). A message may carry text from the
 * network (a peer's refusal): it is cleaned and cut here, whatever made it (util/untrusted-text.ts).
 */
export function errorAnswer(error: unknown): { status: number; headers: Record<string, string>; body: { error: string; message: string } & Record<string, unknown> } {
  if (error instanceof HttpError) {
    return { status: error.status, headers: error.headers, body: { ...error.details, error: error.code, message: cleanText(error.message, MAX_MESSAGE) } };
  }
  const e = error as { type?: string; status?: number; expose?: boolean; message?: string; limit?: number };
  // raw-body's errors: body over the limit, aborted or malformed encodings.
  if (e?.type === 'entity.too.large') {
    return { status: 413, headers: {}, body: { error: 'body_too_large', message: `request body is larger than ${e.limit ?? 'the limit'} bytes` } };
  }
  if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500 && e.expose) {
    return { status: e.status, headers: {}, body: { error: 'bad_request', message: e.message ?? 'bad request' } };
  }
  // The disk or the database failed here: 503, asked again later (a failure of this server, not
  // of the request). Anything else unforeseen is 500 (a defect here, met on this request).
  if (isLocalFailure(error)) return { status: 503, headers: { 'retry-after': '30' }, body: { error: 'storage_failed', message: 'the server could not store or read this just now (its disk or database failed); try again later' } };
  return { status: 500, headers: {}, body: { error: 'internal_error', message: 'the server failed to handle this request; see its log' } };
}
