/**
 * Authorization of room events (docs/PROTOCOL.md §Rooms, §Moderation). The host runs it on every event it accepts,
 * local or remote, before storing; other servers run it for their own users' actions so a
 * refusal is immediate rather than a failed delivery later.
 */
import { isUserIdOfAnyDialect, serverOf } from '../../../shared/identifiers.ts';
import { HttpError, badRequest, conflict, forbidden, notFound } from '../errors.ts';
import type { Envelope, UnsignedEnvelope } from '../federation/envelope.ts';
import type { FederationEvents } from '../store/federation-events.ts';
import { CONTENT_SCHEMAS, MAX_INVITE_LIFETIME_MS, REFERENCE_REACTION_CONTENT, checkContentBulk, isRoomEventType, isWellFormedMessageContent } from './event-types.ts';
import { RELAYED_MAX_FUTURE_MS } from './ordering.ts';
import type { RoomStore } from './room-store.ts';
import { schemaIssueText } from '../util/untrusted-text.ts';

/** 400 invalid_content: the schema's first complaint, worded once (a peer's keys and text in it cut and escaped). */
function contentRefused(eventType: string, issues: Parameters<typeof schemaIssueText>[0]) {
  return badRequest('invalid_content', `${eventType} content: ${issues[0]?.path.length ? '' : 'content: '}${schemaIssueText(issues)}`);
}

export function checkContent(event: UnsignedEnvelope | Envelope): void {
  if (!isRoomEventType(event.event_type)) throw badRequest('unknown_event_type', `unknown event type ${event.event_type}`);
  const fast = event.event_type === 'm.message' && isWellFormedMessageContent(event.content);
  const parsed = fast ? null : CONTENT_SCHEMAS[event.event_type].safeParse(event.content);
  if (parsed && !parsed.success) {
    throw contentRefused(event.event_type, parsed.error.issues);
  }
  // Events about one user (memberships, bans, roles) name that user in state_key.
  const membershipEvent = event.event_type.startsWith('m.member.') || event.event_type === 'm.room.role';
  if (membershipEvent && event.state_key === null) throw badRequest('invalid_content', `${event.event_type} needs a state_key (the user whose membership changes)`);
  // Local events do not pass the envelope schema: the same user id check here.
  // A reference peer's member event is read with state_key = its sender (reference/vocabulary.ts), whose dialect ingest checked.
  if (membershipEvent && !isUserIdOfAnyDialect(event.state_key)) throw badRequest('invalid_content', `${event.event_type} state_key must be a user id (@localpart:server)`);
  if (!membershipEvent && event.state_key !== null) throw badRequest('invalid_content', `${event.event_type} must have state_key null`);
}

/**
 * What every event received from another server passes, on every path (push, batch, relay, pull,
 * catch-up, join snapshot, invite), before its signature check (EventIngest's `checkContent`
 * hook): the bulk limits, and for a room event type of our dialect its content schema — the same
 * check a host makes (checkContent). A member applies what its host relays without authorizing it,
 * and the read model takes a message's body for text: a host's `{"body": 42}` made the room's page
 * answer 500 for good. Unknown types are bounded only (a newer host may relay them; nothing shows
 * them). A reference peer's events are in its vocabulary (federation/reference/vocabulary.ts), read
 * through its dialect's local view.
 */
export function checkReceivedContent(event: Envelope, contentBytes: number, speaksReference: boolean): void {
  checkContentBulk(event, contentBytes);
  if (!speaksReference && isRoomEventType(event.event_type)) checkContent(event);
}

/**
 * What a reference peer's event is read as here (its dialect's local view: a message's body, a
 * reaction's key taken from its `emoji`) passes our content schema too, on every path and in every
 * room: in a room we host authorizeEvent checks it again, but in one a reference hosts (or a native
 * host relays) nothing else would, and the key rules (control, bidi and invisible characters) held
 * only where we host. A reaction's key may be as long as the reference allows (its custom emoji,
 * `name:snowflake`).
 */
export function checkReceivedView(view: Envelope): void {
  if (isReaction(view)) {
    const parsed = REFERENCE_REACTION_CONTENT.safeParse(view.content);
    if (!parsed.success) {
      throw contentRefused(view.event_type, parsed.error.issues);
    }
    return;
  }
  if (isRoomEventType(view.event_type)) checkContent(view);
}

const isReaction = (event: UnsignedEnvelope | Envelope) => event.event_type === 'm.reaction.add' || event.event_type === 'm.reaction.remove';

