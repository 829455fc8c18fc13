/**
 * The outbound queue (docs/ARCHITECTURE.md §Outbound delivery: the outbox): one row per (destination, event), written in the same
 * transaction as the event, removed only once the destination acknowledged it (2xx).
 */
import type { DeliveryAttempt, QueuedRow } from '../../../shared/contract/admin/queue.ts';
import { transactionWithoutFsync, type Db } from '../store/database.ts';
import { HeldThere, type HeldByChange } from './held-there.ts';
import { cleanText } from '../util/untrusted-text.ts';

/** An outbox row's and an attempt's error, at most (a peer's words in it were cut before; this holds whatever reaches it). */
const MAX_STORED_ERROR_CHARS = 2_000;
/** Escaped first, then cut: an escape is up to six characters for one. */
const storedError = (error: string): string => {
  const escaped = cleanText(error, MAX_STORED_ERROR_CHARS);
  return escaped.length > MAX_STORED_ERROR_CHARS ? `${escaped.slice(0, MAX_STORED_ERROR_CHARS)}…` : escaped;
};

export interface OutboxRow extends QueuedRow {
  updated_at: number;
}

/** One delivery attempt, as the admin contract lists it. */
export type AttemptRow = DeliveryAttempt;

/** A destination's waiting rows in short (`Outbox.pendingSummary`). */
export interface PendingSummary {
  waiting: number;
  retrying_since: number | null;
  next_attempt_at: number | null;
  last_error: string | null;
}

/** How one attempt ended for one entry. */
export type Outcome =
  /**
   * `atMailbox`: a friend's mailbox took it for the destination (not read by the destination:
   * ReadListener). `heldThere`: the destination took it and holds it for review (its receipt said
   * `held: true`: it keeps our server in quarantine), noted in delivery_held_there. `inserted`: its
   * receipt said it stored it now (not a copy of what it stored before).
   */
  | { kind: 'delivered'; status: number; atMailbox?: true; heldThere?: true; inserted?: true }
  | { kind: 'retry'; status: number | null; error: string; nextAttemptAt: number }
  /** The peer asked us to slow down (push-pacer.ts): stays pending, attempts and next attempt unchanged. */
  | { kind: 'paced'; status: number; error: string }
  /** `byDestination`: its node's own answer refused it (a federation error code in JSON), not a proxy's page, a mailbox or this node. */
  | { kind: 'failed'; status: number | null; error: string; byDestination?: true };

/**
 * Told of entries a destination's node read, inside the transaction that settles them: those it
 * acknowledged, and those its node's own answer refused for good (`byDestination`: a ban it
 * refused is a ban it has, rooms/room-bans.ts; a proxy's error page, a mailbox's answer or our
 * own refusal to carry is not its). Nor a deposit at a friend's mailbox: the mailbox's word (that it
 * took it, or later that it is gone) is not the destination's, and a ban counted as known on a
 * mailbox's word would count an honest server's users' events against it (red team, 2026-11-28).
 * `held`: rows it took and holds for review (it keeps our server in quarantine): not read there
 * yet; a ban it keeps holding counts as known only after a grace (rooms/inbound-events.ts).
 */
export type ReadListener = (destination: string, rows: ReadonlyArray<{ event_id: string; room_id: string }>, held?: boolean) => void;

/** What the node's wiring tells an outbox to report (node/node-bus.ts): given to the constructor. */
export interface OutboxListeners {
  onRead?: ReadListener;
  onSettled?: (rows: ReadonlyArray<{ event_id: string; room_id: string }>) => void;
  onQueued?: (destination: string) => void;
}

/**
 * When a destination is tried next, as SQL (`destination`: the parameter naming it): its oldest
 * waiting row's next attempt. The delivery worker goes by its head (FIFO): a row queued behind it,
 * never tried, has 0 but waits as long. One text for the peer's line, a room's wait and each
 * message's (rooms/message-delivery.ts).
 */
export const destinationNextAttemptSql = (destination: string): string =>
  `SELECT next_attempt_at FROM federation_outbox WHERE destination = ${destination} AND state = 'pending' ORDER BY id LIMIT 1`;

