/**
 * A per-peer limit for one expensive endpoint (after verifySignedRequest, so the peer is known):
 * its own bucket among the node's per-server buckets (trust/rate-limiter.ts), separate from the
 * peer's general request allowance. An empty bucket answers 429 with Retry-After.
 */
import type { Middleware } from 'koa';
import { HttpError } from '../../errors.ts';
import type { RateLimit, RateLimiters } from '../../trust/rate-limiter.ts';
import type { SignedRequestState } from './verify-signed-request.ts';

export function perPeerLimit(limiter: RateLimiters | undefined, bucket: string, limit: RateLimit, what: string): Middleware {
  return async (ctx, next) => {
    const origin = (ctx.state as SignedRequestState).origin;
    const taken = limiter?.server.take(`${bucket} ${origin}`, limit);
    if (taken && !taken.ok) {
      const seconds = Math.max(1, Math.ceil(taken.retryAfterMs / 1000));
      throw new HttpError(429, 'rate_limited', `${what}: at most ${limit.burst} per ${Math.round(limit.burst / limit.per_second)} s per server; try again in ${seconds} s`, { 'retry-after': String(seconds) });
    }
    await next();
  };
}
