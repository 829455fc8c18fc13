/**
 * Pull mode, serving side (issue #15): a peer that nobody can reach pulls the events we queued
 * for it instead of waiting for a push. Its outbox rows are the same rows the delivery worker
 * would push (same FIFO order per destination, same retention and `expired` state); they are
 * served by `GET /pull` in id order and deleted only when the peer acknowledges a cursor with
 * `POST /pull/ack` — so a peer killed mid-pull gets the same events again, and a sender killed
 * mid-pull still has every unacknowledged row. The rows the ack names as refused by the peer are
 * marked failed instead, with its refusal in the words a push's gets (outbox/delivery-outcomes.ts):
 * "not delivered", and the owner may send them again.
 *
 * The cursor is the outbox row id of the last event of a page (AUTOINCREMENT: ids never go back).
 */
import type { Db } from '../store/database.ts';
import type { ReadListener, OutboxRow } from '../outbox/outbox.ts';
import { KeyedWaiters } from '../util/keyed-waiters.ts';
import { peerFailure, refusalMeaning } from '../outbox/delivery-outcomes.ts';
import { HeldThere, type HeldByChange } from '../outbox/held-there.ts';
import { roomToRemember } from '../trust/servers-remembered.ts';

/** An event of an acknowledged page that the puller refused for good (pull/routes.ts validates it). */
export interface PulledRefusal {
  event_id: string;
  status: number;
  error: string;
}

/** A destination that has not pulled for this long is pushed to again (it may be reachable now). */
export const PULL_STALE_MS = 2 * 60_000;
/** The longest a `GET /pull` waits for new events (docs/PROTOCOL.md §Reachability: reach-probe and pull mode). */
export const MAX_PULL_WAIT_MS = 30_000;

export interface PullReceiver {
  server_name: string;
  last_pull_at: number;
  acked_cursor: number;
  last_ack_at: number | null;
}

/** A friend whose endpoint we could not reach when it peered (migration 23). */
export interface UnreachedPeer {
  server_name: string;
  endpoint: string;
  since: number;
  reason: string | null;
}

export class PullQueue {
  private readonly db: Db;
  private readonly waiters = new KeyedWaiters();
  private readonly receivers = new Map<string, PullReceiver>();
  private readonly unreached = new Map<string, UnreachedPeer>();
  private readonly pageStmt;
  private readonly ackStmt;
  private readonly touchStmt;
  private readonly forgetReceiverStmt;
  private readonly receiverAckStmt;
  private readonly ackedStmt;
  private readonly failStmt;
  private readonly attemptStmt;
  private readonly requeueStmt;
  private readonly deleteStmt;
  private readonly relatedAfterStmt;
  /** Given by the node's wiring: told of the rows an ack removes that its destination read, or holds for review (outbox.ts ReadListener). */
  onRead: ReadListener | null = null;
  /** Given by the node's wiring: told of every row an ack settles (the UI shows deliveries). */
  private readonly onSettled: ((rows: ReadonlyArray<{ event_id: string; room_id: string }>) => void) | null;
  /** Given by the node's wiring: told of every row an ack queues again, in its transaction (as Outbox's onQueued: the delivery worker then knows its queue is not empty). */
  private readonly onQueued: ((destination: string) => void) | null;

  /** How long after its last pull a destination is still served by pull (PULL_STALE_MS; tests shorten it). */
  private readonly staleMs: number;

  /** What friends' nodes hold of ours for review (shared with the outbox: the node's one HeldThere). */
  private readonly heldThere: HeldThere;

  /** Servers the owner allowed (a peer row that says so): remembered past the bound (roomForReceiver). */
  private readonly ownerAllowed: (server: string) => boolean;

