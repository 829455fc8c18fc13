/**
 * Rate limits of the members' API (issue #34, docs/SECURITY.md "Members"): every request under
 * /_paracord/client/v1 takes a token from its client address's bucket, and a signed-in one from
 * its member's bucket too; each frame of the members' stream does the same (a group of sends
 * counts one per message, as `sendMessages` over HTTP does). The buckets are the federation
 * listener's (trust/rate-limiter.ts): per address (an IPv6 client by its /64, the real client
 * behind a trusted proxy) and per member. Over either: 429 rate_limited with Retry-After, before
 * anything is read or done. The limits are far above what a person chatting does (a household
 * shares one address behind its router); the anonymous routes keep their own smaller ones
 * (account-routes.ts).
 */
import type { Middleware } from 'koa';
import type { AdminCallMeta, AdminHandlers, AdminInput, AdminOperationName } from '../../../shared/contract/admin-operations.ts';
import { addressKey } from '../http/client-address.ts';
import { tooManyRequests } from '../http/middleware/rate-limit.ts';
import type { RateLimit, RateLimiters } from '../trust/rate-limiter.ts';
import type { SignedInMember } from './member-http.ts';

export interface MemberRequestLimits {
  /** Each signed-in member, whatever its address or device. */
  perMember: RateLimit;
  /** Each client address, members and anonymous requests together. */
  perAddress: RateLimit;
  /**
   * Bytes of text (UTF-8) a member may send and edit in a day, held up (a bucket that fills over a
   * day). Requests count, not bytes: 10 long messages a second filled a friend's daily quota for
   * this whole server (50 MiB: docs/SECURITY.md item 5) in minutes, and everyone's messages to it
   * then waited for its next day (a helper's review). Default 8 MiB.
   */
  textBytesPerDay?: number;
}

export const DEFAULT_MEMBER_TEXT_BYTES_PER_DAY = 8 * 1024 * 1024;

/** 10 requests a second held up (a burst of 600): a person reading and writing makes a few a minute, an app opening a few dozen. */
export const DEFAULT_MEMBER_REQUEST_LIMITS: MemberRequestLimits = {
  perMember: { per_second: 10, burst: 600 },
  perAddress: { per_second: 40, burst: 2_000 },
};

/** What one request weighs: a batch of messages one per message, anything else one. */
export function memberCost(name: AdminOperationName, input: unknown): number {
  return name === 'sendMessages' ? Math.max(1, (input as AdminInput<'sendMessages'>).messages.length) : 1;
}

/** The text an operation sends on: message bodies (new and edited), in UTF-8 bytes; 0 for anything else. */
export function textBytes(name: AdminOperationName, input: unknown): number {
  if (name === 'sendMessage' || name === 'editMessage') return Buffer.byteLength((input as { body: string }).body, 'utf8');
  if (name === 'sendMessages') return (input as AdminInput<'sendMessages'>).messages.reduce((sum, m) => sum + Buffer.byteLength(m.body, 'utf8'), 0);
  return 0;
}

/** Takes the text of a checked request from the member's day of text; 429 rate_limited when it has none left. */
export function takeMemberText(limiter: RateLimiters, limits: MemberRequestLimits, userId: string, name: AdminOperationName, input: unknown): void {
  const bytes = textBytes(name, input);
  if (bytes === 0) return;
  const perDay = limits.textBytesPerDay ?? DEFAULT_MEMBER_TEXT_BYTES_PER_DAY;
  const taken = limiter.member.take(`text ${userId}`, { per_second: perDay / 86_400, burst: perDay }, Date.now(), bytes);
  if (!taken.ok) throw tooManyRequests(`you (${userId}) have sent as much text as a member may in a day`, taken.retryAfterMs);
}

/** Takes `cost` tokens from the address's bucket, then the member's (when signed in); 429 rate_limited when either is empty. */
export function takeMemberRequest(limiter: RateLimiters, limits: MemberRequestLimits, address: string, userId: string | undefined, cost = 1): void {
  const byAddress = limiter.address.take(`member api ip ${addressKey(address)}`, limits.perAddress, Date.now(), cost);
  if (!byAddress.ok) throw tooManyRequests(`too many requests from ${address}`, byAddress.retryAfterMs);
  if (userId === undefined) return;
  const byMember = limiter.member.take(userId, limits.perMember, Date.now(), cost);
  if (!byMember.ok) throw tooManyRequests(`too many requests from you (${userId})`, byMember.retryAfterMs);
}

/** The HTTP side: one token per request, before its body is read (after memberSession decided who is signed in). */
export function memberRequestLimit(limiter: RateLimiters | undefined, limits: MemberRequestLimits): Middleware {
  return async (ctx, next) => {
    if (limiter) takeMemberRequest(limiter, limits, ctx.ip, (ctx.state.member as SignedInMember | undefined)?.user_id);
    await next();
  };
}

/** The stream side: each handler call takes its weight first (`address`: the client's at the stream's set-up). */
export function limitedHandlers(handlers: AdminHandlers, limiter: RateLimiters | undefined, limits: MemberRequestLimits, address: string, userId: string): AdminHandlers {
  if (!limiter) return handlers;
  const limited: Record<string, (input: unknown, meta?: AdminCallMeta) => Promise<unknown>> = {};
  for (const name of Object.keys(handlers) as AdminOperationName[]) {
    const handler = handlers[name] as (input: unknown, meta?: AdminCallMeta) => Promise<unknown>;
    limited[name] = async (input, meta) => {
      takeMemberRequest(limiter, limits, address, userId, memberCost(name, input));
      takeMemberText(limiter, limits, userId, name, input);
      return handler(input, meta);
    };
  }
  return limited as unknown as AdminHandlers;
}
