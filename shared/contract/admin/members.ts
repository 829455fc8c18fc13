/**
 * Members of this server (issue #34): the owner's side — one-time member links (to join, or to
 * set a new passphrase), the list of members, disabling and enabling one. The members' own API is
 * on the federation listener (main/core/client/, docs/ARCHITECTURE.md "Members").
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';
import { userId } from './schemas.ts';
import { isSafeDisplayName } from '../../identifiers.ts';

const linkId = z.string().regex(/^mlink_[A-Za-z0-9_-]{1,32}$/, 'not a member link id');

export const memberOperations = {
  createMemberInvite: {
    method: 'POST',
    path: '/members/invites',
    input: z.strictObject({
      /** Whom the link is for, to remember (shown in the list, never to the person). */
      note: z.string().trim().max(200).optional(),
      /** The member's display name once it joins with this link (it may change it); also the note when none is given. */
      display_name: z.string().trim().min(1).max(100).refine(isSafeDisplayName, 'must not contain control, bidi or invisible characters').optional(),
      /** How long the link works (default 7 days). */
      lifetime_seconds: z.number().int().min(60).max(30 * 24 * 3600).optional(),
      /** The contract's name of `lifetime_seconds` (either one; both must agree). */
      expires_in_seconds: z.number().int().min(60).max(30 * 24 * 3600).optional(),
    }),
  },
  listMemberInvites: { method: 'GET', path: '/members/invites', input: z.strictObject({}) },
  revokeMemberInvite: { method: 'DELETE', path: '/members/invites/:id', input: z.strictObject({ id: linkId }) },
  listMembers: { method: 'GET', path: '/members', input: z.strictObject({}) },
  /** Every session of the member ends at once; signing in is refused until enabled again. */
  disableMember: { method: 'POST', path: '/members/:user_id/disable', input: z.strictObject({ user_id: userId }) },
  enableMember: { method: 'POST', path: '/members/:user_id/enable', input: z.strictObject({ user_id: userId }) },
  /** A one-time link that sets a new passphrase for the member (its old one keeps working until then). */
  resetMember: {
    method: 'POST',
    path: '/members/:user_id/reset',
    input: z.strictObject({ user_id: userId, lifetime_seconds: z.number().int().min(60).max(30 * 24 * 3600).optional() }),
  },
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

export interface MemberLinkCreated {
  id: string;
  /** `<federation URL>/app/#/join/<token>` (or `#/reset/<token>`): the token is the one-time secret. */
  link: string;
  expires_at: number;
}

export interface MemberInvite {
  id: string;
  purpose: 'join' | 'reset';
  /** The member a reset link is for; null for a join link. */
  user_id: string | null;
  note: string | null;
  /** The display name a join link gives the member who joins with it (null: none). */
  display_name: string | null;
  created_at: number;
  expires_at: number;
  used_at: number | null;
  /** Who joined with it (or whose passphrase it set). */
  used_by: string | null;
  revoked_at: number | null;
  state: 'active' | 'used' | 'expired' | 'revoked';
}

export interface MemberView {
  user_id: string;
  display_name: string | null;
  disabled: boolean;
  created_at: number;
  last_seen_at: number | null;
  /** Sessions (signed-in devices) it has now. */
  sessions: number;
  /** Passkeys it can sign in with (how many; a reset link used removes them). */
  passkeys: number;
}

/**
 * One of a member's passkeys, as the client API shows it to its member (GET /me/passkeys; not an
 * admin operation: the owner does not see them). `id` is the WebAuthn credential id.
 */
export interface PasskeyView {
  id: string;
  name: string | null;
  /** The host name it was made for (a passkey works there only). */
  rp_id: string;
  created_at: number;
  last_used_at: number | null;
}
