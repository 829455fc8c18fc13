import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import type { NodeContext } from '../../../node-context.ts';

export function inviteOperations(node: NodeContext): Pick<AdminHandlers, 'listInvites' | 'acceptInvite'> {
  return {
    listInvites: async ({ user_id }) => ({
      invites: node
        .roomService()
        .invites(user_id)
        .filter((i) => i.expires_at > Date.now())
        .map((i) => ({ invite_id: i.invite_id, room_id: i.room_id, room_name: i.room_name, host_server: i.host_server, inviter: i.inviter, invitee: i.invitee, expires_at: i.expires_at })),
    }),
    acceptInvite: async ({ invite_id, user_id }) => node.roomService().acceptInvite(invite_id, user_id),
  };
}
