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
 * A destination that took it and holds it for review (its receipt said `held: true`: it keeps
 * this server in quarantine) is noted too (delivery_held_there): `held_there`, shown instead of a
 * bare "Delivered".
 * What the rows cannot say once gone is noted (delivery_notes): a message stored when no other
 * server was to receive it (`to_nobody`), and an entry the owner dropped (refused, reason 'dropped').
 */
import type { Db } from '../store/database.ts';
import { destinationNextAttemptSql } from '../outbox/outbox.ts';
import type { ChangeDelivery, MessageDelivery } from '../../../shared/contract/admin-operations.ts';
import { ownValue } from '../../../shared/own-value.ts';

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
    // `taken`: its destination fetched it and keeps it to take in later (mailbox_deposits_taken).
    const left = db
      .prepare<string[], { event_id: string; destination: string; mailbox: string; taken: number }>(
        `SELECT d.event_id, d.destination, d.mailbox, t.since IS NOT NULL AS taken FROM mailbox_deposits d
           LEFT JOIN mailbox_deposits_taken t ON t.mailbox = d.mailbox AND t.deposit_id = d.deposit_id
         WHERE d.event_id IN (${chunk.map(() => '?').join(',')}) ORDER BY d.destination`,
      )
      .all(...chunk);
    for (const row of left) {
      const delivery = result.get(row.event_id)!;
      (delivery.at_mailbox ??= []).push({ server: row.destination, mailbox: row.mailbox, ...(row.taken === 1 ? { taken: true as const } : {}) });
    }
    // Taken from a mailbox too late for the room's host, not yet queued again (mailbox/deposits.ts): still to reach it.
    const late = db
      .prepare<string[], { event_id: string; destination: string }>(`SELECT event_id, destination FROM mailbox_taken_late WHERE event_id IN (${chunk.map(() => '?').join(',')})`)
      .all(...chunk);
    for (const row of late) {
      const delivery = result.get(row.event_id)!;
      if (!delivery.pending_servers.includes(row.destination)) delivery.pending_servers.push(row.destination);
    }
    // Taken by a destination that holds it for review (it keeps this server in quarantine: migration 49).
    const heldThere = db
      .prepare<string[], { event_id: string; destination: string }>(`SELECT event_id, destination FROM delivery_held_there WHERE event_id IN (${chunk.map(() => '?').join(',')}) ORDER BY destination`)
      .all(...chunk);
    for (const row of heldThere) (result.get(row.event_id)!.held_there ??= []).push(row.destination);
    // What the rows no longer say (migration 41): sent to nobody (no other server was to receive
    // it), and entries the owner dropped (not delivered there, unless it is queued there again).
    const notes = db
      .prepare<string[], { event_id: string; destination: string; note: 'nobody' | 'dropped' }>(`SELECT event_id, destination, note FROM delivery_notes WHERE event_id IN (${chunk.map(() => '?').join(',')})`)
      .all(...chunk);
    for (const row of notes) {
      const delivery = result.get(row.event_id)!;
      if (row.note === 'nobody') delivery.to_nobody = true;
      // Unless a row or a late take names that server again (queued again, or it refused a copy).
      else if (!delivery.pending_servers.includes(row.destination) && !delivery.refused.some((r) => r.server === row.destination)) delivery.refused.push({ server: row.destination, reason: 'dropped' });
    }
  }
  for (const delivery of result.values()) {
    delivery.state = delivery.refused.length > 0 ? 'refused' : delivery.pending_servers.length > 0 || (delivery.at_mailbox?.length ?? 0) > 0 ? 'waiting' : 'delivered';
    if (delivery.state !== 'delivered') delete delivery.to_nobody;
  }
  return result;
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
 * that a server of the room has not taken yet, refused, or holds for review, per message, oldest first: a message
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
      .filter((c) => ownValue(CHANGE_KINDS, c.event_type) !== undefined);
    // The latest change of each thing of each message: later ones replace earlier ones.
    const latest = new Map<string, (typeof changes)[number]>();
    for (const change of changes) {
      const kind = ownValue(CHANGE_KINDS, change.event_type)!;
      const thing = kind === 'reaction' || kind === 'reaction_removed' ? `reaction ${String(change.key)}` : kind;
      const key = `${change.relates_to} ${thing}`;
      latest.delete(key); // re-inserted last: the map keeps display order
      latest.set(key, change);
    }
    const kept = [...latest.values()];
    const deliveries = messageDeliveries(db, kept.map((c) => c.event_id), isHeld);
    for (const change of kept) {
      const delivery = deliveries.get(change.event_id)!;
      if (delivery.state === 'delivered' && !delivery.held_there) continue;
      let list = result.get(change.relates_to);
      if (!list) result.set(change.relates_to, (list = []));
      list.push({ event_id: change.event_id, kind: ownValue(CHANGE_KINDS, change.event_type)!, delivery });
      if (list.length > MAX_CHANGES_SHOWN) list.shift();
    }
  }
  return result;
}
