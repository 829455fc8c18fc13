/**
 * The delivery state of messages this server sent (issue #16 item 5), read from their outbox
 * rows in one indexed query (the outbox's unique key, which starts with the event id): a row is removed once its destination
 * acknowledged the event, so no row left means delivered to every server of the room; pending
 * rows are servers still to reach; failed or expired rows are refusals, with their reason.
 * Events a friend's mailbox took for a server nobody reaches wait there until that server takes
 * them (mailbox_deposits, mailbox/deposits.ts): `at_mailbox`, and the message is still waiting;
 * one taken there too late for the room's host and not yet queued again (mailbox_taken_late) waits
 * for that server too.
 * Pending rows for a server the owner blocked or quarantined are not tried (the delivery worker
 * holds them, `isHeld`): `held` names those servers. A pending row is tried no sooner than its
 * destination's oldest waiting row is due (the worker goes by its head, FIFO: outbox.ts destinationNextAttemptSql),
 * so a message queued behind one being retried says when that is, not "now".
 */
import type { Db } from '../store/database.ts';
import { destinationNextAttemptSql } from '../outbox/outbox.ts';
import { compareDisplayOrder } from '../../../shared/display-order.ts';
import { serverOf } from '../../../shared/identifiers.ts';
import type { ChangeDelivery, MessageDelivery } from '../../../shared/contract/admin-operations.ts';

interface Row {
  event_id: string;
  destination: string;
  state: 'pending' | 'failed' | 'expired';
  next_attempt_at: number;
  last_error: string | null;
}

export function messageDeliveries(db: Db, eventIds: readonly string[], isHeld?: (server: string) => boolean): Map<string, MessageDelivery> {
  const result = new Map<string, MessageDelivery>();
  for (const id of eventIds) result.set(id, { state: 'delivered', pending_servers: [], refused: [], next_attempt_at: null, last_error: null });
  // Each destination's next attempt, asked once per call, and only when a pending row needs it
  // (most pages hold no waiting message: no statement is prepared for them).
  const heads = new Map<string, number>();
  let headStmt: import('better-sqlite3').Statement<[string], { next_attempt_at: number }> | undefined;
  const headDue = (destination: string): number => {
    let due = heads.get(destination);
    if (due === undefined) {
      headStmt ??= db.prepare<[string], { next_attempt_at: number }>(destinationNextAttemptSql('?'));
      heads.set(destination, (due = headStmt.get(destination)?.next_attempt_at ?? 0));
    }
    return due;
  };
  for (let start = 0; start < eventIds.length; start += 200) {
    const chunk = eventIds.slice(start, start + 200);
    const rows = db
      .prepare<string[], Row>(`SELECT event_id, destination, state, next_attempt_at, last_error FROM federation_outbox WHERE event_id IN (${chunk.map(() => '?').join(',')}) ORDER BY destination`)
      .all(...chunk);
    for (const row of rows) {
      const delivery = result.get(row.event_id)!;
      if (row.state === 'pending') {
        delivery.pending_servers.push(row.destination);
        // Held: not tried, so neither its next attempt nor an error from before the hold says anything now.
        if (isHeld?.(row.destination)) {
          (delivery.held ??= []).push(row.destination);
          continue;
        }
        const due = Math.max(row.next_attempt_at, headDue(row.destination));
        if (delivery.next_attempt_at === null || due < delivery.next_attempt_at) delivery.next_attempt_at = due;
      } else {
        delivery.refused.push({ server: row.destination, reason: row.state === 'expired' ? 'expired' : (row.last_error ?? 'refused') });
      }
      if (row.last_error) delivery.last_error = row.last_error;
    }
    // Left at a friend's mailbox for a server nobody reaches, not yet taken (issue #32).
    const left = db
      .prepare<string[], { event_id: string; destination: string; mailbox: string }>(`SELECT event_id, destination, mailbox FROM mailbox_deposits WHERE event_id IN (${chunk.map(() => '?').join(',')}) ORDER BY destination`)
      .all(...chunk);
    for (const row of left) {
      const delivery = result.get(row.event_id)!;
      (delivery.at_mailbox ??= []).push({ server: row.destination, mailbox: row.mailbox });
    }
    // Taken from a mailbox too late for the room's host, not yet queued again (mailbox/deposits.ts): still to reach it.
    const late = db
      .prepare<string[], { event_id: string; destination: string }>(`SELECT event_id, destination FROM mailbox_taken_late WHERE event_id IN (${chunk.map(() => '?').join(',')})`)
      .all(...chunk);
    for (const row of late) {
      const delivery = result.get(row.event_id)!;
      if (!delivery.pending_servers.includes(row.destination)) delivery.pending_servers.push(row.destination);
    }
  }
  for (const delivery of result.values()) {
    delivery.state = delivery.refused.length > 0 ? 'refused' : delivery.pending_servers.length > 0 || (delivery.at_mailbox?.length ?? 0) > 0 ? 'waiting' : 'delivered';
  }
  return result;
}

/** Membership events, and whether each leaves its user joined. */
const JOINS: Readonly<Record<string, boolean>> = { 'm.member.join': true, 'm.member.leave': false, 'm.member.ban': false, 'm.member.unban': false };

