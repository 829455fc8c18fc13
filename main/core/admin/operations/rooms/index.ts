import type { AdminHandlers, RoomMember, RoomSummary } from '../../../../../shared/contract/admin-operations.ts';
import { notFound } from '../../../errors.ts';
import type { NodeContext } from '../../../node-context.ts';
import type { Running } from '../../../node/federation.ts';
import type { RoomRow } from '../../../rooms/room-store.ts';
import { roomWaits } from './room-waits.ts';

type RoomOperationNames =
  | 'listRooms' | 'createRoom' | 'getRoom' | 'listMessages' | 'sendMessage' | 'sendMessages' | 'editMessage'
  | 'deleteMessage' | 'addReaction' | 'removeReaction' | 'inviteToRoom' | 'leaveRoom' | 'joinRemoteRoom';

export function roomOperations(node: NodeContext, running: Running): Pick<AdminHandlers, RoomOperationNames> {

  const summary = (room: RoomRow, userId: string): RoomSummary => {
    const member = node.rooms.member(room.room_id, userId);
    // Unread and mentions (issue #20 item 4): after the user's join and read marker.
    const counts = member?.membership === 'join'
      ? node.rooms.readMarkers.counts(room.room_id, userId, { depth: member.event_depth, origin_server: member.event_origin, event_id: member.event_id })
      : { unread: 0, mentions: 0 };
    const waits = roomWaits(node, running, room.room_id);
    const ended = member?.membership === 'leave' ? node.rooms.membershipEnd(room.room_id, userId) : null;
    const banned = member?.membership === 'leave' && node.rooms.bans.isBanned(room.room_id, userId);
    return {
      room_id: room.room_id,
      name: room.name,
      host_server: room.host_server,
      membership: banned ? 'ban' : (member?.membership ?? null),
      ...(ended ? { left: { by: ended.by, reason: ended.reason, at: ended.at } } : {}),
      joined_members: node.rooms.members(room.room_id).filter((m) => m.membership === 'join').length,
      ...counts,
      ...(waits.length > 0 ? { waits } : {}),
    };
  };
  const roomMembers = (roomId: string): RoomMember[] => {
    const members = node.rooms.members(roomId);
    const names = node.rooms.displayNames(roomId, members.map((m) => m.user_id));
    return members.map((m) => {
      const name = names.get(m.user_id);
      return { user_id: m.user_id, ...(name !== undefined ? { display_name: name } : {}), membership: m.membership, role: m.role };
    });
  };
  const roomOrThrow = (roomId: string): RoomRow => {
    const room = node.rooms.room(roomId);
    if (!room) throw notFound('unknown_room', `no room ${roomId} here`);
    return room;
  };

  return {
    listRooms: async ({ user_id }, meta) => {
      const userId = running.rooms.localUser(user_id);
      const sees = meta?.rooms;
      return { rooms: (sees ? node.rooms.rooms().filter((r) => sees(r.room_id)) : node.rooms.rooms()).map((r) => summary(r, userId)) };
    },
    createRoom: async ({ name, user_id }) => ({ room_id: await running.rooms.createRoom(name, running.rooms.localUser(user_id)) }),
    getRoom: async ({ room_id, user_id }) => {
      const room = roomOrThrow(room_id);
      const viewer = running.rooms.localUser(user_id);
      return {
        ...summary(room, viewer),
        ...running.rooms.roomActions(room_id, viewer),
        members: roomMembers(room_id),
      };
    },
    listMessages: async ({ room_id, limit, before, since, also, user_id }) => ({
      room_id, ...running.rooms.messagePage(room_id, running.rooms.localUser(user_id), limit, before, since, also),
      ...(node.isPaused() ? { sending_paused: true as const } : {}),
    }),
    sendMessage: async ({ room_id, body, txn_id, user_id }) => {
      const [event_id] = await running.rooms.sendMessages(room_id, running.rooms.localUser(user_id), [{ body, txn_id }]);
      return { event_id: event_id! };
    },
    sendMessages: async ({ room_id, messages, user_id }) => ({ event_ids: await running.rooms.sendMessages(room_id, running.rooms.localUser(user_id), messages) }),
    editMessage: async ({ room_id, event_id, body, user_id }) => {
      const event = await running.rooms.send(room_id, 'm.message.edit', running.rooms.localUser(user_id), null, { target: event_id, body });
      return { event_id: event.event_id };
    },
    deleteMessage: async ({ room_id, event_id, reason, user_id }) => {
      const event = await running.rooms.send(room_id, 'm.message.delete', running.rooms.localUser(user_id), null, { target: event_id, ...(reason ? { reason } : {}) });
      return { event_id: event.event_id };
    },
    addReaction: async ({ room_id, event_id, key, user_id }) => {
      const event = await running.rooms.send(room_id, 'm.reaction.add', running.rooms.localUser(user_id), null, { target: event_id, key });
      return { event_id: event.event_id };
    },
    removeReaction: async ({ room_id, event_id, key, user_id }) => {
      const event = await running.rooms.send(room_id, 'm.reaction.remove', running.rooms.localUser(user_id), null, { target: event_id, key });
      return { event_id: event.event_id };
    },
    inviteToRoom: async ({ room_id, user_id, inviter, max_age_seconds }) =>
      running.rooms.invite(room_id, running.rooms.localUser(inviter), user_id, max_age_seconds),
    joinRemoteRoom: async ({ room_id, user_id }) => running.referenceRooms.join(room_id, running.rooms.localUser(user_id)),
    leaveRoom: async ({ room_id, user_id }) => {
      const userId = running.rooms.localUser(user_id);
      roomOrThrow(room_id);
      // A reference host takes no events from us: its /leave RPC is the leave.
      if (running.referenceRooms.referenceHostOf(room_id)) {
        return { event_id: '', ...(await running.referenceRooms.leave(room_id, userId)) };
      }
      const event = await running.rooms.send(room_id, 'm.member.leave', userId, userId, { membership: 'leave' });
      return { event_id: event.event_id };
    },
  };
}
