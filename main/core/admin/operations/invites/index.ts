import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import { notFound } from '../../../errors.ts';
import type { NodeContext } from '../../../node-context.ts';
import type { Running } from '../../../node/federation.ts';
import { inviteJoin } from '../../../rooms/room-invites.ts';

export function inviteOperations(node: NodeContext, running: Running): Pick<AdminHandlers, 'listInvites' | 'acceptInvite' | 'declineInvite'> {
  return {
    listInvites: async ({ user_id }) => ({
      invites: running.rooms
        .invites(user_id)
        // An expired invite whose join was sent stays: accepting again retries that join.
        .filter((i) => i.expires_at > Date.now() || i.join_sent_at !== null)
        .map((i) => {
          const join = inviteJoin(i);
          return { invite_id: i.invite_id, room_id: i.room_id, room_name: i.room_name, host_server: i.host_server, inviter: i.inviter, invitee: i.invitee, expires_at: i.expires_at, ...(join ? { join } : {}) };
        }),
    }),
    acceptInvite: async ({ invite_id, user_id }) => running.rooms.acceptInvite(invite_id, user_id),
    // Declining is local: the invite leaves the list; the host's invite lapses at its expiry.
    declineInvite: async ({ invite_id, user_id }) => {
      const userId = running.rooms.localUser(user_id);
      const row = node.db.prepare<[string], { invitee: string; room_id: string }>("SELECT invitee, room_id FROM room_invites WHERE invite_id = ? AND state = 'pending'").get(invite_id);
      if (!row || (user_id !== undefined && row.invitee !== userId)) throw notFound('unknown_invite', `no pending invite ${invite_id}`);
      node.db.prepare("UPDATE room_invites SET state = 'declined' WHERE invite_id = ?").run(invite_id);
      node.notifications.notify({ type: 'invite', invite_id, room_id: row.room_id, invitee: row.invitee });
      return { declined: true };
    },
  };
}