  constructor(
    db: Db,
    listeners: { onRead?: ReadListener; onSettled?: (rows: ReadonlyArray<{ event_id: string; room_id: string }>) => void; onQueued?: (destination: string) => void; ownerAllowed?: (server: string) => boolean } = {},
    staleMs = PULL_STALE_MS,
    heldThere: HeldThere = new HeldThere(db),
  ) {
    this.db = db;
    this.ownerAllowed = listeners.ownerAllowed ?? (() => false);
    this.heldThere = heldThere;
    this.onSettled = listeners.onSettled ?? null;
    this.onQueued = listeners.onQueued ?? null;
    this.staleMs = staleMs;
    this.onRead = listeners.onRead ?? null;
    this.pageStmt = db.prepare<[string, number, number], OutboxRow>(
      "SELECT * FROM federation_outbox WHERE destination = ? AND state = 'pending' AND id > ? ORDER BY id LIMIT ?",
    );
    this.ackStmt = db.prepare("DELETE FROM federation_outbox WHERE destination = ? AND state = 'pending' AND id <= ?");
    this.ackedStmt = db.prepare<[string, number], { id: number; event_id: string; room_id: string }>(
      "SELECT id, event_id, room_id FROM federation_outbox WHERE destination = ? AND state = 'pending' AND id <= ? ORDER BY id",
    );
    // As Outbox.settle marks an entry its destination refused (and logs the attempt).
    this.failStmt = db.prepare("UPDATE federation_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ? AND state = 'pending'");
    this.attemptStmt = db.prepare(
      'INSERT INTO federation_delivery_attempts (destination, event_id, status, error, latency_ms, batch_size, attempted_at) VALUES (?, ?, ?, ?, 0, 1, ?)',
    );
    // A fresh row for an event to be sent again: after every cursor given out, so the next pull serves it.
    this.deleteStmt = db.prepare('DELETE FROM federation_outbox WHERE id = ?');
    // Through the events' relates_to index: only what refers to one event (its edits, deletion, reactions).
    this.relatedAfterStmt = db.prepare<[string, string, number, number], { id: number; event_id: string; room_id: string }>(
      `SELECT o.id, o.event_id, o.room_id FROM federation_events e JOIN federation_outbox o ON o.event_id = e.event_id AND o.destination = ?
       WHERE e.relates_to = ? AND o.state = 'pending' AND o.id > ? AND o.id <= ? ORDER BY o.id`,
    );
    this.requeueStmt = db.prepare('INSERT INTO federation_outbox (destination, event_id, room_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)');
    this.receiverAckStmt = db.prepare(
      `INSERT INTO pull_receivers (server_name, last_pull_at, acked_cursor, last_ack_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (server_name) DO UPDATE SET last_pull_at = excluded.last_pull_at, acked_cursor = MAX(acked_cursor, excluded.acked_cursor), last_ack_at = excluded.last_ack_at`,
    );
    this.forgetReceiverStmt = db.prepare('DELETE FROM pull_receivers WHERE server_name = ?');
    this.touchStmt = db.prepare(
      `INSERT INTO pull_receivers (server_name, last_pull_at) VALUES (?, ?)
       ON CONFLICT (server_name) DO UPDATE SET last_pull_at = excluded.last_pull_at`,
    );
    for (const row of db.prepare<[], PullReceiver>('SELECT * FROM pull_receivers').all()) this.receivers.set(row.server_name, row);
    for (const row of db.prepare<[], UnreachedPeer>('SELECT * FROM unreached_peers').all()) this.unreached.set(row.server_name, row);
  }

  /**
   * Whether a destination receives by pull now: it pulled from us recently, or it is a friend
   * whose endpoint we never reached (it redeemed our invite link from behind a router): nothing
   * is pushed to an endpoint a peer named until a reach-probe proves it (issue #32).
   */
  isPullDestination(destination: string, now = Date.now()): boolean {
    if (this.unreached.has(destination)) return true;
    return now - lastPullAt(this.receivers.get(destination), now) < this.staleMs;
  }

  /** Whether `destination` pulled from us lately. */
  pulledRecently(destination: string, now = Date.now()): boolean {
    return now - lastPullAt(this.receivers.get(destination), now) < this.staleMs;
  }

  /**
   * When `destination` stops being served by pull unless it pulls again (its last pull plus the
   * stale time), or null when that is not up to time: it does not pull from us, or its endpoint
   * was never reached (it waits for a reach-probe instead).
   */
  pullLapsesAt(destination: string, now = Date.now()): number | null {
    const receiver = this.receivers.get(destination);
    return receiver === undefined || this.unreached.has(destination) ? null : lastPullAt(receiver, now) + this.staleMs;
  }

  /** Why we wait for `destination` to pull (its endpoint was never reached), or null. */
  unreachedReason(destination: string): UnreachedPeer | null {
    return this.unreached.get(destination) ?? null;
  }

  /** A peer whose endpoint could not be reached when it peered with us: served by pull only. */
  markUnreached(destination: string, endpoint: string, reason: string, now = Date.now()): void {
    this.db
      .prepare('INSERT INTO unreached_peers (server_name, endpoint, since, reason) VALUES (?, ?, ?, ?) ON CONFLICT (server_name) DO UPDATE SET endpoint = excluded.endpoint, since = excluded.since, reason = excluded.reason')
      .run(destination, endpoint, now, reason);
    this.unreached.set(destination, { server_name: destination, endpoint, since: now, reason });
  }

  /**
   * Its endpoint is proven (a reach-probe through us called it back, or the owner set it): it may
   * be pushed to again. True when it was waiting for that.
   */
  markReached(destination: string): boolean {
    if (!this.unreached.has(destination)) return false;
    this.db.prepare('DELETE FROM unreached_peers WHERE server_name = ?').run(destination);
    this.unreached.delete(destination);
    return true;
  }

  receiver(destination: string): PullReceiver | undefined {
    return this.receivers.get(destination);
  }

