/**
 * What members reach on the federation listener (issue #34, docs/ARCHITECTURE.md "Members"):
 * the member app at /app/ (the same built UI the admin listener serves) and its API under
 * /_paracord/client/v1 — a member's own routes (account-routes.ts) and the admin-contract
 * operations a member may use (operation-routes.ts). One middleware, mounted by the federation
 * app after its client-address, limits and path checks; every other path goes on to federation.
 */
import type { Context, Middleware, Next } from 'koa';
import { CLIENT_API_PREFIX } from '../../../shared/contract/admin-operations.ts';
import { sendUiFile } from '../admin/middleware/static-ui.ts';
import { accountRoutes, type AccountDeps } from './account-routes.ts';
import { operationRoutes, type OperationDeps } from './operation-routes.ts';
import { crossSiteCheck, memberSession } from './member-http.ts';

export interface MemberClientDeps extends AccountDeps, OperationDeps {
  /** Folder of the built UI; the app is not served without it. */
  uiRoot?: string;
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
  const api = compose([
    async (ctx, next) => {
      ctx.set('cache-control', 'no-store');
      ctx.set('x-content-type-options', 'nosniff');
      await next();
    },
    crossSiteCheck(deps.trustedProxies),
    memberSession(deps.members),
    ...[account.routes(), account.allowedMethods(), operations.routes(), operations.allowedMethods()].map((m) => m as unknown as Middleware),
  ]);
  const uiRoot = deps.uiRoot;
  return async (ctx, next) => {
    if (ctx.path === CLIENT_API_PREFIX || ctx.path.startsWith(`${CLIENT_API_PREFIX}/`)) return api(ctx, async () => undefined);
    if (!uiRoot || (ctx.method !== 'GET' && ctx.method !== 'HEAD')) return next();
    if (ctx.path === '/app') return ctx.redirect(MEMBER_APP_PATH);
    if (ctx.path.startsWith(MEMBER_APP_PATH)) return sendUiFile(ctx, uiRoot, ctx.path.slice(MEMBER_APP_PATH.length - 1));
    // The built UI names its scripts and styles at /assets/ (vite `base: '/'`): those files only.
    if (ctx.path.startsWith('/assets/')) return sendUiFile(ctx, uiRoot, ctx.path, false);
    return next();
  };
}
