import type { Middleware } from 'koa';

/**
 * Keeps the set of requests being handled, so a shutdown knows when nothing is left to finish
 * (and can say what it had to cut). `skip` leaves out long-lived requests such as event streams.
 */
export function trackInFlight(inFlight: Set<string>, skip: (path: string) => boolean = () => false): Middleware {
  let counter = 0;
  return async (ctx, next) => {
    if (skip(ctx.path)) return next();
    const entry = `${ctx.method} ${ctx.path} from ${ctx.get('x-paracord-origin') || ctx.ip} at ${new Date().toISOString()} #${++counter}`;
    inFlight.add(entry);
    try {
      await next();
    } finally {
      inFlight.delete(entry);
    }
  };
}
