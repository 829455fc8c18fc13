/** Pending room invitations, shared by the badge in the top bar and the lists (issue #16 item 8). */
import type { RoomInvite } from '../../../shared/contract/admin-operations.ts';
import { api } from './api.ts';
import { latest } from './latest.ts';

export const invitations = $state({ list: [] as RoomInvite[] });

const fetchInvites = latest(() => api.listInvites({}));
export async function loadInvitations(): Promise<void> {
  try {
    const answer = await fetchInvites();
    if (answer) invitations.list = answer.value.invites;
  } catch {
    // keep the last known list; the banner says when the node is unreachable
  }
}
