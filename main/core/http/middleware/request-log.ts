import type { Middleware } from 'koa';
import type { Logger } from 'pino';
import { errorAnswer } from './error-handler.ts';

/** One structured log line per request: method, path (no query: it may carry tokens), status, time. */
export function requestLog(log: Logger, component: string): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    // A failure thrown past this middleware is answered by the error handler around it, after this
    // line is written: its status and code are the ones that answer will carry (not Koa's 404).
    let failed: ReturnType<typeof errorAnswer> | undefined;
    try {
      await next();
    } catch (error) {
      failed = errorAnswer(error);
      throw error;
    } finally {
      const status = failed?.status ?? ctx.status;
      const fields = {
        event: 'http_request',
        component,
        method: ctx.method,
        // A member link's token is a secret: it travels in bodies (POST /_paracord/client/v1/links/look-up);
        // a path an older app asked with (GET …/links/<token>) is still not logged whole.
        path: ctx.path.replace(/^(\/_paracord\/client\/v1\/links\/)(?!look-up$)[^/]+/, '$1…'),
        status,
        ms: Math.round((performance.now() - started) * 10) / 10,
        origin: (ctx.state as { origin?: string }).origin,
        error: failed ? failed.body.error : ctx.status >= 400 ? (ctx.body as { error?: string } | undefined)?.error : undefined,
      };
      if (status >= 500) log.error(fields, 'request');
      else log.debug(fields, 'request');
    }
  };
}
