import type { Middleware } from 'koa';

/**
 * A read-only endpoint at `path` (session, whoami): a GET gets `answer`, any other method a 405
 * naming GET, and other paths pass on.
 */
export function getOnly(path: string, name: string, answer: (ctx: Parameters<Middleware>[0]) => void): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== path) return next();
    if (ctx.method !== 'GET') {
      ctx.status = 405;
      ctx.set('allow', 'GET');
      ctx.body = { error: 'method_not_allowed', message: `${name} only answers GET` };
      return;
    }
    answer(ctx);
  };
}