/**
 * Of these messages of a room this server hosts, those stored while no other server had a member
 * joined: they went to nobody (the outbox queues a hosted room's event for its joined servers,
 * room-part.ts `destinationsFor`), so "delivered to all" would say what never happened. Decided
 * from the room's membership events up to the newest message, replayed in display order: a friend
 * who left later does not undo a delivery, nor does one who joined later make one (the UI decided
 * from who is in the room now: the UI check's carried-over finding). In a room hosted elsewhere
 * every message of ours goes to its host: none. One indexed read per membership type.
 */
export function sentToNobody(db: Db, server: string, roomId: string, messages: ReadonlyArray<{ event_id: string; depth: number; origin_server: string }>): Set<string> {
  const nobody = new Set<string>();
  if (messages.length === 0 || serverOf(roomId) !== server) return nobody;
  const ordered = [...messages].sort(compareDisplayOrder);
  const newest = ordered.at(-1)!.depth;
  const changes = db
    .prepare<[string, number], { event_type: string; state_key: string | null; depth: number; origin_server: string; event_id: string }>(
      `SELECT event_type, state_key, depth, origin_server, event_id FROM federation_events INDEXED BY federation_events_room_type_order
        WHERE room_id = ? AND event_type IN ('m.member.join', 'm.member.leave', 'm.member.ban', 'm.member.unban') AND depth <= ?`,
    )
    .all(roomId, newest)
    .sort(compareDisplayOrder);
  /** Joined users of other servers, by user. */
  const joined = new Set<string>();
  let next = 0;
  for (const message of ordered) {
    for (; next < changes.length && compareDisplayOrder(changes[next]!, message) < 0; next++) {
      const change = changes[next]!;
      if (change.state_key === null || serverOf(change.state_key) === server) continue;
      if (JOINS[change.event_type]) joined.add(change.state_key);
      else joined.delete(change.state_key);
    }
    if (joined.size === 0) nobody.add(message.event_id);
  }
  return nobody;
}

const CHANGE_KINDS: Readonly<Record<string, ChangeDelivery['kind']>> = {
  'm.message.edit': 'edit',
  'm.message.delete': 'delete',
  'm.reaction.add': 'reaction',
  'm.reaction.remove': 'reaction_removed',
};

/** A message's waiting changes shown at most (the latest ones). */
export const MAX_CHANGES_SHOWN = 5;

/**
 * The viewer's own changes of the given messages (edits, deletes, reactions added or taken back)
 * that a server of the room has not taken yet, or refused, per message, oldest first: a message
 * delivered to all may have an edit that still waits (the UI check of 2026-11-27: the edited text
 * showed "Delivered to all" while the edit waited for an offline friend). Only the latest change
 * of each thing counts (the last edit; per reaction key, the last add or take-back: toggling a
 * reaction ten times is one line; an add refused, then taken back and delivered, none), at most
 * MAX_CHANGES_SHOWN a message. Reads the viewer's own changes of these messages only, by the
 * (message, origin, sender) index.
 */
export function changesNotDelivered(db: Db, server: string, viewer: string, messageIds: readonly string[], isHeld?: (server: string) => boolean): Map<string, ChangeDelivery[]> {
  const result = new Map<string, ChangeDelivery[]>();
  for (let start = 0; start < messageIds.length; start += 200) {
    const chunk = messageIds.slice(start, start + 200);
    const marks = chunk.map(() => '?').join(',');
    // By the (message, origin, sender) index, named: the planner would take the covering relations
    // index and read every change of the message by anyone. All the viewer's changes, delivered or not:
    // the latest of each thing decides (a reaction taken back and delivered ends the line of the
    // earlier add that was refused), then only one with something left to say is shown.
    const changes = db
      .prepare<unknown[], { event_id: string; event_type: string; relates_to: string; key: string | null }>(
        `SELECT e.event_id, e.event_type, e.relates_to, json_extract(e.content, '$.key') AS key
           FROM federation_events e INDEXED BY federation_events_relates_sender
          WHERE e.relates_to IN (${marks}) AND e.relates_to IS NOT NULL AND e.origin_server = ? AND e.sender = ?
          ORDER BY e.depth, e.event_id`,
      )
      .all(...chunk, server, viewer)
      .filter((c) => CHANGE_KINDS[c.event_type] !== undefined);
    // The latest change of each thing of each message: later ones replace earlier ones.
    const latest = new Map<string, (typeof changes)[number]>();
    for (const change of changes) {
      const kind = CHANGE_KINDS[change.event_type]!;
      const thing = kind === 'reaction' || kind === 'reaction_removed' ? `reaction ${String(change.key)}` : kind;
      const key = `${change.relates_to} ${thing}`;
      latest.delete(key); // re-inserted last: the map keeps display order
      latest.set(key, change);
    }
    const kept = [...latest.values()];
    const deliveries = messageDeliveries(db, kept.map((c) => c.event_id), isHeld);
    for (const change of kept) {
      const delivery = deliveries.get(change.event_id)!;
      if (delivery.state === 'delivered') continue;
      let list = result.get(change.relates_to);
      if (!list) result.set(change.relates_to, (list = []));
      list.push({ event_id: change.event_id, kind: CHANGE_KINDS[change.event_type]!, delivery });
      if (list.length > MAX_CHANGES_SHOWN) list.shift();
    }
  }
  return result;
}