/** Up to how many waiting entries of a destination are told apart as messages or not (Outbox.waitingMessages). */
export const WAITING_BY_KIND_MAX = 500;

export class Outbox {
  /** Given by the node's wiring (rooms record when a ban reached the banned user's server). */
  private readonly onRead: ReadListener | null;
  /** Given by the node's wiring: told, after the commit, of every entry an attempt's outcome changed (the UI shows deliveries). */
  private readonly onSettled: ((rows: ReadonlyArray<{ event_id: string; room_id: string }>) => void) | null;
  /**
   * Told of every row queued, inside the transaction that queues it (before its commit and before
   * any kick): the delivery workers then know their queue is no longer empty (delivery-worker.ts).
   */
  private readonly onQueued: ((destination: string) => void) | null;
  private readonly db: Db;
  /** When this outbox was made (the node's start): entries untouched since then are not expired before one attempt… */
  private readonly startedAt = Date.now();
  /** …to their destination: once one was made in this run, all its old entries may expire (not one per attempt). */
  private readonly attempted = new Set<string>();
  private readonly enqueueStmt;
  private readonly headStmt;
  private readonly deleteStmt;
  private readonly retryStmt;
  private readonly failStmt;
  private readonly pacedStmt;
  private pendingSummaryStmt: import('better-sqlite3').Statement<[{ destination: string }], PendingSummary> | undefined;
  private pendingForRoomStmt: import('better-sqlite3').Statement<[{ destination: string; room: string }], { waiting: number; next_attempt_at: number | null }> | undefined;
  private insertAttemptStmt: import('better-sqlite3').Statement<[string, string, number | null, string | null, number, number, number]> | undefined;
  private nobodyStmt: import('better-sqlite3').Statement<[string]> | undefined;
  /** What friends' nodes hold of ours for review (held-there.ts), shared with pull mode's acks. */
  private readonly heldThere: HeldThere;
  /** failAfterDeposit's: prepared once, at its first use (a refusal told through a mailbox is rare). */
  private failAfterDepositStmt: import('better-sqlite3').Statement<[string, string, string, string, number, number]> | undefined;

  constructor(db: Db, listeners: OutboxListeners = {}, heldThere: HeldThere = new HeldThere(db)) {
    this.db = db;
    this.heldThere = heldThere;
    this.onRead = listeners.onRead ?? null;
    this.onSettled = listeners.onSettled ?? null;
    this.onQueued = listeners.onQueued ?? null;
    this.enqueueStmt = db.prepare(
      `INSERT INTO federation_outbox (destination, event_id, room_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (event_id, destination) DO NOTHING`,
    );
    this.headStmt = db.prepare<[string, number], OutboxRow>(
      "SELECT * FROM federation_outbox WHERE destination = ? AND state = 'pending' ORDER BY id LIMIT ?",
    );
    this.deleteStmt = db.prepare('DELETE FROM federation_outbox WHERE id = ?');
    this.retryStmt = db.prepare('UPDATE federation_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?');
    this.pacedStmt = db.prepare('UPDATE federation_outbox SET last_error = ?, updated_at = ? WHERE id = ?');
    this.failStmt = db.prepare("UPDATE federation_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?");
  }

  /**
   * Queues an event for a destination; call inside the transaction that stores the event. The new
   * row as stored (null when the destination already had this event queued).
   */
  enqueue(destination: string, eventId: string, roomId: string, now = Date.now()): OutboxRow | null {
    const { changes, lastInsertRowid } = this.enqueueStmt.run(destination, eventId, roomId, now, now);
    if (changes !== 1) return null;
    this.onQueued?.(destination);
    return { id: Number(lastInsertRowid), destination, event_id: eventId, room_id: roomId, state: 'pending', attempts: 0, next_attempt_at: 0, last_error: null, created_at: now, updated_at: now };
  }

  /** Pending entries of a destination after a given id (the batch after the one in flight). */
  headAfter(destination: string, afterId: number, limit: number): OutboxRow[] {
    return this.db
      .prepare<[string, number, number], OutboxRow>("SELECT * FROM federation_outbox WHERE destination = ? AND state = 'pending' AND id > ? ORDER BY id LIMIT ?")
      .all(destination, afterId, limit);
  }

