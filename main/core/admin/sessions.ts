/**
 * How the browser UI gets in (the Syncthing model): the node prints a one-time login URL; opening
 * it trades the code for a session cookie (HttpOnly, SameSite=Strict). Codes are single use and
 * expire after 15 minutes; sessions live in memory, for 30 days or until the node restarts.
 * `paracord-node login` prints a fresh URL at any time.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';

const CODE_TTL_MS = 15 * 60_000;
const SESSION_TTL_MS = 30 * 24 * 3600_000;
export const SESSION_COOKIE = 'paracord_session';

export class LoginSessions {
  private readonly codes = new Map<string, number>();
  private readonly sessions = new Map<string, number>();

  newLoginCode(now = Date.now()): string {
    for (const [code, expires] of this.codes) if (expires <= now) this.codes.delete(code);
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, now + CODE_TTL_MS);
    return code;
  }

  /** Trades a login code for a session id; undefined when the code is unknown, used or expired. */
  redeem(code: string, now = Date.now()): string | undefined {
    const expires = this.codes.get(code);
    if (expires === undefined) return undefined;
    this.codes.delete(code);
    if (expires <= now) return undefined;
    const session = randomBytes(32).toString('base64url');
    this.sessions.set(session, now + SESSION_TTL_MS);
    return session;
  }

  isValid(session: string | undefined, now = Date.now()): boolean {
    if (!session) return false;
    for (const [id, expires] of this.sessions) {
      if (id.length === session.length && timingSafeEqual(Buffer.from(id), Buffer.from(session))) return expires > now;
    }
    return false;
  }

  end(session: string | undefined): void {
    if (session) this.sessions.delete(session);
  }
}
