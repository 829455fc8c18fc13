/**
 * Rooms: creating, joining, leaving, inviting, members and moderation, read markers.
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';
import { isSafeDisplayName } from '../../identifiers.ts';
import { actingUser, anyDialectUserId, eventId, roomId, userId, type MemberUse } from './schemas.ts';

const asUser: MemberUse = { acting: 'user_id' };
const asActor: MemberUse = { acting: 'actor' };

/** The longest an invite to a room is offered (the node refuses longer ones from peers: rooms/authorize.ts). */
export const MAX_INVITE_AGE_SECONDS = 30 * 24 * 3600;

/** The most characters a room's name may have once trimmed (zod's `max` counts code points); the UI says so before creating. */
export const MAX_ROOM_NAME_LENGTH = 100;

export const roomOperations = {
  listRooms: { method: 'GET', path: '/rooms', input: z.strictObject({ ...actingUser }), member: asUser },
  createRoom: {
    method: 'POST',
    path: '/rooms',
    member: asUser,
    input: z.strictObject({
      name: z.string().trim().min(1, 'must not be empty').max(MAX_ROOM_NAME_LENGTH).refine(isSafeDisplayName, 'must not contain control, bidi or invisible characters'),
      ...actingUser,
    }),
  },
  getRoom: { method: 'GET', path: '/rooms/:room_id', input: z.strictObject({ room_id: roomId, ...actingUser }), member: { acting: 'user_id', room: 'seen' } satisfies MemberUse },
  inviteToRoom: {
    method: 'POST',
    path: '/rooms/:room_id/invites',
    // A member invites others only to rooms it owns or moderates (the owner of the server to any room it is in).
    member: { acting: 'inviter', room: 'moderated' } satisfies MemberUse,
    input: z.strictObject({
      room_id: roomId,
      // A Paracord reference server's users may have Unicode names (the node checks that server's dialect).
      user_id: anyDialectUserId,
      inviter: userId.optional(),
      max_age_seconds: z.number().int().min(1).max(MAX_INVITE_AGE_SECONDS).optional(),
    }),
  },
  leaveRoom: { method: 'POST', path: '/rooms/:room_id/leave', input: z.strictObject({ room_id: roomId, ...actingUser }), member: asUser },
  /** Join a room hosted on another server that admits us (a Paracord reference server's federated guild). */
  joinRemoteRoom: { method: 'POST', path: '/rooms/join', input: z.strictObject({ room_id: roomId, ...actingUser }), member: { acting: 'user_id', room: 'unchecked' } satisfies MemberUse },
  // Moderation (issue #20): `actor` is the local user acting (the owner when absent); the subject
  // may be a user of a Paracord reference peer, whose ids follow its grammar (issue #20 item 8).
  removeMember: {
    method: 'POST',
    path: '/rooms/:room_id/members/:user_id/remove',
    member: asActor,
    input: z.strictObject({ room_id: roomId, user_id: anyDialectUserId, reason: z.string().max(500).optional(), ban: z.boolean().optional(), actor: userId.optional() }),
  },
  listBans: { method: 'GET', path: '/rooms/:room_id/bans', input: z.strictObject({ room_id: roomId }), member: { acting: null } satisfies MemberUse },
  unbanMember: {
    method: 'DELETE',
    path: '/rooms/:room_id/bans/:user_id',
    member: asActor,
    input: z.strictObject({ room_id: roomId, user_id: anyDialectUserId, reason: z.string().max(500).optional(), actor: userId.optional() }),
  },
  setMemberRole: {
    method: 'PUT',
    path: '/rooms/:room_id/members/:user_id/role',
    member: asActor,
    input: z.strictObject({ room_id: roomId, user_id: anyDialectUserId, role: z.enum(['moderator', 'member']), actor: userId.optional() }),
  },
  markRead: { method: 'POST', path: '/rooms/:room_id/read', input: z.strictObject({ room_id: roomId, event_id: eventId, ...actingUser }), member: asUser },
} as const;

export interface RoomOutputs {
  listRooms: { rooms: RoomSummary[] };
  createRoom: { room_id: string };
  getRoom: RoomSummary & RoomActions & { members: RoomMember[] };
  inviteToRoom: { event_id: string };
  /** A room a reference hosts: whether its /leave reached it (`host_message` says why not, in words). */
  leaveRoom: { event_id: string; host_told?: boolean; host_message?: string };
  joinRemoteRoom: { room_id: string };
  removeMember: { event_id: string };
  listBans: { bans: RoomBan[] };
  unbanMember: { event_id: string };
  setMemberRole: { event_id: string };
  markRead: { room_id: string; event_id: string; unread: number; mentions: number };
}

export interface RoomSummary {
  room_id: string;
  name: string;
  host_server: string;
  /**
   * Membership of the acting user (owner unless user_id is given); `ban`: not in the room and
   * banned from it (a ban removes the user: `leave` before this field said so).
   */
  membership: 'invite' | 'join' | 'leave' | 'ban' | null;
  /**
   * How the acting user's membership ended, when it is `leave` or `ban` and the event that ended it
   * is stored here: `by` its sender (the user itself when it left), `reason` as given (null: none),
   * `at` its time (ms, as its server signed it).
   */
  left?: { by: string; reason: string | null; at: number };
  joined_members: number;
  /** Messages by others since the acting user's read marker (after they joined); 0 when not joined. */
  unread?: number;
  /** How many of the unread messages mention the acting user. */
  mentions?: number;
  /** What the room waits for on other servers, when it waits (absent when nothing does): the UI says it in words. */
  waits?: RoomWait[];
}

/**
 * A room waiting on a server's limit (not failing: it goes on by itself):
 * - `storage_quota`: what `server` holds of the room (a Paracord reference server, whose events
 *   this node polls) is over this node's daily storage quota for that server: it is fetched again
 *   at `until` (ms), or when the owner raises the quota and restarts;
 * - `send_limit`: `messages` of this room wait to go to `server`, which takes only so many a
 *   minute (a Paracord reference server's push limit): they go out as it allows, the next at
 *   `until` when known.
 */
export interface RoomWait {
  server: string;
  reason: 'storage_quota' | 'send_limit';
  /** Messages of this room waiting to go to `server` (send_limit); 0 for storage_quota. */
  messages: number;
  until: number | null;
}

/**
 * What the acting user may do in a room as a whole, by the rules the node enforces (issue #16
 * item 7): the UI offers the composer and reactions only when the node would take them.
 */
export interface RoomActions {
  /** Send a message (joined, not banned, and the room's host takes our events). */
  can_send: boolean;
  /** Add or remove reactions (the same conditions as sending). */
  can_react: boolean;
  /** Leave: only while joined. */
  can_leave: boolean;
  /** The room's host is a Paracord reference server: our users read it and send nothing into it. */
  read_only: boolean;
}

export interface RoomBan {
  user_id: string;
  by: string;
  reason: string | null;
  /** ms, the ban event's time as the host decided. */
  at: number;
}

export interface RoomMember {
  user_id: string;
  /** Their display name in this room (their latest join's), shown beside `user_id`, never instead of it. Absent when none. */
  display_name?: string;
  membership: 'invite' | 'join' | 'leave';
  role: 'owner' | 'moderator' | 'member';
}
