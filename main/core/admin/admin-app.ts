import Koa from 'koa';
import type { Logger } from 'pino';
import { ADMIN_API_PREFIX, type AdminHandlers } from '../../../shared/contract/admin-operations.ts';
import { errorHandler } from '../http/middleware/error-handler.ts';
import { trackInFlight, type InFlightRequests } from '../http/middleware/in-flight.ts';
import { requestLog } from '../http/middleware/request-log.ts';
import { adminRouter } from './admin-router.ts';
import type { NodeEvents } from '../node-events.ts';
import { serverSentEvents } from './routes-sse.ts';
import { LoginSessions, SESSION_COOKIE } from './sessions.ts';
import { staticUi } from './middleware/static-ui.ts';
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
  sessions?: LoginSessions;
  /** Folder of the built UI; no UI is served without it. */
  uiRoot?: string;
  /** Requests being handled (live event streams excepted), for a clean shutdown. */
  inFlight?: InFlightRequests;
}): Koa {
  const allowedHosts = new Set([...LOOPBACK_HOST_NAMES, ...(deps.extraHosts ?? [])]);
  const app = new Koa();
  app.silent = true;
  if (deps.inFlight) app.use(trackInFlight(deps.inFlight, (path) => path === `${ADMIN_API_PREFIX}/events`));
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
  const sessions = deps.sessions;
  const auth = bearerAuth(deps.token, sessions ? (ctx) => sessions.isValid(ctx.cookies.get(SESSION_COOKIE)) : undefined);
  app.use(async (ctx, next) => {
    if (ctx.path === ADMIN_API_PREFIX || ctx.path.startsWith(`${ADMIN_API_PREFIX}/`)) return auth(ctx, next);
    return next();
  });
  if (sessions) {
    // The one-time login link: trade the code for a session cookie, then open the UI.
    app.use(async (ctx, next) => {
      if (ctx.path !== '/login' || ctx.method !== 'GET') return next();
      const session = sessions.redeem(String(ctx.query.code ?? ''));
      if (!session) {
        ctx.status = 403;
        ctx.type = 'text/html';
        ctx.body = '<!doctype html><meta charset="utf-8"><title>Paracord</title><p>This login link was already used or has expired. Run <code>paracord-node login</code> for a new one.</p>';
        return;
      }
      ctx.cookies.set(SESSION_COOKIE, session, { httpOnly: true, sameSite: 'strict', path: '/', overwrite: true, maxAge: 30 * 24 * 3600_000 });
      ctx.redirect('/');
    });
  }
  if (deps.uiRoot) app.use(staticUi(deps.uiRoot, ADMIN_API_PREFIX));
  app.use(api.routes());
  app.use(api.allowedMethods());
  return app;
}
