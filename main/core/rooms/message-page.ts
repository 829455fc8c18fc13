/**
 * A page of a room's messages as the UI shows it (issue #16 items 5, 6, 7): the messages view,
 * whether older messages exist, what the viewing user may do with each message — decided by
 * running the node's own authorization (authorize.ts) on the edit and delete the user would
 * send, so the UI offers exactly what the node would accept — and the delivery state of the
 * messages this server sent.
 */
import type { MessageView, RoomActions } from '../../../shared/contract/admin-operations.ts';
import type { Envelope, UnsignedEnvelope } from '../federation/envelope.ts';
import type { Db } from '../store/database.ts';
import type { EventPosition, FederationEvents } from '../store/federation-events.ts';
import { authorizeEvent, authorizeWellFormed } from './authorize.ts';
import { changesNotDelivered, messageDeliveries } from './message-delivery.ts';
import { compareDisplayOrder, MEMBERSHIP_TYPES, RELATION_TYPES } from './event-types.ts';
import { messageViews, roomMessages } from './messages-view.ts';
import type { RoomStore } from './room-store.ts';
import { jsonStringBytes, utf8Bytes, withinBytes } from '../federation/page-budget.ts';

/** `isHeld`: a destination the delivery worker sends nothing to (blocked or quarantined). */
type PageDeps = { db: Db; events: FederationEvents; rooms: RoomStore; server: string; isHeld?: ((server: string) => boolean) | undefined };

/**
 * What the viewer may do in the room as a whole (issue #16 item 7): send (and react, which needs
 * the same: joined, not banned), and leave. `readOnly`: the room's host is a Paracord reference
 * server, which takes no chat events from us (local-sends.ts `refuseOnReferenceHost`).
 */
export function roomActions(d: PageDeps, roomId: string, viewer: string, readOnly: boolean): RoomActions {
  const now = Date.now();
  const trial: UnsignedEnvelope = {
    event_id: `$check:${d.server}`, room_id: roomId, event_type: 'm.message', sender: viewer, origin_server: d.server,
    origin_ts: now, depth: 1, state_key: null, content: { body: 'x', format: 'plain' },
  };
  let send = !readOnly;
  if (send) {
    try {
      authorizeEvent(d.rooms, d.events, trial, now);
    } catch {
      send = false;
    }
  }
  return { can_send: send, can_react: send, can_leave: d.rooms.member(roomId, viewer)?.membership === 'join', read_only: readOnly };
}

/**
 * Where `viewer`'s reading of the room ends (README "Members", docs/ARCHITECTURE.md "What outside
 * tools rely on"): the leave, removal or ban that ended its latest join (RoomStore.latestJoinEnd),
 * whatever came after it (a ban of one who had already left, an invitation later withdrawn or
 * still open). A user who left reads the room as it stood then: the messages before it, edits and
 * reactions made before it; a delete made after is applied (the message is gone for everyone).
 * Undefined while it is joined, or invited and never joined (the room's whole history, as
 * before). One left without a stored join (or end of it) is cut at its membership row's event.
 */
export function readsUpTo(rooms: RoomStore, roomId: string, viewer: string): EventPosition | undefined {
  const member = rooms.member(roomId, viewer);
  if (!member || member.membership === 'join') return undefined;
  const end = rooms.latestJoinEnd(roomId, viewer);
  if (end) return end;
  return member.membership === 'leave' ? { depth: member.event_depth, origin_server: member.event_origin, event_id: member.event_id } : undefined;
}

export function messagePage(
  d: PageDeps,
  roomId: string,
  viewer: string,
  limit: number,
  beforeId?: string,
  readOnly = false,
  upTo = readsUpTo(d.rooms, roomId, viewer),
): { messages: MessageView[]; has_more: boolean } {
  // The page's messages as stored: each check below finds its target here instead of reading it
  // again (issue #17: a page of 50 read and parsed its messages a second time, a third of its cost).
  const loaded = new Map<string, Envelope>();
  const page = roomMessages(d.events, d.rooms, roomId, limit + 1, beforeId, loaded, viewer, upTo);
  // The newest `limit`, within the page budget (page-budget.ts): what is cut is older, and `before`
  // the first message shown gets it.
  const newestFirst = withinBytes((page.length > limit ? page.slice(1) : page).reverse(), viewBytes);
  const messages = newestFirst.items.reverse();
  decorate(d, roomId, viewer, messages, loaded, readOnly, upTo);
  return { messages, has_more: page.length > limit || newestFirst.cut };
}

/** At least what a message's view takes in an answer: its strings, reactions, and 400 bytes for the rest (rights, delivery). */
function viewBytes(view: MessageView): number {
  let bytes = jsonStringBytes(view.body ?? '') + utf8Bytes(view.sender) + view.event_id.length + view.origin_server.length + 400;
  for (const [key, users] of Object.entries(view.reactions)) {
    bytes += jsonStringBytes(key) * 2 + 16;
    for (const user of users) bytes += jsonStringBytes(user) + 1;
  }
  return bytes;
}

/** Events of these types change only the messages they are or name: anything else may change a page's rights. */
const MESSAGE_CHANGES: ReadonlySet<string> = new Set(['m.message', ...RELATION_TYPES]);
/** Events of any room a changes request looks through at most before it answers with a whole page. */
const SCAN_AT_MOST = 5_000;

