/**
 * Signing in: login links and browser sessions (issue #16 item 1).
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';

export const sessionOperations = {
  createLoginLink: { method: 'POST', path: '/login-links', input: z.strictObject({}), inSetup: true },
  /** Browser sessions (issue #16 item 1): the active ones, revoke one, sign this one out. */
  listSessions: { method: 'GET', path: '/sessions', input: z.strictObject({}), inSetup: true },
  revokeSession: { method: 'DELETE', path: '/sessions/:id', input: z.strictObject({ id: z.string().regex(/^ses_[A-Za-z0-9_-]{1,32}$/, 'not a session id') }), inSetup: true },
  logout: { method: 'POST', path: '/logout', input: z.strictObject({}), inSetup: true },
} as const;

export interface SessionOutputs {
  createLoginLink: { login_url: string };
  listSessions: { sessions: AdminSession[] };
  revokeSession: { revoked: boolean };
  logout: { signed_out: boolean };
}

export interface AdminSession {
  id: string;
  created_at: number;
  last_used_at: number;
  expires_at: number;
  user_agent: string | null;
  /** The session this request came with. */
  current: boolean;
}
