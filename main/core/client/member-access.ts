/**
 * What a member may do (issue #34, docs/SECURITY.md "Members"): the one place that decides, for
 * every transport of the client API (HTTP, operation-routes.ts; the stream, the admin stream's
 * code with these handlers: client-app.ts).
 *  - an operation without the contract's `member` flag answers 403 owner_only;
 *  - the input field the flag names (user_id, inviter or actor) is the session's user: a request
 *    naming another answers 403 not_yours;
 *  - the room of the input's `room_id` must be one the member is in (or invited to, where the flag
 *    says 'seen', while the invitation has not expired), else 404 room_not_found, the same answer
 *    as a room that does not exist;
 *  - where the flag says 'read' (reading messages), a member whose latest join of the room ended
 *    (it left, was removed or banned; it may be invited again since) may too: the room's messages
 *    up to that end, read-only (the page is cut there whoever reads: rooms/message-page.ts
 *    `readsUpTo`); one never joined still gets 404;
 *  - where the flag says 'moderated' (inviting others), the member must be the room's owner or a
 *    moderator of it, else 403 not_room_moderator;
 *  - creating rooms follows the owner's `members_may_create_rooms`;
 *  - a member lists only its own rooms (joined, or invited to and the invitation not expired, or
 *    once joined and left, removed or banned: with who ended it and why, `left`);
 *  - the members' stream tells a member of those rooms only, and of its own read markers only
 *    (memberSees).
 * Past these checks the operation runs exactly as on the admin API, as that user; the rooms' own
 * rules (rooms/authorize.ts) then decide, e.g. who may moderate.
 */
import type { RateLimiters } from '../trust/rate-limiter.ts';
import { DEFAULT_MEMBER_REQUEST_LIMITS, takeMemberSend, type MemberRequestLimits } from './member-limits.ts';
import { adminOperations, memberUse, type AdminCallMeta, type AdminHandlers, type AdminOperationName, type AdminOutputs } from '../../../shared/contract/admin-operations.ts';
import type { NodeNotification } from '../node-events.ts';
import { conflict, forbidden, notFound } from '../errors.ts';
import type { Db } from '../store/database.ts';

/** A user's membership in a room of this node, its role there, and when an invitation lapses (null: never). */
export interface Membership {
  membership: 'invite' | 'join' | 'leave';
  role: 'owner' | 'moderator' | 'member';
  invite_expires_at: number | null;
  /** The user declined the invitation (declining is local: the room's members still list it as `invite` until it lapses). */
  declined?: boolean;
}

export interface MemberAccessDeps {
  handlers: () => AdminHandlers;
  /** The membership of a user in a room of this node (null: none, or no such room). */
  membership: (roomId: string, userId: string) => Membership | null;
  /**
   * Whether the user's latest join of the room has ended: it left, was removed or banned after it
   * (RoomStore.latestJoinEnd, the event the page is cut at). Without it, no such member reads the room.
   */
  membershipEnded?: (roomId: string, userId: string) => boolean;
  mayCreateRooms: () => boolean;
  /** Rooms hosted here that `userId` created (it is their owner), and how many a member may have. */
  roomsCreatedBy: (userId: string) => number;
  maxRoomsPerMember?: number | undefined;
  /** Whether the member's message `txn_id` is already stored (a resend costs no share of the day). */
  txnKnown?: (userId: string, txnId: string) => boolean;
  /** The federation listener's rate-limit buckets (member-limits.ts); without them nothing is limited. */
  limiter?: RateLimiters;
  /** The members' limits; DEFAULT_MEMBER_REQUEST_LIMITS by default (tests set small ones). */
  memberLimits?: MemberRequestLimits;
}

/** Each member's room creation under way, per set of deps (a node): the next waits for it. */
const creating = new WeakMap<MemberAccessDeps, Map<string, Promise<unknown>>>();

/** Rooms a member may have created (each one costs every rooms list of the node a summary). */
export const DEFAULT_MAX_ROOMS_PER_MEMBER = 100;

/**
 * The membership the member client goes by: the room's own (`member`), marked `declined` where the
 * user declined its invitation here (room_invites; a new invitation makes it pending again).
 */
