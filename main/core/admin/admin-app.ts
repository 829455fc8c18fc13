import Koa, { type ParameterizedContext } from 'koa';
import type { Logger } from 'pino';
import { ADMIN_API_PREFIX, type AdminHandlers } from '../../../shared/contract/admin-operations.ts';
import { errorHandler } from '../http/middleware/error-handler.ts';
import { trackInFlight, type InFlightRequests } from '../http/middleware/in-flight.ts';
import { requestLog } from '../http/middleware/request-log.ts';
import { canonicalPath } from '../http/middleware/canonical-path.ts';
import { adminRouter } from './admin-router.ts';
import type { NodeEvents } from '../node-events.ts';
import { serverSentEvents } from './routes-sse.ts';
import { LoginSessions, SESSION_COOKIE } from './sessions.ts';
import { staticUi } from './middleware/static-ui.ts';
import { bearerAuth } from './middleware/bearer-auth.ts';
import { LOOPBACK_HOST_NAMES, hostCheck } from './middleware/host-check.ts';
import { whoami } from './middleware/whoami.ts';
import { sessionState } from './middleware/session-state.ts';
import { adminStream } from './stream/stream.ts';
import { jsonBodies } from '../http/json-body.ts';

/**
 * The loopback admin API (docs/ARCHITECTURE.md §What outside tools rely on): Host header checked, bearer token,
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
  /** This run's nonce (node.json): answers GET /whoami without the token when given. */
  runNonce?: () => string;
  /** Prometheus text for `GET /metrics` (same bearer token as the API). */
  metrics?: () => Promise<{ contentType: string; body: string }>;
  /** The admin stream's limits (tests set small ones). */
  streamLimits?: { pingMs?: number; perStream?: number; perNode?: number; unreadPerNode?: number };
}): Koa {
  const allowedHosts = new Set([...LOOPBACK_HOST_NAMES, ...(deps.extraHosts ?? [])]);
  const app = new Koa();
  jsonBodies(app);
  app.silent = true;
  if (deps.inFlight) app.use(trackInFlight(deps.inFlight, (path) => path === `${ADMIN_API_PREFIX}/events`));
  app.use(errorHandler(deps.log));
  app.use(requestLog(deps.log, 'admin'));
  // One spelling per path before the auth check reads it (`/_PARACORD/admin/…` skipped auth).
  app.use(canonicalPath());
  app.use(hostCheck(() => allowedHosts));
  app.use(async (ctx, next) => {
    ctx.set('cache-control', 'no-store');
    ctx.set('x-content-type-options', 'nosniff');
    await next();
  });
  const sessions = deps.sessions;
  if (deps.runNonce) app.use(whoami(deps.runNonce));
  // Whether this browser is signed in, asked by the UI before any call (it answers 200 either way).
  if (sessions) app.use(sessionState(sessions, SESSION_COOKIE));
  // `use`: whether passing counts as a use of a browser session (slides its expiry on).
  const authWith = (use: boolean) =>
    bearerAuth(
      deps.token,
      sessions
        ? (ctx) => {
            const cookie = ctx.cookies.get(SESSION_COOKIE);
            const id = sessions.check(cookie, Date.now(), use);
            ctx.state.sessionId = id;
            return id !== undefined ? 'valid' : cookie ? 'ended' : 'none';
          }
        : undefined,
    );
  const auth = authWith(true);
  const quietAuth = authWith(false);
  // Before a group of a stream's requests: a use. Before a notification is passed on: the same
  // check, but not a use, or a page left open on a busy node would never expire.
  const reauthorize = (ctx: ParameterizedContext) => auth(ctx, async () => undefined);
  const recheck = (ctx: ParameterizedContext) => quietAuth(ctx, async () => undefined);
  // A browser session can end by time with nothing notified (its expiry): a stream opened with one
  // looks before each notification (the token does not expire).
  const live = (ctx: ParameterizedContext) => {
    const id = ctx.state.sessionId as string | undefined;
    return () => id === undefined || sessions === undefined || sessions.isLive(id);
  };
  const api = adminRouter(deps.handlers);
  if (deps.notifications) api.get('/events', serverSentEvents(deps.notifications, recheck, live));
  api.prefix(ADMIN_API_PREFIX);
  app.use(async (ctx, next) => {
    if (ctx.path === ADMIN_API_PREFIX || ctx.path.startsWith(`${ADMIN_API_PREFIX}/`)) return auth(ctx, next);
    return next();
  });
  // The admin contract over one WebSocket (stream/stream.ts), past the same checks as every request.
  app.use(adminStream({ handlers: deps.handlers, log: deps.log, inFlight: deps.inFlight, notifications: deps.notifications, reauthorize, recheck, live, limits: deps.streamLimits }));
  const metrics = deps.metrics;
  if (metrics) {
    app.use(async (ctx, next) => {
      if (ctx.path !== '/metrics') return next();
      if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
        ctx.status = 405;
        ctx.set('allow', 'GET, HEAD');
        ctx.body = { error: 'method_not_allowed', message: `${ctx.method} is not allowed on /metrics` };
        return;
      }
      return auth(ctx, async () => {
        const scraped = await metrics();
        ctx.type = scraped.contentType;
        ctx.body = scraped.body;
      });
    });
  }
  if (sessions) {
    // The one-time login link: trade the code for a session cookie, then open the UI.
    app.use(async (ctx, next) => {
      if (ctx.path !== '/login' || ctx.method !== 'GET') return next();
      // Already signed in in this browser (`serve --open` at every start, a second click on the
      // printed link): open the UI without making another session.
      if (sessions.isValid(ctx.cookies.get(SESSION_COOKIE))) {
        sessions.discardCode(String(ctx.query.code ?? ''));
        ctx.redirect('/');
        return;
      }
      const session = sessions.redeem(String(ctx.query.code ?? ''), ctx.get('user-agent') || null);
      if (!session) {
        ctx.status = 403;
        ctx.type = 'text/html';
        ctx.body = LOGIN_LINK_USED_PAGE;
        return;
      }
      ctx.cookies.set(SESSION_COOKIE, session, { httpOnly: true, sameSite: 'strict', path: '/', overwrite: true, maxAge: sessions.ttlMs });
      ctx.redirect('/');
    });
  }
  if (sessions) {
    // Signing out also forgets the cookie in this browser.
    app.use(async (ctx, next) => {
      await next();
      if (ctx.path === `${ADMIN_API_PREFIX}/logout` && ctx.method === 'POST' && ctx.status === 200) {
        ctx.cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'strict', path: '/', overwrite: true, maxAge: 0 });
      }
    });
  }
  if (deps.uiRoot) app.use(staticUi(deps.uiRoot, ADMIN_API_PREFIX));
  app.use(api.routes());
  app.use(api.allowedMethods());
  return app;
}