  /** The oldest pending entries of a destination (FIFO keeps per-room order). */
  head(destination: string, limit = 1): OutboxRow[] {
    return this.headStmt.all(destination, limit);
  }

  fail(id: number, reason: string, now = Date.now()): void {
    this.failStmt.run(reason, now, id);
  }

  /**
   * Records the outcome of one attempt for each entry, with its attempt row, in one transaction
   * that does not wait for the disk: lost on a power failure, a delivered entry is sent again
   * (receivers drop copies by event id) and a retry is tried again; the main thread no longer
   * stops for an fsync after every delivery request (issue #17). `alsoWrite` runs in the same
   * transaction: what must be written with the rows' deletion or not at all (a deposit's record:
   * written apart, its failure left the events nowhere, read as delivered for good).
   */
  settle(destination: string, settled: ReadonlyArray<{ row: OutboxRow; outcome: Outcome }>, latencyMs: number, now = Date.now(), alsoWrite?: () => void): void {
    this.attempted.add(destination);
    const insertAttempt = this.attemptStmt();
    // A request whose events were all delivered is one attempt row (its first event, and the batch
    // size): at saturation the per-event rows were 99 of every 100 inserts of a delivery's outcome
    // (issue #17). Anything else keeps a row per event, with that event's status and error.
    const wholeBatch = settled.length > 1 && settled.every((s) => s.outcome.kind === 'delivered');
    // What the in-memory sets learn, applied once the transaction committed (not after a rollback).
    let heldBy: HeldByChange = null;
    transactionWithoutFsync(this.db, () => {
      // Whether this delivery held any of our own events there, or stored one there as any other
      // (a copy of what it stored before it held us answers not inserted, and not held: no sign).
      let heldOurs = false;
      let takenDirect = false;
      for (const { row, outcome } of settled) {
        // Delivered after the owner dropped its entry (the attempt was under way): not "not delivered" there.
        if (outcome.kind === 'delivered') {
          if (this.deleteStmt.run(row.id).changes === 0) this.db.prepare("DELETE FROM delivery_notes WHERE event_id = ? AND destination = ? AND note = 'dropped'").run(row.event_id, row.destination);
          if (outcome.heldThere) heldOurs = this.heldThere.noteHeld(destination, row.event_id, now) || heldOurs;
          else if (outcome.atMailbox !== true) {
            if (outcome.inserted === true) takenDirect = true;
            this.heldThere.noteTaken(destination, row.event_id);
          }
        }
        // Whatever words an outcome carries, the row keeps at most MAX_STORED_ERROR_CHARS of them, escaped.
        const error = outcome.kind === 'delivered' ? null : storedError(outcome.error);
        if (outcome.kind === 'retry') this.retryStmt.run(outcome.nextAttemptAt, error, now, row.id);
        else if (outcome.kind === 'paced') this.pacedStmt.run(error, now, row.id);
        else if (outcome.kind !== 'delivered') this.failStmt.run(error, now, row.id);
        if (!wholeBatch) insertAttempt.run(destination, row.event_id, outcome.status, error, Math.round(latencyMs), settled.length, now);
      }
      heldBy = this.heldThere.settleLine(destination, heldOurs, takenDirect, now);
      const first = settled[0];
      if (wholeBatch && first) insertAttempt.run(destination, first.row.event_id, first.outcome.status, null, Math.round(latencyMs), settled.length, now);
      if (this.onRead) {
        // Not one it holds for review: kept aside there, not applied (a ban it holds is no ban it knows).
        const read = settled.filter((s) => (s.outcome.kind === 'delivered' && s.outcome.atMailbox !== true && s.outcome.heldThere !== true) || (s.outcome.kind === 'failed' && s.outcome.byDestination === true)).map((s) => s.row);
        if (read.length > 0) this.onRead(destination, read);
        const held = settled.filter((s) => s.outcome.kind === 'delivered' && s.outcome.heldThere === true).map((s) => s.row);
        if (held.length > 0) this.onRead(destination, held, true);
      }
      alsoWrite?.();
    });
    this.heldThere.applied(destination, heldBy);
    this.onSettled?.(settled.map((s) => s.row));
  }

