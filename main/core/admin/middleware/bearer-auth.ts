import { timingSafeEqual } from 'node:crypto';
import type { Middleware } from 'koa';
import { unauthorized } from '../../errors.ts';

/**
 * `Authorization: Bearer <DIR/admin.token>`, compared in constant time — or, for the browser UI,
 * a session cookie; a cookie request that changes anything must also carry the
 * `X-Paracord-Request` header, which another site's page cannot send (no CORS here).
 * `session` says whether the request's cookie is a valid session, one that has ended (expired,
 * revoked, signed out: a 401 `session_ended`, so the UI can say so), or no session cookie at all.
 */
export function bearerAuth(token: () => string, session?: (ctx: Parameters<Middleware>[0]) => 'valid' | 'ended' | 'none'): Middleware {
  return async (ctx, next) => {
    const header = ctx.get('authorization');
    const cookie = header ? 'none' : (session?.(ctx) ?? 'none');
    if (cookie === 'valid') {
      if (ctx.method !== 'GET' && ctx.get('x-paracord-request') !== '1') {
        throw unauthorized('missing_request_header', 'browser requests that change something need the X-Paracord-Request: 1 header');
      }
      return next();
    }
    if (cookie === 'ended') {
      throw unauthorized('session_ended', 'this browser session has expired or was signed out: open a new login link (run `paracord-node login`)');
    }
    const match = /^Bearer (\S+)$/i.exec(header);
    if (!match) throw unauthorized('missing_token', 'admin API needs "Authorization: Bearer <token>" (the token is in DATA_DIR/admin.token), or a browser session (open the login link)');
    const given = Buffer.from(match[1]!);
    const expected = Buffer.from(token());
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw unauthorized('invalid_token', 'admin token is not valid');
    }
    await next();
  };
}
