/**
 * What members reach on the federation listener (issue #34, docs/ARCHITECTURE.md "Members"):
 * the member app at /app/ (the same built UI the admin listener serves) and its API under
 * /_paracord/client/v1 — a member's own routes (account-routes.ts), the admin-contract
 * operations a member may use (operation-routes.ts), and the same over one WebSocket with the
 * notifications of the member's rooms (`/stream`, the admin stream's code: admin/stream/), all
 * under the members' rate limits (member-limits.ts). One middleware, mounted by the federation
 * app after its client-address, limits and path checks; every other path goes on to federation.
 */
import type { Context, Middleware, Next } from 'koa';
import { CLIENT_API_PREFIX, CLIENT_STREAM_PATH } from '../../../shared/contract/admin-operations.ts';
import { unauthorized } from '../errors.ts';
import type { InFlightRequests } from '../http/middleware/in-flight.ts';
import type { NodeEvents, NodeNotification } from '../node-events.ts';
import { adminStream } from '../admin/stream/stream.ts';
import { memberHandlers, memberSees } from './member-access.ts';
import { sendUiFile } from '../admin/middleware/static-ui.ts';
import { accountRoutes, type AccountDeps } from './account-routes.ts';
import { operationRoutes, type OperationDeps } from './operation-routes.ts';
import { DEFAULT_MEMBER_REQUEST_LIMITS, limitedHandlers, memberRequestLimit, takeMemberRequest } from './member-limits.ts';
import { crossSiteCheck, memberSession, requestHost, requireSameOrigin, sessionToken, signedIn } from './member-http.ts';

export interface MemberClientDeps extends AccountDeps, OperationDeps {
  /** Folder of the built UI; the app is not served without it. */
  uiRoot?: string;
  /** The node's notifications: the members' stream carries those of the member's rooms. */
  notifications?: NodeEvents;
  /** The federation listener's requests in flight (a clean shutdown waits for streams' requests too). */
  inFlight?: InFlightRequests;
}

export const MEMBER_APP_PATH = '/app/';

function compose(list: Middleware[]): Middleware {
  return (ctx: Context, next: Next) => {
    const run = (i: number): Promise<void> => (i === list.length ? next() : Promise.resolve(list[i]!(ctx, () => run(i + 1))));
    return run(0);
  };
}

export function memberClient(deps: MemberClientDeps): Middleware {
  const account = accountRoutes(deps);
  const operations = operationRoutes(deps);
  account.prefix(CLIENT_API_PREFIX);
  operations.prefix(CLIENT_API_PREFIX);
  /** `use`: whether this check counts as a use of the session (slides its expiry on). */
  const stillSignedIn = (ctx: Context, use = true): void => {
    const token = sessionToken(ctx, deps.trustedProxies);
    if (!token || !deps.members.session(token, requestHost(ctx), Date.now(), use)) throw unauthorized('not_signed_in', 'your session ended: sign in again');
  };
  const stream = adminStream({
    path: CLIENT_STREAM_PATH, handlers: deps.handlers, log: deps.log, inFlight: deps.inFlight, notifications: deps.notifications,
    // Before each group of requests: a disabled member, a new passphrase or a sign-out elsewhere ends the stream.
    reauthorize: async (ctx) => stillSignedIn(ctx),
    // Before a notification is passed on: not a use (a page left open would never expire).
    recheck: async (ctx) => stillSignedIn(ctx, false),
    viewer: (ctx) => {
      const { user_id, session_id } = signedIn(ctx);
      const limits = deps.memberLimits ?? DEFAULT_MEMBER_REQUEST_LIMITS;
      // Each frame takes from the member's and the address's buckets before it is read, as a request
      // over HTTP does before its body is (before: only a valid frame of a known operation took one,
      // so frames refused 400 or 404 were parsed and checked for free); a group of sends the rest.
      const handlers = limitedHandlers(memberHandlers(deps, user_id), deps.limiter, limits, ctx.ip, user_id);
      const limiter = deps.limiter;
      return {
        ...(limiter ? { admit: () => takeMemberRequest(limiter, limits, ctx.ip, user_id) } : {}),
        handlers: () => handlers,
        // Only the member's rooms and invitations (member-access.ts), and nothing once its session ended.
        sees: (n: NodeNotification) => deps.members.isLive(session_id) && memberSees(deps, user_id, n),
      };
    },
  });
  const api = compose([
    async (ctx, next) => {
      ctx.set('cache-control', 'no-store');
      ctx.set('x-content-type-options', 'nosniff');
      await next();
    },
    crossSiteCheck(deps.trustedProxies),
    memberSession(deps.members, deps.trustedProxies),
    // Every request (the stream's set-up too) per address, and per member when signed in (member-limits.ts).
    memberRequestLimit(deps.limiter, deps.memberLimits ?? DEFAULT_MEMBER_REQUEST_LIMITS),
    async (ctx, next) => {
      if (ctx.path !== CLIENT_STREAM_PATH) return next();
      // The opening is a GET, but the frames that follow send, edit and delete: the cross-site rule
      // of every state-changing request (the admin stream's own Origin check ignores the scheme).
      requireSameOrigin(ctx, deps.trustedProxies);
      signedIn(ctx);
      await stream(ctx, next);
    },
    ...[account.routes(), account.allowedMethods(), operations.routes(), operations.allowedMethods()].map((m) => m as unknown as Middleware),
  ]);
  const uiRoot = deps.uiRoot;
  return async (ctx, next) => {
    if (ctx.path === CLIENT_API_PREFIX || ctx.path.startsWith(`${CLIENT_API_PREFIX}/`)) return api(ctx, async () => undefined);
    if (!uiRoot || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    if (ctx.path === '/app') return ctx.redirect(MEMBER_APP_PATH);
    // A member who types the server's address without /app/ (a browser: it asks for a page) gets
    // the app, not the federation listener's JSON 404; anything else asking for / still gets that.
    if (ctx.path === '/' && (ctx.get('accept') ?? '').includes('text/html')) return ctx.redirect(MEMBER_APP_PATH);
    if (ctx.path.startsWith(MEMBER_APP_PATH)) return sendUiFile(ctx, uiRoot, ctx.path.slice(MEMBER_APP_PATH.length - 1));
    return next();
  };
}
