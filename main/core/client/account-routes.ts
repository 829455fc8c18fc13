/**
 * A member's own routes on the client API (issue #34, members-api in docs/ARCHITECTURE.md
 * "Members"): redeeming a member link (join, reset), signing in and out, their account (name,
 * passphrase, sessions; passkeys: passkey-routes.ts). Everything else a member does is an
 * admin-contract operation served by operation-routes.ts.
 */
import type { Context, Middleware } from 'koa';
import { z } from 'zod';
import type { Logger } from 'pino';
import Router from '../http/router.ts';
import { HttpError, badRequest } from '../errors.ts';
import { addressKey } from '../http/client-address.ts';
import type { TrustedProxies } from '../http/client-address.ts';
import { requestInput } from '../admin/admin-router.ts';
import { formatZodError } from '../admin/format-zod-error.ts';
import { warnLimited } from '../log/rate-limit.ts';
import { cleanText } from '../util/untrusted-text.ts';
import { rateLimitByAddress, takeOverall } from '../http/middleware/rate-limit.ts';
import type { RateLimit, RateLimiters } from '../trust/rate-limiter.ts';
import type { MemberDevice, MemberStore, SignedIn } from '../members/member-store.ts';
import { PASSPHRASE_MAX_CHARS } from '../members/passphrase.ts';
import { isSafeDisplayName } from '../../../shared/identifiers.ts';
import { passkeyRoutes } from './passkey-routes.ts';
import { clearSessionCookie, isSecure, presentedDevice, requestHost, setDeviceCookie, setSessionCookie, signedIn } from './member-http.ts';

export interface AccountDeps {
  log: Logger;
  members: MemberStore;
  serverName: () => string;
  mayCreateRooms: () => boolean;
  trustedProxies: TrustedProxies;
  /** The federation listener's rate-limit buckets: signing in, joining and link look-ups take from them. */
  limiter?: RateLimiters;
  /** Who is signed in changed (the dashboard's and the tray's count). */
  onSessionsChange?: () => void;
}

/**
 * Requests anybody may make (sign-in, join, reset, a link's look-up), per client address and for
 * everybody together: each sign-in costs an Argon2id hash. Failed sign-ins have their own, smaller
 * limits (members/sign-in-limiter.ts). The address's limit is taken first: a request it refuses
 * takes nothing from everybody's (one address alone could otherwise keep that empty and every
 * member out: red team, 2026-11-29). A link's look-up (a hash and one indexed read, no Argon2id)
 * has an overall bucket of its own, so look-ups cannot empty the one sign-ins need.
 */
const ANONYMOUS_PER_ADDRESS: RateLimit = { per_second: 0.5, burst: 30 };
const ANONYMOUS_OVERALL: RateLimit = { per_second: 10, burst: 100 };

const token = z.string().min(1).max(200);
const passphrase = z.string().min(1).max(PASSPHRASE_MAX_CHARS * 4);
const schemas = {
  join: z.strictObject({ token, localpart: z.string().min(1).max(64), passphrase }),
  reset: z.strictObject({ token, passphrase }),
  lookUp: z.strictObject({ token }),
  signIn: z.strictObject({ localpart: z.string().min(1).max(64), passphrase }),
  me: z.strictObject({ display_name: z.string().trim().max(100).refine(isSafeDisplayName, 'must not contain control, bidi or invisible characters').nullable() }),
  passphrase: z.strictObject({ current: passphrase, next: passphrase }),
  // A path's id checked as every other input is (a review, 2026-12-01: it went to SQL as it came).
  session: z.strictObject({ id: z.string().regex(/^msess_[A-Za-z0-9_-]{1,64}$/, 'must be a session id (msess_…)') }),
};

async function input<T extends z.ZodType>(ctx: Context, schema: T): Promise<z.output<T>> {
  const parsed = schema.safeParse(await requestInput(ctx, ctx.method.toLowerCase()));
  if (!parsed.success) throw badRequest('invalid_input', formatZodError(parsed.error));
  return parsed.data;
}

/** A link that cannot be used (unknown, used, expired, revoked) is one answer, 404 link_unusable, saying why. */
const UNUSABLE = new Set(['invalid_link', 'link_used', 'link_expired', 'link_revoked']);
async function withLink<T>(work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof HttpError && UNUSABLE.has(error.code)) throw new HttpError(404, 'link_unusable', error.message);
    throw error;
  }
}