  /** Records that a destination pulls from us (persisted at most every few seconds: well within its window). */
  touch(destination: string, now = Date.now()): void {
    const known = this.receivers.get(destination);
    if (known && now - lastPullAt(known, now) < Math.min(5_000, this.staleMs / 4)) return;
    if (!known && !this.roomForReceiver(destination, now)) return;
    this.touchStmt.run(destination, now);
    this.receivers.set(destination, { server_name: destination, last_pull_at: now, acked_cursor: known?.acked_cursor ?? 0, last_ack_at: known?.last_ack_at ?? null });
  }

  /** The highest outbox id ever given out (a cursor above it is not one of ours). */
  private highestId(): number {
    return this.db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'federation_outbox'").get()?.seq ?? 0;
  }

  /** Whether a cursor could have come from this server (at most the highest id given out). */
  isKnownCursor(cursor: number): boolean {
    return cursor <= this.highestId();
  }

  /** Pending rows after the cursor, oldest first. A cursor from the future (not ours) counts as 0. */
  page(destination: string, cursor: number, limit: number): OutboxRow[] {
    const from = cursor > this.highestId() ? 0 : cursor;
    return this.pageStmt.all(destination, from, limit);
  }

  /**
   * Settles every pending row of `destination` up to the cursor: those whose event it names in
   * `refused` are marked failed with its refusal (`HTTP 403 not_member`, as a push refused so);
   * the others are deleted, delivered. A refusal that is no failure (refusalMeaning, as for a
   * push): `409 event_id_conflict` (it holds another version of that event) counts as delivered;
   * `409 depth_too_old` of a row that `resend` signs again (in this transaction: true when it did)
   * gets a fresh row after every cursor, served again (`resent`), instead of failing; and so does
   * a later row of the same room refused in the same ack (an edit or deletion of the event signed
   * again, refused for its absence: `requeued`), as a push's batch has them tried again
   * (reissue-too-old.ts), and every row queued after the cursor of an event that refers to one
   * signed again (an edit in a page not acknowledged yet: served before the event it edits, it
   * would be refused for its absence). A refused row `resend` does not sign again fails. A
   * refusal of an event that is not one of its rows up to the cursor is ignored. All count as read
   * by the destination (ReadListener: a refusal is its own node's answer), but for those it
   * names in `held` (capability `pull_held`): it holds them for review (it keeps our server in
   * quarantine), noted as a push receipt saying `held` is
   * (held-there.ts), and not applied there. An ack that names what it held (`held` given, even
   * empty), names none of our own events among them, and covers at least one of ours it took,
   * says the puller takes ours as any other (what we relay for others says nothing). How many
   * were deleted and failed. Run it inside the caller's transaction (the ack route's group commit),
   * or it commits on its own.
   */
  ack(destination: string, cursor: number, refused: readonly PulledRefusal[] = [], now = Date.now(), held?: readonly string[], resend: (row: { event_id: string; room_id: string }) => boolean = () => false): { acknowledged: number; failed: number; resent: string[]; requeued: string[] } {
    let line: HeldByChange = null as HeldByChange;
    /** Whether the ack's receiver row was written (roomForReceiver). */
    let recorded = true;
    const settled = this.db.transaction(() => {
      line = null;
      recorded = true;
      const rows = this.onRead || this.onSettled || refused.length > 0 || held !== undefined ? this.ackedStmt.all(destination, cursor) : [];
      let failed = 0;
      const refusedIds = new Set<string>();
      const resent: string[] = [];
      const requeued: string[] = [];
      /** The last row queued before this ack: rows it queues again come after it. */
      const top = refused.length > 0 ? this.highestId() : 0;
      if (refused.length > 0) {
        /** Rooms with an event signed again by this ack: a later refused row of one goes again after it. */
        const resentRooms = new Set<string>();
        const again = (row: { id: number; event_id: string; room_id: string }) => {
          this.deleteStmt.run(row.id);
          this.requeueStmt.run(destination, row.event_id, row.room_id, now, now);
          this.onQueued?.(destination);
        };
        const byEvent = new Map(refused.map((r) => [r.event_id, r]));
        for (const row of rows) {
          const refusal = byEvent.get(row.event_id);
          if (!refusal) continue;
          const meaning = refusalMeaning(refusal.status, refusal.error);
          if (meaning === 'delivered') continue;
          const error = peerFailure(refusal.status, refusal.error, undefined);
          this.attemptStmt.run(destination, row.event_id, refusal.status, error, now);
          refusedIds.add(row.event_id);
          if (meaning === 'resend_late' && resend(row)) {
            again(row);
            resent.push(row.event_id);
            resentRooms.add(row.room_id);
            continue;
          }
          if (meaning !== 'resend_late' && resentRooms.has(row.room_id)) {
            again(row);
            requeued.push(row.event_id);
            continue;
          }
          failed += this.failStmt.run(error, now, row.id).changes;
        }
        // What refers to an event signed again, queued after the cursor, goes after it too, in its order.
        for (const eventId of resent) {
          for (const row of this.relatedAfterStmt.all(destination, eventId, cursor, top)) {
            again(row);
            requeued.push(row.event_id);
          }
        }
      }
      let read = rows;
      let heldRows: typeof rows = [];
      if (held !== undefined) {
        const heldIds = new Set(held);
        heldRows = rows.filter((row) => heldIds.has(row.event_id) && !refusedIds.has(row.event_id));
        let heldOurs = false;
        const taken: string[] = [];
        for (const row of rows) {
          if (refusedIds.has(row.event_id)) continue;
          if (heldIds.has(row.event_id)) heldOurs = this.heldThere.noteHeld(destination, row.event_id, now) || heldOurs;
          else {
            this.heldThere.noteTaken(destination, row.event_id);
            taken.push(row.event_id);
          }
        }
        // Taken as any other: it named what it held, none of our own events it covers among them,
        // and at least one of ours not (a page of refusals, or of other servers' events we relay
        // as a room's host, says nothing of how it takes ours). Asked only while its line is set.
        const takenAsAny = !heldOurs && this.heldThere.mayHoldOurs(destination) && this.heldThere.anyOwn(taken);
        line = this.heldThere.settleLine(destination, heldOurs, takenAsAny, now);
        // Not read there yet: kept aside, not applied (a ban it holds is no ban it knows: ReadListener's `held`).
        if (heldRows.length > 0) read = rows.filter((row) => !heldIds.has(row.event_id) || refusedIds.has(row.event_id));
      }
      if (this.onRead && read.length > 0) this.onRead(destination, read);
      if (this.onRead && heldRows.length > 0) this.onRead(destination, heldRows, true);
      if (this.onSettled && rows.length > 0) this.onSettled(rows);
      const acknowledged = this.ackStmt.run(destination, cursor).changes;
      if (this.receivers.has(destination) || this.roomForReceiver(destination, now)) this.receiverAckStmt.run(destination, now, cursor, now);
      else recorded = false;
      return { acknowledged, failed, resent, requeued };
    })();
    // This usually runs inside the caller's transaction, whose commit comes later: only what is safe
    // before it is applied. A set that says "look in the table" for a destination without a row
    // costs one lookup; one that forgot a row would hide the friend's line until a restart.
    if (line === 'add') this.heldThere.applied(destination, line);
    const known = this.receivers.get(destination);
    if (recorded) this.receivers.set(destination, { server_name: destination, last_pull_at: now, acked_cursor: Math.max(known?.acked_cursor ?? 0, cursor), last_ack_at: now });
    return settled;
  }

