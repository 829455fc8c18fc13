/**
 * Rate limits of the members' API (issue #34, docs/SECURITY.md "Members"): every request under
 * /_paracord/client/v1 takes a token from its client address's bucket, and a signed-in one from
 * its member's bucket too; each frame of the members' stream does the same before it is read (a
 * group of sends counts one per message, as `sendMessages` over HTTP does). The buckets are the federation
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
import { HttpError } from '../errors.ts';
import type { RateLimit, RateLimiters } from '../trust/rate-limiter.ts';
import type { SignedInMember } from './member-http.ts';

export interface MemberRequestLimits {
  /** Each signed-in member, whatever its address or device. */
  perMember: RateLimit;
  /** Each client address, members and anonymous requests together. */
  perAddress: RateLimit;
  /**
   * What a member's sends may cost friends' servers in a day (estimated as they charge our server
   * against its daily storage quota, docs/SECURITY.md item 5: each event's overhead and its body
   * several times over), held up in a bucket that fills over a day, at most a quarter of it at
   * once. Requests are not bytes: ten long messages a second filled a friend's quota for this
   * whole server (50 MiB) in minutes, and everyone's messages to it waited for its next day (a
   * helper's review). Default 10 MiB.
   */
  sendBytesPerDay?: number;
}

export const DEFAULT_MEMBER_SEND_BYTES_PER_DAY = 10 * 1024 * 1024;
/** What a friend's server charges an event beyond its body (ids, signatures, indexes: storage-quota.ts), about. */
const EVENT_COST_BYTES = 1_600;
/** A body is charged about five times (the content, the search index three times, a quarter more). */
const BODY_COST_FACTOR = 5;

const bodyBytes = (body: unknown) => (typeof body === 'string' ? Buffer.byteLength(body, 'utf8') : 0);

/** 10 requests a second held up (a burst of 600): a person reading and writing makes a few a minute, an app opening a few dozen. */
export const DEFAULT_MEMBER_REQUEST_LIMITS: MemberRequestLimits = {
  perMember: { per_second: 10, burst: 600 },
  perAddress: { per_second: 40, burst: 2_000 },
};

/** What one request weighs: a batch of messages one per message, anything else one. */
export function memberCost(name: AdminOperationName, input: unknown): number {
  return name === 'sendMessages' ? Math.max(1, (input as AdminInput<'sendMessages'>).messages.length) : 1;
}

/** What an operation's events may cost a friend's server (0 for one that makes none). */
export function sendCost(name: AdminOperationName, input: unknown, sentBefore: (txnId: string) => boolean = () => false): number {
  const event = (body?: unknown) => EVENT_COST_BYTES + BODY_COST_FACTOR * bodyBytes(body);
  // A message sent again with a txn_id already stored makes no event (rooms/client-txns.ts): it costs nothing again.
  const message = (m: { body?: unknown; txn_id?: string | undefined }) => (m.txn_id !== undefined && sentBefore(m.txn_id) ? 0 : event(m.body));
  switch (name) {
    case 'sendMessage':
      return message(input as AdminInput<'sendMessage'>);
    case 'editMessage':
      return event((input as { body?: unknown }).body);
    case 'sendMessages':
      return (input as AdminInput<'sendMessages'>).messages.reduce((sum, m) => sum + message(m), 0);
    case 'createRoom':
      return 2 * event((input as { name?: unknown }).name);
    case 'deleteMessage': case 'addReaction': case 'removeReaction': case 'inviteToRoom': case 'leaveRoom':
    case 'removeMember': case 'unbanMember': case 'setMemberRole':
      return event();
    default:
      return 0;
  }
}

/**
 * Takes what a checked and allowed operation may cost friends' servers from the member's day
 * (client/member-access.ts callAsMember, after its checks: a refused one costs nothing); 429
 * `send_limit_reached` with Retry-After when the day is spent.
 */
export function takeMemberSend(limiter: RateLimiters, limits: MemberRequestLimits, userId: string, name: AdminOperationName, input: unknown, sentBefore?: (txnId: string) => boolean): void {
  const cost = sendCost(name, input, sentBefore);
  if (cost === 0) return;
  const perDay = limits.sendBytesPerDay ?? DEFAULT_MEMBER_SEND_BYTES_PER_DAY;
  const taken = limiter.member.take(`send ${userId}`, { per_second: perDay / 86_400, burst: Math.max(1, Math.floor(perDay / 4)) }, Date.now(), cost);
  if (!taken.ok) {
    const seconds = Math.ceil(taken.retryAfterMs / 1000);
    throw new HttpError(429, 'send_limit_reached', `you (${userId}) have sent as much as a member may for now; try again in ${seconds} s`, { 'retry-after': String(seconds) });
  }
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

/**
 * The stream side: each handler call takes its weight first (`address`: the client's at the
 * stream's set-up), less what its frames took as they came in (StreamViewer.admit: one each; a
 * group of sends is one call for as many frames, `meta.frames`).
 */
export function limitedHandlers(handlers: AdminHandlers, limiter: RateLimiters | undefined, limits: MemberRequestLimits, address: string, userId: string): AdminHandlers {
  if (!limiter) return handlers;
  const limited: Record<string, (input: unknown, meta?: AdminCallMeta) => Promise<unknown>> = {};
  for (const name of Object.keys(handlers) as AdminOperationName[]) {
    const handler = handlers[name] as (input: unknown, meta?: AdminCallMeta) => Promise<unknown>;
    limited[name] = async (input, meta) => {
      const rest = memberCost(name, input) - (meta?.frames ?? 0);
      if (rest > 0) takeMemberRequest(limiter, limits, address, userId, rest);
      return handler(input, meta);
    };
  }
  return limited as unknown as AdminHandlers;
}
