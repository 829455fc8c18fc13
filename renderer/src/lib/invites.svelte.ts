/** Pending room invitations, shared by the badge in the top bar and the lists (issue #16 item 8). */
import type { RoomInvite } from '../../../shared/contract/admin-operations.ts';
import { api, mode } from './api.ts';
import { latest } from './latest.ts';

export const invitations = $state({ list: [] as RoomInvite[] });

/**
 * The invitations of whoever uses this page. The node lists the owner every local user's (the
 * admin API is the owner's), so the owner's page keeps the owner's own: a member's invitation on
 * the owner's page read as the owner's, and its Accept joined the member without asking them (the
 * UI check of 2026-11-27). A member's page gets only the member's from the node.
 */
export function ownInvitations(invites: RoomInvite[], pageMode: 'owner' | 'member'): RoomInvite[] {
  return pageMode === 'owner' ? invites.filter((invite) => invite.invitee.startsWith('@owner:')) : invites;
}

const fetchInvites = latest(() => api.listInvites({}));
export async function loadInvitations(): Promise<void> {
  try {
    const answer = await fetchInvites();
    if (answer) invitations.list = ownInvitations(answer.value.invites, mode);
  } catch {
    // keep the last known list; the banner says when the node is unreachable
  }
}
