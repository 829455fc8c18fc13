/**
 * Members (issue #34): the people of this server who sign in from their own devices. The owner
 * invites them with one-time links, lists them, disables or re-enables one, and resets a
 * passphrase with a new one-time link (the members' own
 * API is served on the federation listener under `/_paracord/client/v1`).
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';

const memberLinkId = z.string().regex(/^mlink_[A-Za-z0-9_-]{1,32}$/, 'not a member link id');
const memberUserId = z.string().min(3).max(255).regex(/^@[^:\s]+:\S+$/, 'not a user id');

export const memberOperations = {
  /** A one-time link that lets a person choose a user name and a passphrase here. */
  createMemberInvite: {
    method: 'POST',
    path: '/members/invites',
    input: z.strictObject({
      note: z.string().max(200).optional(),
      lifetime_seconds: z.number().int().min(60).max(90 * 24 * 3600).optional(),
    }),
  },
  listMemberInvites: { method: 'GET', path: '/members/invites', input: z.strictObject({}) },
  revokeMemberInvite: { method: 'DELETE', path: '/members/invites/:id', input: z.strictObject({ id: memberLinkId }) },
  listMembers: { method: 'GET', path: '/members', input: z.strictObject({}) },
  /** Every session of the member ends at once. */
  disableMember: { method: 'POST', path: '/members/:user_id/disable', input: z.strictObject({ user_id: memberUserId }) },
  enableMember: { method: 'POST', path: '/members/:user_id/enable', input: z.strictObject({ user_id: memberUserId }) },
  /** A one-time link to choose a new passphrase (the old one keeps working until it is used). */
  resetMember: { method: 'POST', path: '/members/:user_id/reset', input: z.strictObject({ user_id: memberUserId }) },
} as const;

export interface MemberOutputs {
  createMemberInvite: MemberLinkCreated;
  listMemberInvites: { invites: MemberInvite[] };
  revokeMemberInvite: MemberInvite;
  listMembers: { members: MemberView[] };
  disableMember: MemberView;
  enableMember: MemberView;
  resetMember: MemberLinkCreated;
}

/** A new one-time link: `<federation URL>/app/#/join/<token>` (or `#/reset/<token>`); its token is shown only now. */
export interface MemberLinkCreated {
  id: string;
  link: string;
  expires_at: number;
}

export interface MemberInvite {
  id: string;
  purpose: 'join' | 'reset';
  /** For a reset link, whose passphrase it sets. */
  user_id: string | null;
  note: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  revoked_at: number | null;
}

export interface MemberView {
  user_id: string;
  display_name: string | null;
  disabled: boolean;
  created_at: number;
  last_seen_at: number | null;
  /** Signed-in devices right now. */
  sessions: number;
}
