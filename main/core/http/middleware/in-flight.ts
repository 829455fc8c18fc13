import type { Middleware } from 'koa';

/** The requests being handled, and how many have started in all (the node's activity, for idle detection). */
export class InFlightRequests extends Set<string> {
  started = 0;
}

/**
 * Keeps the set of requests being handled, so a shutdown knows when nothing is left to finish
 * (and can say what it had to cut). `skip` leaves out long-lived requests such as event streams.
 */
export function trackInFlight(inFlight: InFlightRequests, skip: (path: string) => boolean = () => false): Middleware {
  return async (ctx, next) => {
    if (skip(ctx.path)) return next();
    const entry = `${ctx.method} ${ctx.path} from ${ctx.get('x-paracord-origin') || ctx.ip} at ${new Date().toISOString()} #${++inFlight.started}`;
    inFlight.add(entry);
    try {
      await next();
    } finally {
      inFlight.delete(entry);
    }
  };
}