  /**
   * Marks pending entries older than `maxAgeMs` as expired (kept, visible, never retried), of one
   * destination or of all: how many, which, and their destinations (whose waits they may have
   * headed). Only entries touched since this outbox was made (queued, tried or paced in this run of
   * the node), or whose destination was tried in this run: after the node was off or paused past
   * the age, every waiting message expired at start without a single attempt (a helper's audit,
   * 2026-11-28); now its destination is tried once first.
   * Their messages' screens are told (onSettled), as after an attempt: an open room said "next try in …".
   */
  expireOlderThan(maxAgeMs: number, now = Date.now(), destination: string | null = null): { count: number; ids: Set<number>; destinations: string[] } {
    const rows = this.db
      .prepare<[number, number, number, string, string | null, string | null], { id: number; destination: string; event_id: string; room_id: string }>(
        `UPDATE federation_outbox SET state = 'expired', last_error = COALESCE(last_error, '') || ' (expired: undelivered for too long)', updated_at = ?
         WHERE state = 'pending' AND created_at < ? AND (updated_at >= ? OR destination IN (SELECT value FROM json_each(?))) AND (? IS NULL OR destination = ?)
         RETURNING id, destination, event_id, room_id`,
      )
      .all(now, now - maxAgeMs, this.startedAt, JSON.stringify([...this.attempted]), destination, destination);
    if (rows.length > 0) this.onSettled?.(rows);
    return { count: rows.length, ids: new Set(rows.map((r) => r.id)), destinations: [...new Set(rows.map((r) => r.destination))] };
  }

  get(id: number): OutboxRow | undefined {
    return this.db.prepare<[number], OutboxRow>('SELECT * FROM federation_outbox WHERE id = ?').get(id);
  }

