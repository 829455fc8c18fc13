/**
 * The read model of a room's messages (`GET /rooms/{id}/messages`: docs/ARCHITECTURE.md §What outside tools rely on): messages in
 * display order with edits applied, deletes shown without body, and reactions aggregated.
 * A message's first delete and its author's latest edit (in display order) are found at read time
 * by index lookups (FederationEvents.messageRelations); reactions come from the reaction index
 * (the fold of adds and removes, kept as events are applied), so a message with thousands of
 * edits or reaction events costs no more to show than one with a few. Every server holding
 * the same events shows exactly the same thing, whatever order the events arrived in.
 */
import type { Envelope } from '../federation/envelope.ts';
import type { EventPosition, FederationEvents } from '../store/federation-events.ts';
import { compareDisplayOrder } from './event-types.ts';
import type { RoomStore } from './room-store.ts';
import type { AggregatedReactions } from './reaction-index.ts';
import type { MessageView } from '../../../shared/contract/admin-operations.ts';

export type { MessageView };

/** A page of messages: the latest `limit`, or the `limit` before the message `before`. */
export function roomMessages(
  events: FederationEvents,
  rooms: RoomStore,
  roomId: string,
  limit: number,
  beforeId?: string,
  /** Filled with the page's messages as stored, by event id (message-page.ts checks rights against them). */
  loaded?: Map<string, Envelope>,
  /** Whose own reactions are always among those shown (reaction-index.ts aggregate). */
  viewer?: string,
  /** Only what stood before this position (a viewer who left: its leave, message-page.ts `readsUpTo`). */
  upTo?: EventPosition,
): MessageView[] {
  let messages: Envelope[];
  if (upTo) {
    // Before `before` and before the leave, whichever comes first.
    const anchor = beforeId ? events.get(beforeId) : undefined;
    const anchorBeforeCut = anchor !== undefined && compareDisplayOrder(anchor, upTo) < 0;
    messages = events.latestOfTypeBelow(roomId, 'm.message', limit, anchorBeforeCut ? anchor : upTo);
    // And the viewer's own messages after its cut, written before its node heard of it: its own
    // words, shown with what became of them (refused, as a rule), never lost from its sight.
    if (viewer && !anchorBeforeCut) {
      const own = events.ownMessagesAfter(roomId, viewer, upTo, anchor ?? null, limit);
      if (own.length > 0) messages = [...messages, ...own].sort(compareDisplayOrder).slice(-limit);
    }
  } else {
    messages = beforeId ? events.latestOfTypeBefore(roomId, 'm.message', limit, beforeId) : events.latestOfType(roomId, 'm.message', limit);
  }
  return messageViews(events, rooms, roomId, messages, loaded, viewer, upTo);
}

/** Stored messages of a room (in the order given) as the timeline shows them: edits, deletes and reactions folded in. */
export function messageViews(
  events: FederationEvents,
  rooms: RoomStore,
  roomId: string,
  messages: readonly Envelope[],
  loaded?: Map<string, Envelope>,
  viewer?: string,
  /**
   * Shown as they stood at this position (a viewer who left: its leave): edits and reactions made
   * after it are not applied, they would tell what was said later; a delete is, wherever it stands.
   */
  upTo?: EventPosition,
): MessageView[] {
  if (loaded) for (const message of messages) loaded.set(message.event_id, message);
  const targets = messages.map((m) => m.event_id);
  const reactions = upTo ? rooms.reactions.aggregateUpTo(roomId, targets, upTo, viewer) : rooms.reactions.aggregate(roomId, targets, viewer);
  // Per message, its first delete and its author's latest edit (index lookups): never a fold of
  // every edit, however many a peer sent (red team 2026-11-26).
  return messages.map((message) => {
    const related = events.messageRelations(roomId, message, upTo);
    // Deleted after the cut: gone, but who deleted it is not told (it happened after).
    const by = related.delete && upTo && compareDisplayOrder(related.delete, upTo) > 0 ? { ...related, hideDeletedBy: true } : related;
    return foldMessage(message, by, reactions.get(message.event_id));
  });
}

/**
 * Every stored delete was authorized when it was accepted (by the host, or here for our own
 * users): the sender's own, or a moderator's at that time. A moderator's delete stays in force
 * after they are demoted or leave (issue #20), and shows who made it as `deleted_by`.
 */
function foldMessage(message: Envelope, related: { delete?: Envelope; edit?: Envelope; hideDeletedBy?: boolean }, aggregated: AggregatedReactions | undefined): MessageView {
  let body = message.content.body as string;
  // A reference's attachment-only message has an empty body (its attachments are not federated here).
  if (body === '' && Array.isArray(message.content.attachments)) body = `[${message.content.attachments.length} attachment${message.content.attachments.length === 1 ? '' : 's'}]`;
  // The author's latest edit (display order) is the text; a delete hides it, and says who deleted.
  const deleted = related.delete !== undefined;
  const deletedBy = related.delete && related.delete.sender !== message.sender && !related.hideDeletedBy ? related.delete.sender : undefined;
  const edited = !deleted && related.edit !== undefined;
  if (edited) body = related.edit!.content.body as string;
  return {
    event_id: message.event_id,
    sender: message.sender,
    origin_server: message.origin_server,
    origin_ts: message.origin_ts,
    depth: message.depth,
    ...(deleted ? {} : { body }),
    edited: edited && !deleted,
    deleted,
    ...(deletedBy ? { deleted_by: deletedBy } : {}),
    reactions: deleted || !aggregated ? {} : aggregated.users,
    reaction_counts: deleted || !aggregated ? {} : aggregated.counts,
  };
}
