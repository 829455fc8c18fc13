import type { Middleware } from 'koa';
import { ADMIN_SESSION_PATH } from '../../../../shared/contract/admin-operations.ts';
import type { LoginSessions } from '../sessions.ts';
import { getOnly } from './get-only.ts';

/** What `GET /session` answers: the request's own cookie is a valid session, an ended one, or absent. */
export type SessionState = 'valid' | 'ended' | 'none';

/**
 * GET /_paracord/admin/v1/session → {session} (issue #37 item 16). The UI asks it before anything
 * else, so a browser without a session shows the sign-in page and attempts nothing that must fail
 * (no admin call, no stream). It tells a request only about its own cookie; mounted after the
 * Host check and before the credential check.
 */
export function sessionState(sessions: LoginSessions, cookieName: string): Middleware {
  return getOnly(ADMIN_SESSION_PATH, 'session', (ctx) => {
    const cookie = ctx.cookies.get(cookieName);
    const state: SessionState = sessions.isValid(cookie) ? 'valid' : cookie ? 'ended' : 'none';
    ctx.body = { session: state };
  });
}
