import Koa from 'koa';
import type { Logger } from 'pino';
import { ADMIN_API_PREFIX, type AdminHandlers } from '../../../shared/contract/admin-operations.ts';
import { errorHandler } from '../http/middleware/error-handler.ts';
import { requestLog } from '../http/middleware/request-log.ts';
import { adminRouter } from './admin-router.ts';
import type { NodeEvents } from '../node-events.ts';
import { serverSentEvents } from './routes-sse.ts';
import { bearerAuth } from './middleware/bearer-auth.ts';
import { LOOPBACK_HOST_NAMES, hostCheck } from './middleware/host-check.ts';

/**
 * The loopback admin API (CONTRACT.md "Admin API"): Host header checked, bearer token,
 * no CORS headers at all (a browser page from elsewhere cannot read the answers).
 */
export function createAdminApp(deps: {
  log: Logger;
  token: () => string;
  handlers: () => AdminHandlers;
  /** Extra Host names to answer to, when the owner binds the admin API to another address. */
  extraHosts?: readonly string[];
  notifications?: NodeEvents;
}): Koa {
  const allowedHosts = new Set([...LOOPBACK_HOST_NAMES, ...(deps.extraHosts ?? [])]);
  const app = new Koa();
  app.silent = true;
  app.use(errorHandler(deps.log));
  app.use(requestLog(deps.log, 'admin'));
  app.use(hostCheck(() => allowedHosts));
  app.use(async (ctx, next) => {
    ctx.set('cache-control', 'no-store');
    ctx.set('x-content-type-options', 'nosniff');
    await next();
  });
  const api = adminRouter(deps.handlers);
  if (deps.notifications) api.get('/events', serverSentEvents(deps.notifications));
  api.prefix(ADMIN_API_PREFIX);
  app.use(async (ctx, next) => {
    if (ctx.path === ADMIN_API_PREFIX || ctx.path.startsWith(`${ADMIN_API_PREFIX}/`)) {
      return bearerAuth(deps.token)(ctx, next);
    }
    return next();
  });
  app.use(api.routes());
  app.use(api.allowedMethods());
  return app;
}