export function memberMembership(db: Db, member: (roomId: string, userId: string) => Membership | undefined): (roomId: string, userId: string) => Membership | null {
  let declinedStmt: import('better-sqlite3').Statement<[string, string], { one: number }> | undefined;
  return (roomId, userId) => {
    const row = member(roomId, userId);
    if (!row) return null;
    if (row.membership !== 'invite') return row;
    declinedStmt ??= db.prepare("SELECT 1 AS one FROM room_invites WHERE room_id = ? AND invitee = ? AND state = 'declined'");
    return declinedStmt.get(roomId, userId) ? { ...row, declined: true } : row;
  };
}

/**
 * Whether a member sees a room at all (its name, members and activity): joined, or invited while
 * the invitation has not expired and was not declined. An invitation that lapsed unanswered stays `invite` in the
 * room's members; it shows the member nothing more (listInvites no longer lists it either).
 */
export function invitedOrJoined(member: Membership | null, now = Date.now()): boolean {
  if (member?.membership === 'join') return true;
  return member?.membership === 'invite' && member.declined !== true && (member.invite_expires_at === null || member.invite_expires_at > now);
}

/**
 * The notifications the members' stream gives member `userId`: its invitations, and the events of
 * rooms it sees — but read markers only its own (no operation shows another user's marker; the
 * stream must not either).
 */
export function memberSees(deps: Pick<MemberAccessDeps, 'membership'>, userId: string, n: NodeNotification): boolean {
  if (n.type === 'invite') return n.invitee === userId;
  if (n.type === 'room' && n.event_type === 'm.read' && n.sender !== userId) return false;
  // Its own leave, removal or ban: told, though it is no longer in the room (its screen showed it joined).
  if (n.type === 'room' && n.subject === userId) return true;
  if (n.type === 'room' || n.type === 'delivery') return invitedOrJoined(deps.membership(n.room_id, userId));
  // Paused or resumed: a member's waiting messages say so (delivery-line.ts). What members may do: their app offers it or not.
  return n.type === 'status' && (n.scope === 'federation' || n.scope === 'members');
}

/** Refuses an operation that is the owner's only (before its input is read). */
export function checkMemberMay(name: AdminOperationName): void {
  if (!memberUse(name)) throw forbidden('owner_only', 'only the owner of this server may do that');
}

/** Runs operation `name` with its checked `input` as member `userId`, or refuses it. */
export async function callAsMember(deps: MemberAccessDeps, userId: string, name: AdminOperationName, checked: unknown): Promise<unknown> {
  checkMemberMay(name);
  const use = memberUse(name)!;
  const input = { ...(checked as Record<string, unknown>) };
  if (use.acting) {
    const named = input[use.acting];
    if (named !== undefined && named !== userId) throw forbidden('not_yours', `you act as ${userId} here; ${use.acting} may only name you`);
    input[use.acting] = userId;
  }
  if (typeof input.room_id === 'string' && use.room !== 'unchecked') {
    const member = deps.membership(input.room_id, userId);
    // 'read': one whose latest join ended reads up to that end, whether it is out now or invited again.
    const allowed = member?.membership === 'join' || (use.room === 'seen' && invitedOrJoined(member))
      || (use.room === 'read' && (member?.membership === 'leave' || member?.membership === 'invite') && (deps.membershipEnded?.(input.room_id, userId) ?? false));
    if (!member || !allowed) throw notFound('room_not_found', `there is no room ${input.room_id} that you are in`);
    if (use.room === 'moderated' && member.role !== 'owner' && member.role !== 'moderator') {
      throw forbidden('not_room_moderator', 'only the room\'s owner or one of its moderators may invite people to it');
    }
  }
  if (name === 'createRoom' && !deps.mayCreateRooms()) throw forbidden('room_creation_off', 'the owner of this server does not let members create rooms');
  const creatingRoom = name === 'createRoom' ? roomsBeingMade(deps, userId) : null;
  // What its events may cost friends' servers, once it is allowed (a refused one costs nothing).
  if (deps.limiter) takeMemberSend(deps.limiter, deps.memberLimits ?? DEFAULT_MEMBER_REQUEST_LIMITS, userId, name, input, (txnId) => deps.txnKnown?.(userId, txnId) ?? false);
  const handler = deps.handlers()[name] as (input: unknown, meta?: AdminCallMeta) => Promise<unknown>;
  // A member's rooms list sums up only the rooms it has a membership in (ownRooms then keeps those it may see).
  const meta: AdminCallMeta = name === 'listRooms' ? { rooms: (roomId) => deps.membership(roomId, userId) != null } : {};
  const output = creatingRoom ? await creatingRoom(() => handler(input, meta)) : await handler(input, meta);
  if (name === 'listRooms') return ownRooms(deps, userId, output as AdminOutputs['listRooms']);
  if (name === 'listMessages') return ownDeliveries(userId, output as AdminOutputs['listMessages']);
  return output;
}