  private attemptStmt() {
    return (this.insertAttemptStmt ??= this.db.prepare(
      'INSERT INTO federation_delivery_attempts (destination, event_id, status, error, latency_ms, batch_size, attempted_at) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ));
  }

  /**
   * An event its destination refused for good after a friend's mailbox carried it
   * (mailbox/deposits.ts): its entry went when the mailbox took it, and is written again, failed
   * with the refusal (`HTTP 403 not_member`), as a push refused so would be; its owner may send it
   * again (retry). Not told as read by the destination (ReadListener): it is the mailbox's word.
   * Nothing when an entry for it is there already (queued again meanwhile). Run it in the
   * caller's transaction. Whether it was written.
   */
  failAfterDeposit(destination: string, eventId: string, roomId: string, error: string, status: number, now = Date.now()): boolean {
    this.failAfterDepositStmt ??= this.db.prepare<[string, string, string, string, number, number]>(
      "INSERT INTO federation_outbox (destination, event_id, room_id, state, attempts, last_error, created_at, updated_at) VALUES (?, ?, ?, 'failed', 1, ?, ?, ?) ON CONFLICT (event_id, destination) DO NOTHING",
    );
    const written = this.failAfterDepositStmt.run(destination, eventId, roomId, error, now, now).changes > 0;
    if (written) {
      this.attemptStmt().run(destination, eventId, status, error, 0, 1, now);
    }
    return written;
  }

  /**
   * Admin: send a failed or expired entry again, as a fresh entry: a new id (after every cursor a
   * friend that pulls from us has acknowledged: under its old id the entry sat below that cursor,
   * never served, and deleted by the friend's next ack as if delivered) and its age restarts. The
   * new entry, or undefined when `id` is no failed or expired entry.
   */
  retry(id: number, now = Date.now()): OutboxRow | undefined {
    return this.db.transaction(() => {
      const row = this.db
        .prepare<[number], OutboxRow>("DELETE FROM federation_outbox WHERE id = ? AND state IN ('failed', 'expired') RETURNING *")
        .get(id);
      if (!row) return undefined;
      const fresh = this.enqueue(row.destination, row.event_id, row.room_id, now);
      return fresh ?? undefined;
    })();
  }

  /**
   * Admin: give up on an entry. Noted for its message, which then says so (not "delivered to
   * all"); an attempt under way that is then delivered takes the note back (settle).
   */
  drop(id: number): boolean {
    const dropped = this.db.transaction(() => {
      const row = this.get(id);
      if (!row || this.deleteStmt.run(id).changes !== 1) return null;
      this.db.prepare("INSERT OR REPLACE INTO delivery_notes (event_id, destination, note) VALUES (?, ?, 'dropped')").run(row.event_id, row.destination);
      return row;
    })();
    // Its message's delivery changed: an open room shows it (as an attempt's outcome would).
    if (dropped) this.onSettled?.([dropped]);
    return dropped !== null;
  }

  /** An own message stored with no server to send it to (inside its storing transaction): its page says "Sent", not "delivered to all". */
  noteSentToNobody(eventId: string): void {
    (this.nobodyStmt ??= this.db.prepare("INSERT OR IGNORE INTO delivery_notes (event_id, destination, note) VALUES (?, '', 'nobody')")).run(eventId);
  }

  attempts(destination: string | undefined, limit: number): AttemptRow[] {
    return destination
      ? this.db.prepare<[string, number], AttemptRow>('SELECT * FROM federation_delivery_attempts WHERE destination = ? ORDER BY id DESC LIMIT ?').all(destination, limit)
      : this.db.prepare<[number], AttemptRow>('SELECT * FROM federation_delivery_attempts ORDER BY id DESC LIMIT ?').all(limit);
  }

  /** Keeps the attempts log bounded: rows older than `maxAgeMs`, and beyond `maxRows`, go. */
  pruneAttempts(maxAgeMs: number, maxRows: number, now = Date.now()): void {
    this.db.prepare('DELETE FROM federation_delivery_attempts WHERE attempted_at < ?').run(now - maxAgeMs);
    this.db.prepare('DELETE FROM federation_delivery_attempts WHERE id <= (SELECT MAX(id) FROM federation_delivery_attempts) - ?').run(maxRows);
  }

  private readonly failingCache = new Map<string, { at: number; failing: boolean }>();

  /**
   * Whether deliveries to `destination` fail for network reasons now (timeouts, refused
   * connections: its oldest pending entry was tried and got no HTTP answer). Cached 10 s.
   */
  networkFailing(destination: string, now = Date.now()): boolean {
    const cached = this.failingCache.get(destination);
    if (cached && now - cached.at < 10_000) return cached.failing;
    const head = this.head(destination, 1)[0];
    const failing = head !== undefined && head.attempts > 0 && head.last_error !== null && !head.last_error.startsWith('HTTP') && !head.last_error.startsWith('batch refused');
    if (this.failingCache.size > 1_000) this.failingCache.clear();
    this.failingCache.set(destination, { at: now, failing });
    return failing;
  }

  pendingCount(destination: string): number {
    return this.db.prepare<[string], { n: number }>("SELECT COUNT(*) AS n FROM federation_outbox WHERE destination = ? AND state = 'pending'").get(destination)!.n;
  }

  /**
   * What a destination's waiting rows say of its delivery, for the peer's line in the UI (issue #35
   * item 3: the node says it, the browser only words it): how many wait; since when it is retried
   * (the creation of the oldest waiting row already tried, null when none was); its next attempt
   * (destinationNextAttemptSql); the error of the oldest tried row that has one. Paced rows
   * (attempts unchanged) count as waiting, not as retried.
   */
  pendingSummary(destination: string): PendingSummary {
    this.pendingSummaryStmt ??= this.db.prepare<{ destination: string }, PendingSummary>(
      `SELECT COUNT(*) AS waiting,
              MIN(CASE WHEN attempts > 0 THEN created_at END) AS retrying_since,
              (${destinationNextAttemptSql('@destination')}) AS next_attempt_at,
              (SELECT last_error FROM federation_outbox
                WHERE destination = @destination AND state = 'pending' AND attempts > 0 AND last_error IS NOT NULL
                ORDER BY id LIMIT 1) AS last_error
         FROM federation_outbox WHERE destination = @destination AND state = 'pending'`,
    );
    return this.pendingSummaryStmt.get({ destination })!;
  }

  /**
   * The destination's node refused our server itself (403 `origin_blocked`: its owner blocked us;
   * `origin_not_allowed`: it takes only servers it added) at our latest delivery attempt to it:
   * the code and when; null when that attempt went otherwise (a later one delivered: allowed again).
   */
  refusesUs(destination: string): { code: 'origin_blocked' | 'origin_not_allowed'; at: number } | null {
    const row = this.db
      .prepare<[string], { error: string | null; attempted_at: number }>('SELECT error, attempted_at FROM federation_delivery_attempts WHERE destination = ? ORDER BY id DESC LIMIT 1')
      .get(destination);
    const code = /^HTTP 403 (origin_blocked|origin_not_allowed)\b/.exec(row?.error ?? '')?.[1] as 'origin_blocked' | 'origin_not_allowed' | undefined;
    return row && code ? { code, at: row.attempted_at } : null;
  }

  /** Whether `destination` holds what we send for review (held-there.ts), for the peer's line. */
  holdsOursForReview(destination: string): { since: number; last_at: number } | null {
    return this.heldThere.holdsOursForReview(destination);
  }

  private waitingMessagesStmt: import('better-sqlite3').Statement<[string], { n: number }> | undefined;

  /**
   * Of the `waiting` entries of a destination, how many are messages (the rest: edits, deletions,
   * reactions, memberships), so a peer's line does not call 10 reactions "10 messages". Null when
   * more than WAITING_BY_KIND_MAX wait: telling them apart reads each one's event.
   */
  waitingMessages(destination: string, waiting: number): number | null {
    if (waiting === 0) return 0;
    if (waiting > WAITING_BY_KIND_MAX) return null;
    this.waitingMessagesStmt ??= this.db.prepare<[string], { n: number }>(
      `SELECT COUNT(*) AS n FROM (SELECT event_id FROM federation_outbox WHERE destination = ? AND state = 'pending' ORDER BY id LIMIT ${WAITING_BY_KIND_MAX}) o
         JOIN federation_events e ON e.event_id = o.event_id WHERE e.event_type = 'm.message'`,
    );
    // Read apart from `waiting`: rows queued in between are not counted twice.
    return Math.min(this.waitingMessagesStmt.get(destination)!.n, waiting);
  }

  /**
   * Rows of one room waiting for a destination, and the destination's next attempt (its oldest
   * waiting row's, as pendingSummary): a room's view, admin/operations/rooms/room-waits.ts.
   */
  pendingForRoom(destination: string, roomId: string): { waiting: number; next_attempt_at: number | null } {
    this.pendingForRoomStmt ??= this.db.prepare<[{ destination: string; room: string }], { waiting: number; next_attempt_at: number | null }>(
      `SELECT COUNT(*) AS waiting,
              (${destinationNextAttemptSql('@destination')}) AS next_attempt_at
         FROM federation_outbox WHERE destination = @destination AND state = 'pending' AND room_id = @room`,
    );
    return this.pendingForRoomStmt.get({ destination, room: roomId })!;
  }

  /** Lets a destination be tried now (it sent us a request, so it is back). */
  wake(destination: string): number {
    return this.db.prepare("UPDATE federation_outbox SET next_attempt_at = 0 WHERE destination = ? AND state = 'pending' AND next_attempt_at > 0").run(destination).changes;
  }

  destinationsWithPending(): string[] {
    return this.db.prepare<[], { destination: string }>("SELECT DISTINCT destination FROM federation_outbox WHERE state = 'pending'").all().map((r) => r.destination);
  }

  counts(): { pending: number; failed: number; expired: number } {
    const counts = { pending: 0, failed: 0, expired: 0 };
    for (const row of this.db.prepare<[], { state: keyof typeof counts; n: number }>('SELECT state, COUNT(*) AS n FROM federation_outbox GROUP BY state').all()) {
      counts[row.state] = row.n;
    }
    return counts;
  }

  list(filter: { state?: string; destination?: string } = {}, limit = 500): OutboxRow[] {
    return this.db
      .prepare<{ state: string | null; destination: string | null; limit: number }, OutboxRow>(
        'SELECT * FROM federation_outbox WHERE (@state IS NULL OR state = @state) AND (@destination IS NULL OR destination = @destination) ORDER BY id LIMIT @limit',
      )
      .all({ state: filter.state ?? null, destination: filter.destination ?? null, limit });
  }
}