/** The answer to a used or expired login link (issue #16 item 15): styled, in words, with what to do. */
const LOGIN_LINK_USED_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Login link already used — Paracord</title>
<style>
:root { color-scheme: light dark; --bg: #f6f7f9; --fg: #1c2230; --muted: #4f5a6b; --card: #fff; --border: #dde2ea; --accent: #2f4ac0; }
@media (prefers-color-scheme: dark) { :root { --bg: #14171d; --fg: #e6e9ef; --muted: #aab3c2; --card: #1d222b; --border: #2f3642; --accent: #9db0ff; } }
body { margin: 0; background: var(--bg); color: var(--fg); font: 16px/1.5 system-ui, -apple-system, 'Segoe UI', sans-serif; }
main { max-width: 34rem; margin: 10vh auto; padding: 1.5rem; background: var(--card); border: 1px solid var(--border); border-radius: .75rem; }
h1 { font-size: 1.4rem; margin: 0 0 .75rem; }
code { background: color-mix(in srgb, var(--border) 60%, transparent); padding: .1rem .35rem; border-radius: .25rem; word-break: break-all; }
.muted { color: var(--muted); }
</style></head>
<body><main>
<h1>This login link was already used or has expired</h1>
<p>For your safety a login link opens the Paracord page only once, within 15 minutes.</p>
<p><strong>To get a new link:</strong> in the terminal on the computer that runs your node, type</p>
<p><code>npx paracord-node login</code></p>
<p>and open the link it prints. If you signed in from this browser before, open the page without the link: you stay signed in for 30 days.</p>
<p class="muted">Someone else used this link? Sign in with a new link and look at “Signed-in browsers” on the dashboard to sign them out.</p>
</main></body></html>`;
