import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import type { LoginSessions } from '../../sessions.ts';

/** Browser sessions (issue #16 item 1): list, revoke one, sign the current one out. */
export function sessionOperations(sessions: LoginSessions): Pick<AdminHandlers, 'listSessions' | 'revokeSession' | 'logout'> {
  return {
    listSessions: async (_input, meta) => ({ sessions: sessions.list().map((s) => ({ ...s, current: s.id === meta?.session_id })) }),
    revokeSession: async ({ id }) => ({ revoked: sessions.revoke(id) }),
    // Over the bearer token or IPC there is no session to end: signed_out says so.
    logout: async (_input, meta) => ({ signed_out: meta?.session_id ? sessions.revoke(meta.session_id) : false }),
  };
}
