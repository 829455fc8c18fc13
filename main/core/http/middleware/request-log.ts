import type { Middleware } from 'koa';
import type { Logger } from 'pino';

/** One structured log line per request: method, path (no query: it may carry tokens), status, time. */
export function requestLog(log: Logger, component: string): Middleware {
  return async (ctx, next) => {
    const started = performance.now();
    try {
      await next();
    } finally {
      const fields = {
        event: 'http_request',
        component,
        method: ctx.method,
        // A member link's token is a secret (GET /_paracord/client/v1/links/<token>): not logged.
        path: ctx.path.replace(/^(\/_paracord\/client\/v1\/links\/)[^/]+/, '$1…'),
        status: ctx.status,
        ms: Math.round((performance.now() - started) * 10) / 10,
        origin: (ctx.state as { origin?: string }).origin,
        error: ctx.status >= 400 ? (ctx.body as { error?: string } | undefined)?.error : undefined,
      };
      if (ctx.status >= 500) log.error(fields, 'request');
      else log.debug(fields, 'request');
    }
  };
}