/**
 * The messages of the room that changed after `cursor` (FederationEvents.changeCursor), as the
 * page shows them, in display order: new messages, and those an edit, delete or reaction named
 * (issue #17: the UI refetched the newest page of 50 for each message a friend sent). `null` when
 * a whole page is needed instead: the cursor is not one to follow, more than `limit` messages
 * (or a page's bytes) changed, or an event of another kind arrived (a membership, a ban, a role:
 * they change what the viewer may do with every message).
 *
 * A viewer who left (`upTo`, its cut) is answered from what stands before its cut, and from the
 * deletions of those messages wherever they stand: nothing after the cut counts, not even towards
 * the choice between changes and a whole page (that choice told a reader asking `limit=1` how many
 * messages were sent after it left, and which old message was edited or reacted to since). Only
 * its own membership events make it a whole page (they may move the cut: a join again, a leave).
 */
export function messageChanges(
  d: PageDeps,
  roomId: string,
  viewer: string,
  limit: number,
  cursor: string,
  /** Messages to show again whether or not they changed (own messages whose delivery changed). */
  also: readonly string[],
  readOnly = false,
  upTo = readsUpTo(d.rooms, roomId, viewer),
): MessageView[] | null {
  const arrived = d.events.arrivedSince(roomId, cursor, SCAN_AT_MOST);
  if (!arrived) return null;
  const changed = new Set<string>(also);
  if (changed.size > limit) return null;
  for (const event of arrived) {
    if (upTo) {
      if (event.state_key === viewer && MEMBERSHIP_TYPES.has(event.event_type)) return null;
      // Counted below, once the targets after the cut are left out (a deletion may name one).
      const counts = event.event_type === 'm.message.delete' || (MESSAGE_CHANGES.has(event.event_type) && compareDisplayOrder(event, upTo) < 0);
      const target = event.event_type === 'm.message' ? event.event_id : event.relates_to;
      if (counts && target !== null) changed.add(target);
      continue;
    }
    if (!MESSAGE_CHANGES.has(event.event_type)) return null;
    const target = event.event_type === 'm.message' ? event.event_id : event.relates_to;
    if (target !== null) changed.add(target);
    if (changed.size > limit) return null;
  }
  const found = d.events.getMany([...changed]);
  // A relation may name a message this server does not hold (yet): nothing of the page changes then.
  // A viewer who left is shown none sent after its leave (`also` may name one) but its own, the others as they stood then.
  const messages = [...found.values()].filter((e) => e.room_id === roomId && e.event_type === 'm.message' && (!upTo || compareDisplayOrder(e, upTo) < 0 || e.sender === viewer)).sort(compareDisplayOrder);
  if (messages.length > limit) return null;
  const loaded = new Map<string, Envelope>();
  const views = messageViews(d.events, d.rooms, roomId, messages, loaded, viewer, upTo);
  if (withinBytes(views, viewBytes).cut) return null; // more than a page holds: a whole (bounded) page instead
  decorate(d, roomId, viewer, views, loaded, readOnly, upTo);
  return views;
}

/** What the viewer may do with each message, and the delivery of those this server sent. */
function decorate(d: PageDeps, roomId: string, viewer: string, messages: MessageView[], loaded: ReadonlyMap<string, Envelope>, readOnly: boolean, upTo: EventPosition | undefined): void {
  const allowed = (eventType: 'm.message.edit' | 'm.message.delete', target: MessageView, now: number): boolean => {
    if (target.deleted) return false;
    const event: UnsignedEnvelope = {
      event_id: `$check:${d.server}`, room_id: roomId, event_type: eventType, sender: viewer, origin_server: d.server,
      origin_ts: now, depth: 1, state_key: null,
      // Well formed by construction (a stored message's id; any valid body: whether an edit is
      // allowed does not depend on it), so only the authorization runs, not the content schemas.
      content: eventType === 'm.message.edit' ? { target: target.event_id, body: 'x' } : { target: target.event_id },
    };
    try {
      authorizeWellFormed(d.rooms, d.events, event, now, loaded);
      return true;
    } catch {
      return false;
    }
  };
  const now = Date.now();
  const own = messages.filter((m) => m.origin_server === d.server).map((m) => m.event_id);
  const deliveries = messageDeliveries(d.db, own, d.isHeld);
  const changes = changesNotDelivered(d.db, d.server, viewer, messages.map((m) => m.event_id), d.isHeld);
  // Someone not in the room may do nothing (authorize.ts refuses every edit and delete then): skip the checks.
  // A read-only room (its host is a Paracord reference server) refuses edits and deletes too.
  const joined = !readOnly && d.rooms.member(roomId, viewer)?.membership === 'join';
  const host = d.rooms.room(roomId)?.host_server;
  const viaHost = host !== undefined && host !== d.server ? host : null;
  // A viewer who left sees the names as they were at its cut (a join after it would tell who came back, and as whom).
  const names = d.rooms.displayNames(roomId, messages.map((m) => m.sender), upTo);
  for (const message of messages) {
    const name = names.get(message.sender);
    if (name !== undefined) message.sender_display_name = name;
    message.can_edit = joined && message.sender === viewer && allowed('m.message.edit', message, now);
    message.can_delete = joined && allowed('m.message.delete', message, now);
    const delivery = deliveries.get(message.event_id);
    if (delivery && viaHost !== null && delivery.state === 'delivered' && !delivery.to_nobody) delivery.via_host = viaHost;
    if (delivery) message.delivery = delivery;
    const waiting = changes.get(message.event_id);
    if (waiting) message.changes_not_delivered = waiting;
  }
}
