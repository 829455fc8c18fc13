/**
 * Moderation of a room (issue #20): remove or ban a member, unban, set a member's role. Each is
 * one room event sent as the acting local user (`actor`, the owner when absent); authorization
 * is the room's own (rooms/authorize.ts), decided by the host.
 */
import { serverOf } from '../../../../../shared/identifiers.ts';
import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import { notFound } from '../../../errors.ts';
import type { NodeContext } from '../../../node-context.ts';
import type { Running } from '../../../node/federation.ts';

export function moderationOperations(node: NodeContext, running: Running): Pick<AdminHandlers, 'removeMember' | 'listBans' | 'unbanMember' | 'setMemberRole'> {
  const roomOrThrow = (roomId: string): void => {
    if (!node.rooms.room(roomId)) throw notFound('unknown_room', `no room ${roomId} here`);
  };
  /** A user of this server must exist; a remote one must have been in the room (authorize checks). */
  const knownUser = (userId: string): void => {
    if (serverOf(userId) === node.identity()?.serverName && !node.users.get(userId)) throw notFound('unknown_user', `${userId} is not a user of this server`);
  };
  const withReason = (reason: string | undefined) => (reason ? { reason } : {});

  return {
    removeMember: async ({ room_id, user_id, reason, ban, actor }) => {
      roomOrThrow(room_id);
      const acting = running.rooms.localUser(actor);
      knownUser(user_id);
      const event = ban
        ? await running.rooms.send(room_id, 'm.member.ban', acting, user_id, { membership: 'ban', ...withReason(reason) })
        : await running.rooms.send(room_id, 'm.member.leave', acting, user_id, { membership: 'leave', ...withReason(reason) });
      return { event_id: event.event_id };
    },
    listBans: async ({ room_id }) => {
      roomOrThrow(room_id);
      return { bans: node.rooms.bans.list(room_id) };
    },
    unbanMember: async ({ room_id, user_id, reason, actor }) => {
      roomOrThrow(room_id);
      const acting = running.rooms.localUser(actor);
      knownUser(user_id);
      const event = await running.rooms.send(room_id, 'm.member.unban', acting, user_id, { membership: 'leave', ...withReason(reason) });
      return { event_id: event.event_id };
    },
    setMemberRole: async ({ room_id, user_id, role, actor }) => {
      roomOrThrow(room_id);
      const acting = running.rooms.localUser(actor);
      knownUser(user_id);
      const event = await running.rooms.send(room_id, 'm.room.role', acting, user_id, { role });
      return { event_id: event.event_id };
    },
  };
}