/**
 * A page as a member reads it: the delivery of its own messages only. Whom another user's message
 * still waits for, which server refused it and why, is that user's (a member read the owner's and
 * other members' delivery states: a red-team review, 2026-11-30); the owner reads them all.
 */
function ownDeliveries(userId: string, output: AdminOutputs['listMessages']): AdminOutputs['listMessages'] {
  return { ...output, messages: output.messages.map((m) => (m.sender === userId || m.delivery === undefined ? m : (({ delivery: _hidden, ...rest }) => rest)(m))) };
}

/**
 * Refuses a room over the member's cap; else the wrapper that makes it once the member's previous
 * creation ended, counting again then (a room is stored a turn after it is allowed: requests at
 * once all saw 99). One at a time per member: counting the ones being made beside the stored ones
 * counted a room twice while it was stored and not yet answered, and refused a member below the
 * cap (CI under Node.js 22.19: 4 rooms of 5).
 */
function roomsBeingMade(deps: MemberAccessDeps, userId: string): <T>(make: () => Promise<T>) => Promise<T> {
  const chains = creating.get(deps) ?? new Map<string, Promise<unknown>>();
  creating.set(deps, chains);
  const most = deps.maxRoomsPerMember ?? DEFAULT_MAX_ROOMS_PER_MEMBER;
  const refuseOverCap = () => {
    if (deps.roomsCreatedBy(userId) >= most) throw conflict('too_many_rooms', `you have created ${most} rooms here, the most a member may`);
  };
  // At once when the stored ones are the cap already (a refused request is not charged).
  refuseOverCap();
  return <T>(make: () => Promise<T>) => {
    const previous = chains.get(userId) ?? Promise.resolve();
    const mine = previous.then(
      () => (refuseOverCap(), make()),
      () => (refuseOverCap(), make()),
    );
    chains.set(userId, mine);
    const settled = () => {
      if (chains.get(userId) === mine) chains.delete(userId);
    };
    mine.then(settled, settled);
    return mine;
  };
}

/** Every operation of the contract, each run as member `userId` through callAsMember (the stream's handlers). */
export function memberHandlers(deps: MemberAccessDeps, userId: string): AdminHandlers {
  const handlers: Record<string, (input: unknown) => Promise<unknown>> = {};
  for (const name of Object.keys(adminOperations) as AdminOperationName[]) handlers[name] = (input) => callAsMember(deps, userId, name, input);
  return handlers as unknown as AdminHandlers;
}

/** The rooms a member sees: those it is in or invited to (the node's other rooms are not its business). */
function ownRooms(deps: MemberAccessDeps, userId: string, output: AdminOutputs['listRooms']): AdminOutputs['listRooms'] {
  // And the rooms it was in and left, was removed or banned from (`left` says by whom and why): listed
  // apart, said what happened; their messages up to then it reads (listMessages), nothing more (getRoom answers 404).
  // A room it left does not tell how many of its events wait for a limiting server now (`waits`: a
  // red-team review, 2026-11-30: live activity past its cut).
  const rooms: AdminOutputs['listRooms']['rooms'] = [];
  for (const r of output.rooms) {
    const membership = deps.membership(r.room_id, userId);
    if (invitedOrJoined(membership)) rooms.push(r);
    else if (r.left !== undefined && membership?.membership === 'leave') {
      const { waits: _live, ...left } = r;
      rooms.push(left);
    }
  }
  return { rooms };
}
