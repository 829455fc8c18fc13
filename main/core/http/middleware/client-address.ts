import type { Middleware } from 'koa';
import type { TrustedProxies } from '../client-address.ts';

/**
 * Sets `ctx.ip` once, first thing, to the client's address (client-address.ts): the socket's
 * address, or behind a trusted proxy the address it forwarded. Every later check (rate
 * limits, logs) reads `ctx.ip` and so agrees on who the client is. Koa's own `app.proxy`
 * stays off: it would believe X-Forwarded-For from anybody.
 */
export function clientAddress(proxies: TrustedProxies): Middleware {
  return async (ctx, next) => {
    ctx.request.ip = proxies.clientAddress(ctx.req.socket.remoteAddress ?? '', ctx.req.headers['x-forwarded-for']);
    await next();
  };
}
