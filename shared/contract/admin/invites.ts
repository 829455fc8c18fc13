/**
 * Room invites a local user received.
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';
import { actingUser, type MemberUse } from './schemas.ts';

const asUser: MemberUse = { acting: 'user_id' };

export const inviteOperations = {
  listInvites: { method: 'GET', path: '/invites', input: z.strictObject({ ...actingUser }), member: asUser },
  declineInvite: {
    method: 'POST',
    path: '/invites/:invite_id/decline',
    member: asUser,
    input: z.strictObject({ invite_id: z.string().regex(/^inv_[A-Za-z0-9_-]{1,64}$/, 'not an invite id'), ...actingUser }),
  },
  acceptInvite: {
    method: 'POST',
    path: '/invites/:invite_id/accept',
    member: asUser,
    input: z.strictObject({ invite_id: z.string().regex(/^inv_[A-Za-z0-9_-]{1,64}$/, 'not an invite id'), ...actingUser }),
  },
} as const;

export interface InviteOutputs {
  declineInvite: { declined: boolean };
  listInvites: { invites: RoomInvite[] };
  /** `waiting_for_host`: the host could not be reached; the join waits at its mailbox and the room appears when the host answers (issue #32). */
  acceptInvite: { room_id: string; waiting_for_host?: boolean };
}

export interface RoomInvite {
  invite_id: string;
  room_id: string;
  room_name: string;
  host_server: string;
  inviter: string;
  invitee: string;
  expires_at: number;
  /** What became of the join our user sent for it; absent until they accept. */
  join?: InviteJoin;
}

/**
 * A join sent for an invite: `waiting` at `mailbox` (left there while the host is away, no answer
 * yet); `unanswered` (sent, and no answer that let the user in or refused: the host was not
 * reached, asked to wait (429, 5xx), or its answer was lost; accepting again asks again); `refused` by the host (`error`, one of our
 * admin error codes, and `message`, its words: shown behind "details"). `since`: when it was
 * sent, or refused.
 */
export interface InviteJoin {
  state: 'waiting' | 'unanswered' | 'refused';
  since: number;
  mailbox?: string;
  error?: string;
  message?: string;
}