export function authorizeEvent(rooms: RoomStore, events: FederationEvents, event: UnsignedEnvelope | Envelope, now = Date.now()): void {
  checkContent(event);
  authorizeWellFormed(rooms, events, event, now);
}

/**
 * authorizeEvent for an event received in a room we host. A reference origin's reaction (its view)
 * has the reference's key rule, as in a room it hosts (checkReceivedView: a key of up to 64
 * characters, its custom emoji `name:snowflake`), and the rest of checkContent's (state_key null);
 * before, a custom emoji over our 32 characters was refused here and the reaction lost.
 */
export function authorizeReceived(rooms: RoomStore, events: FederationEvents, event: Envelope, speaksReference: boolean, now = Date.now()): void {
  if (!speaksReference || !isReaction(event)) {
    authorizeEvent(rooms, events, event, now);
    return;
  }
  checkReceivedView(event);
  if (event.state_key !== null) throw badRequest('invalid_content', `${event.event_type} must have state_key null`);
  authorizeWellFormed(rooms, events, event, now);
}

/**
 * authorizeEvent without the content check, for an event whose content passed checkContent or is
 * well formed by construction (a page of messages asking what its viewer may do with each one).
 * `known`: events the caller already loaded, looked up there before the database.
 */
export function authorizeWellFormed(
  rooms: RoomStore,
  events: FederationEvents,
  event: UnsignedEnvelope | Envelope,
  now = Date.now(),
  known?: ReadonlyMap<string, Envelope>,
): void {
  const room = rooms.room(event.room_id);
  if (!room) throw notFound('unknown_room', `no room ${event.room_id} here`);
  const sender = rooms.member(event.room_id, event.sender);
  const joined = sender?.membership === 'join';
  const canModerate = joined && (sender.role === 'owner' || sender.role === 'moderator');
  const content = event.content as { target?: string; key?: string; role?: string };
  // A banned user sends nothing into the room (issue #20 item 2): join, messages, anything —
  // but their own leave is just "not a member" (they are out already; an honest server may send
  // one that crossed the ban, and it must not count as abuse).
  if (event.event_type !== 'm.member.leave' && rooms.bans.isBanned(event.room_id, event.sender)) throw banned(event.sender);

  /** A moderator acts on plain members; the owner on everyone but themself. */
  const outranks = (targetUser: string): void => {
    if (targetUser === event.sender) throw badRequest('cannot_target_self', 'a moderator cannot remove, ban or change the role of themself');
    const target = rooms.member(event.room_id, targetUser);
    const targetRole = target?.membership === 'join' || target?.membership === 'invite' ? target.role : 'member';
    if (targetRole === 'owner') throw forbidden('not_allowed', 'the room\'s owner cannot be removed, banned or demoted');
    if (targetRole === 'moderator' && sender?.role !== 'owner') throw forbidden('not_allowed', 'only the room\'s owner may act on a moderator');
  };

  const targetMessage = (): Envelope => {
    const target = known?.get(content.target!) ?? events.get(content.target!);
    if (!target || target.room_id !== event.room_id || target.event_type !== 'm.message') {
      throw notFound('unknown_target', `no message ${content.target} in this room`);
    }
    return target;
  };

  switch (event.event_type) {
    case 'm.message':
      if (!joined) throw notMember(event.sender);
      return;
    case 'm.message.edit': {
      if (!joined) throw notMember(event.sender);
      const target = targetMessage();
      if (target.sender !== event.sender) throw forbidden('not_the_sender', 'only the original sender may edit a message');
      if (isDeleted(events, event.room_id, target.event_id)) throw forbidden('message_deleted', 'a deleted message cannot be edited');
      return;
    }
    case 'm.message.delete': {
      if (!joined) throw notMember(event.sender);
      const target = targetMessage();
      if (target.sender !== event.sender && !canModerate) throw forbidden('not_allowed', 'only the sender or a room moderator may delete a message');
      return;
    }
    case 'm.reaction.add':
    case 'm.reaction.remove': {
      if (!joined) throw notMember(event.sender);
      targetMessage();
      // Index lookups (issue #14 item 4): one row per (room, target, sender, key).
      const present = rooms.reactions.has(event.room_id, content.target!, event.sender, content.key!);
      if (event.event_type === 'm.reaction.add' && present) throw conflict('already_reacted', `${event.sender} already reacted with this key`);
      if (event.event_type === 'm.reaction.remove' && !present) throw conflict('no_reaction', `${event.sender} has no reaction with this key`);
      if (event.event_type === 'm.reaction.add') {
        const max = rooms.reactions.maxPerUserPerMessage;
        if (rooms.reactions.countBySender(event.room_id, content.target!, event.sender) >= max) {
          throw badRequest('too_many_reactions', `${event.sender} already has ${max} different reactions on this message (the most one user may have)`);
        }
      }
      return;
    }
    case 'm.member.invite': {
      if (!joined) throw notMember(event.sender);
      // The longest an invite may be offered (the admin API's 30 days), with a relayed event's
      // day ahead: an invite a member's server signs for "forever" kept a door open to its users
      // after the owner removed that server (a no-event join needs only a live invite).
      const expiresAt = (event.content as { expires_at?: unknown }).expires_at;
      if (typeof expiresAt === 'number' && expiresAt > now + MAX_INVITE_LIFETIME_MS + RELAYED_MAX_FUTURE_MS) {
        throw badRequest('invalid_content', `m.member.invite expires_at is more than ${MAX_INVITE_LIFETIME_MS / 86_400_000} days ahead`);
      }
      if (rooms.bans.isBanned(event.room_id, event.state_key!)) throw banned(event.state_key!);
      const invitee = rooms.member(event.room_id, event.state_key!);
      if (invitee?.membership === 'join') throw conflict('already_joined', `${event.state_key} is already in the room`);
      return;
    }
    case 'm.member.join': {
      if (event.state_key !== event.sender) throw forbidden('state_key_mismatch', 'a join event\'s state_key must be its sender');
      if (content.role === 'owner') {
        // Only the room's creator, on the host, when the room has nobody yet.
        if (serverOf(event.sender) !== room.host_server || rooms.members(event.room_id).length > 0) {
          throw forbidden('not_allowed', 'only the creator of a new room joins as its owner');
        }
        return;
      }
      if (sender?.membership === 'join') throw conflict('already_joined', `${event.sender} is already in the room`);
      if (sender?.membership !== 'invite') throw forbidden('not_invited', `${event.sender} has no invite to this room`);
      if (sender.invite_expires_at !== null && sender.invite_expires_at <= now) throw forbidden('invite_expired', 'the invite to this room has expired');
      return;
    }
    case 'm.member.leave': {
      const subject = rooms.member(event.room_id, event.state_key!);
      if (event.state_key === event.sender) {
        if (!subject || subject.membership === 'leave') throw forbidden('not_a_member', `${event.sender} is not in this room`);
        return;
      }
      if (!canModerate) throw forbidden('state_key_mismatch', 'only a moderator may remove another user (state_key must be the sender)');
      if (subject?.membership !== 'join' && subject?.membership !== 'invite') throw notFound('unknown_member', `${event.state_key} is not in this room`);
      outranks(event.state_key!);
      return;
    }
    case 'm.member.ban': {
      if (!canModerate) throw forbidden('not_allowed', 'only the room\'s owner or a moderator may ban');
      // Anyone who has been in the room (or was invited) may be banned, also after leaving.
      if (!rooms.member(event.room_id, event.state_key!)) throw notFound('unknown_member', `${event.state_key} has never been in this room`);
      outranks(event.state_key!);
      return;
    }
    case 'm.member.unban': {
      if (!canModerate) throw forbidden('not_allowed', 'only the room\'s owner or a moderator may unban');
      if (!rooms.bans.isBanned(event.room_id, event.state_key!)) throw notFound('not_banned', `${event.state_key} is not banned from this room`);
      return;
    }
    case 'm.room.role': {
      if (!joined || sender.role !== 'owner') throw forbidden('not_allowed', 'only the room\'s owner may change roles');
      const subject = rooms.member(event.room_id, event.state_key!);
      if (subject?.membership !== 'join') throw notFound('unknown_member', `${event.state_key} is not a joined member of this room`);
      outranks(event.state_key!);
      if (subject.role === content.role) throw conflict('role_unchanged', `${event.state_key} is already a ${content.role}`);
      return;
    }
  }
}

export function banned(userId: string): HttpError {
  return forbidden('banned', `${userId} is banned from this room`);
}

function notMember(userId: string): HttpError {
  return forbidden('not_a_member', `${userId} is not a member of this room`);
}

function isDeleted(events: FederationEvents, roomId: string, target: string): boolean {
  return events.hasRelatedOfType(roomId, target, 'm.message.delete');
}
