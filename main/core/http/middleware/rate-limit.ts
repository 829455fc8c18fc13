import type { Context, Middleware } from 'koa';
import { HttpError } from '../../errors.ts';
import type { RateLimit, RateLimiters } from '../../trust/rate-limiter.ts';
import { addressKey } from '../client-address.ts';

export function tooManyRequests(message: string, retryAfterMs: number): HttpError {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new HttpError(429, 'rate_limited', `${message}; retry in ${seconds} s`, { 'retry-after': String(seconds) });
}

/**
 * A token-bucket limit in front of a route, taken before the route reads anything (no body
 * is read for a refused request): one bucket per client address (`ctx.ip`, as the
 * client-address middleware decided; an IPv6 client by its /64), in the per-address bucket
 * cache. 429 with Retry-After.
 */
export function rateLimitByAddress(options: {
  limiter: RateLimiters;
  /** Names the buckets, so two limits never share one. */
  name: string;
  perAddress: RateLimit;
  onRefused?: (ctx: Context) => void;
}): Middleware {
  return async (ctx, next) => {
    const byAddress = options.limiter.address.take(`${options.name} ip ${addressKey(ctx.ip)}`, options.perAddress);
    if (!byAddress.ok) {
      options.onRefused?.(ctx);
      throw tooManyRequests(`too many ${options.name} requests from ${ctx.ip}`, byAddress.retryAfterMs);
    }
    await next();
  };
}

/**
 * One bucket for everybody together (bounds the work a sender with many addresses can cause),
 * in the global bucket cache: throws 429 with Retry-After when it is empty.
 */
export function takeOverall(limiter: RateLimiters, name: string, limit: RateLimit, onRefused?: () => void): void {
  const overall = limiter.global.take(`${name} overall`, limit);
  if (!overall.ok) {
    onRefused?.();
    throw tooManyRequests(`too many ${name} requests right now`, overall.retryAfterMs);
  }
}