  /**
   * Whether one more server may be remembered as a pull receiver (each server that pulls is a row,
   * read whole at start; under an open trust policy any server that signs could add one: a
   * helper's review, 2026-11-29): at MAX_SERVERS_REMEMBERED, the receivers that stopped pulling
   * (past the stale time, so served by push again: nothing reads their row) are forgotten first; if
   * none has, the new one is not remembered (its pages are still served; it is pushed to instead).
   * A server the owner allowed is remembered all the same: the owner's own peers are few, and a
   * stranger that keeps the table full must not keep a new friend out.
   */
  private readonly receiversPruned = { at: -Infinity };

  private roomForReceiver(server: string, now: number): boolean {
    if (this.ownerAllowed(server)) return true;
    return roomToRemember(this.receivers, now, this.receiversPruned,
      (server, receiver) => !this.unreached.has(server) && now - lastPullAt(receiver, now) >= this.staleMs,
      (servers) => this.db.transaction(() => servers.forEach((server) => this.forgetReceiverStmt.run(server)))());
  }

  /** Waits until new events are queued for `destination`, the time is up, or the signal fires. */
  wait(destination: string, ms: number, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(destination, Math.min(ms, MAX_PULL_WAIT_MS), signal);
  }

  /** New events for `destination`: wakes its waiting pulls. */
  notify(destination: string): void {
    this.waiters.notify(destination);
  }

  /** Wakes every waiting pull (the node is stopping). */
  wakeAll(): void {
    this.waiters.notifyAll();
  }
}

/**
 * When a receiver last pulled, as this clock reads: a time ahead of it (the clock was set back, or
 * the data directory came from a machine whose clock ran ahead) is no pull at all. Taken as
 * "just now", it would keep the receiver a pull destination, pushed nothing, until the clock
 * caught up, and its pulls would not be written again meanwhile.
 */
function lastPullAt(receiver: PullReceiver | undefined, now: number): number {
  return receiver === undefined || receiver.last_pull_at > now ? -Infinity : receiver.last_pull_at;
}