export function accountRoutes(deps: AccountDeps): Router {
  const { members, trustedProxies, log } = deps;
  const router = new Router();
  const limiter = deps.limiter;
  const anonymousAs = (overall: string): Middleware => {
    if (!limiter) return async (_ctx, next) => next();
    const byAddress = rateLimitByAddress({ limiter, name: 'member sign-in', perAddress: ANONYMOUS_PER_ADDRESS });
    return (ctx, next) => byAddress(ctx, () => {
      takeOverall(limiter, overall, ANONYMOUS_OVERALL);
      return next();
    });
  };
  const anonymous = anonymousAs('member sign-in');
  const lookUp = anonymousAs('member link look-up');
  const changed = () => deps.onSessionsChange?.();
  const device = (ctx: Context): MemberDevice & { address: string } => {
    const knownDevice = presentedDevice(ctx, trustedProxies);
    return { host: requestHost(ctx), address: addressKey(ctx.ip), ...(ctx.get('user-agent') ? { userAgent: ctx.get('user-agent') } : {}), ...(knownDevice ? { knownDevice } : {}) };
  };
  const signedInAs = (ctx: Context, session: SignedIn) => {
    setSessionCookie(ctx, trustedProxies, session.token);
    setDeviceCookie(ctx, trustedProxies, session.deviceToken);
    ctx.body = { user_id: session.user_id };
    changed();
  };
  const me = (ctx: Context) => {
    const { user_id } = signedIn(ctx);
    const member = members.list().find((m) => m.user_id === user_id);
    return { user_id, display_name: member?.display_name ?? null, server_name: deps.serverName(), may_create_rooms: deps.mayCreateRooms(), secure: isSecure(ctx, trustedProxies) };
  };

  // The token in the body, not the path: a path is in every access log on its way (a reverse
  // proxy's), and an unused reset link read there took the account (a red-team review, 2026-11-30).
  router.post('/links/look-up', lookUp, async (ctx) => {
    const body = await input(ctx, schemas.lookUp);
    const link = await withLink(() => members.inspectLink(body.token));
    ctx.body = { purpose: link.purpose, user_id: link.user_id, server_name: deps.serverName() };
  });
  router.post('/join', anonymous, async (ctx) => {
    const body = await input(ctx, schemas.join);
    const session = await withLink(() => members.join(body.token, body.localpart, body.passphrase, device(ctx)));
    log.info({ event: 'member_joined', user_id: session.user_id }, 'a new member joined with a member link');
    signedInAs(ctx, session);
  });
  router.post('/reset', anonymous, async (ctx) => {
    const body = await input(ctx, schemas.reset);
    const session = await withLink(async () => {
      const link = members.inspectLink(body.token);
      if (link.purpose !== 'reset' || !link.user_id) throw badRequest('wrong_link', 'this link makes a new member; it does not set a passphrase');
      return members.changePassphrase(link.user_id, { token: body.token }, body.passphrase, device(ctx));
    });
    log.info({ event: 'member_passphrase_reset', user_id: session.user_id }, 'a member set a new passphrase with a reset link; its other sessions ended');
    signedInAs(ctx, session);
  });
  router.post('/sign-in', anonymous, async (ctx) => {
    const body = await input(ctx, schemas.signIn);
    try {
      signedInAs(ctx, await members.signIn(body.localpart, body.passphrase, device(ctx)));
    } catch (error) {
      if (!(error instanceof HttpError)) throw error;
      // Logged for the owner, a few lines a minute at most (guessers from many addresses write no more).
      // The name only when it is a member's: a passphrase typed into the name field (a common slip)
      // was written to the owner's log (a review, 2026-11-30).
      const localpart = members.isMemberName(body.localpart) ? cleanText(body.localpart.toLowerCase(), 64) : null;
      warnLimited(log, 'member_sign_in_failed', { event: 'member_sign_in_failed', localpart, address: ctx.ip, limited: error.status === 429 }, 'a member sign-in failed');
      if (error.code === 'sign_in_failed') throw new HttpError(401, 'bad_credentials', error.message);
      throw error;
    }
  });
  router.post('/sign-out', async (ctx) => {
    const member = ctx.state.member as { user_id: string; session_id: string } | undefined;
    if (member) members.endSession(member.user_id, member.session_id);
    clearSessionCookie(ctx, trustedProxies);
    ctx.body = {};
    changed();
  });
  router.get('/me', async (ctx) => {
    ctx.body = me(ctx);
  });
  router.put('/me', async (ctx) => {
    const { user_id } = signedIn(ctx);
    const body = await input(ctx, schemas.me);
    members.setDisplayName(user_id, body.display_name === '' ? null : body.display_name);
    ctx.body = me(ctx);
  });
  router.post('/me/passphrase', async (ctx) => {
    const { user_id } = signedIn(ctx);
    const body = await input(ctx, schemas.passphrase);
    const session = await members.changePassphrase(user_id, { current: body.current }, body.next, device(ctx));
    log.info({ event: 'member_passphrase_changed', user_id }, 'a member changed its passphrase; its other sessions ended');
    setSessionCookie(ctx, trustedProxies, session.token);
    setDeviceCookie(ctx, trustedProxies, session.deviceToken);
    ctx.body = {};
    changed();
  });
  router.get('/me/sessions', async (ctx) => {
    const { user_id, session_id } = signedIn(ctx);
    ctx.body = {
      sessions: members.sessionsOf(user_id).map((s) => ({ id: s.id, created_at: s.created_at, last_seen_at: s.last_seen_at, user_agent: s.user_agent, current: s.id === session_id })),
    };
  });
  router.delete('/me/sessions/:id', async (ctx) => {
    const { user_id, session_id } = signedIn(ctx);
    const { id } = await input(ctx, schemas.session);
    // Another device's session (a lost phone): that device is forgotten too. Its own: a sign-out.
    members.endSession(user_id, id, { forgetDevice: id !== session_id });
    if (id === session_id) clearSessionCookie(ctx, trustedProxies);
    ctx.body = {};
    changed();
  });
  passkeyRoutes(router, { log, members, trustedProxies, input, anonymous, device, signedInAs });
  return router;
}
