import type { Context, Middleware } from 'koa';
import { HttpError } from '../../errors.ts';
import type { RateLimit, RateLimiter } from '../../trust/rate-limiter.ts';
import { addressKey } from '../client-address.ts';

export function tooManyRequests(message: string, retryAfterMs: number): HttpError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new HttpError(429, 'rate_limited', `${message}; retry in ${seconds} s`, { 'retry-after': String(seconds) });
}

/**
 * A token-bucket limit in front of a route, taken before the route reads anything (no body
 * is read for a refused request): one bucket per client address (`ctx.ip`, as the
 * client-address middleware decided; an IPv6 client by its /64), then one for everybody
 * (bounds the work a sender with many addresses can cause). 429 with Retry-After.
 */
export function rateLimitByAddress(options: {
  limiter: RateLimiter;
  /** Names the buckets, so two limits never share one. */
  name: string;
  perAddress: RateLimit;
  overall?: RateLimit;
  onRefused?: (ctx: Context, reason: 'address' | 'overall') => void;
}): Middleware {
  return async (ctx, next) => {
    const byAddress = options.limiter.take(`${options.name} ip ${addressKey(ctx.ip)}`, options.perAddress);
    if (!byAddress.ok) {
      options.onRefused?.(ctx, 'address');
      throw tooManyRequests(`too many ${options.name} requests from ${ctx.ip}`, byAddress.retryAfterMs);
    }
    if (options.overall) {
      const overall = options.limiter.take(`${options.name} overall`, options.overall);
      if (!overall.ok) {
        options.onRefused?.(ctx, 'overall');
        throw tooManyRequests(`too many ${options.name} requests right now`, overall.retryAfterMs);
      }
    }
    await next();
  };
}
