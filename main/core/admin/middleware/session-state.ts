import type { Middleware } from 'koa';
import { ADMIN_SESSION_PATH } from '../../../../shared/contract/admin-operations.ts';
import type { LoginSessions } from '../sessions.ts';

/** What `GET /session` answers: the request's own cookie is a valid session, an ended one, or absent. */
export type SessionState = 'valid' | 'ended' | 'none';

/**
 * GET /_paracord/admin/v1/session → {session} (issue #37 item 16). The UI asks it before anything
 * else, so a browser without a session shows the sign-in page and attempts nothing that must fail
 * (no admin call, no stream). It tells a request only about its own cookie; mounted after the
 * Host check and before the credential check.
 */
export function sessionState(sessions: LoginSessions, cookieName: string): Middleware {
  return async (ctx, next) => {
    if (ctx.path !== ADMIN_SESSION_PATH) return next();
    if (ctx.method !== 'GET') {
      ctx.status = 405;
      ctx.set('allow', 'GET');
      ctx.body = { error: 'method_not_allowed', message: 'session only answers GET' };
      return;
    }
    const cookie = ctx.cookies.get(cookieName);
    const state: SessionState = sessions.isValid(cookie) ? 'valid' : cookie ? 'ended' : 'none';
    ctx.body = { session: state };
  };
}
