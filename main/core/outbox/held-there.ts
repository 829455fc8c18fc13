/**
 * What friends' nodes hold of ours for review (they keep our server in quarantine): per event,
 * `delivery_held_there` (migration 49: the message reads "delivered to bob.example, which held it
 * for review"), and per friend, `delivery_held_by` (migration 50: its dashboard line). Learnt from a
 * push's receipt (`held: true`, Outbox.settle) or a pull's ack (`held`: pull/pull-queue.ts), in the
 * transaction that settles the delivery; one instance per node, shared by both, since the sets below
 * keep the hot path free of statements for friends that never held one of ours.
 *
 * Only our own events are noted: what a room's host relays to members is not ours to show, and a
 * member answering held to everything would only grow the table. A friend's line is cleared only
 * by a sign that it now takes ours as any other: a push receipt saying it stored one now
 * (`inserted: true`), or an ack from a puller that names what it held (capability `pull_held`) and
 * named none of the events it covers.
 */
import type { Db } from '../store/database.ts';

/** What a settle did to a friend's line, applied to the in-memory set once its transaction committed. */
export type HeldByChange = 'add' | 'delete' | null;

export class HeldThere {
  private readonly db: Db;
  /**
   * The destinations delivery_held_there may hold a row for: only a delivery there looks for one
   * to clear (none on the hot path otherwise, even once some friend held one of ours).
   */
  private readonly notesFor: Set<string>;
  /** The destinations delivery_held_by names (a few at most). */
  private readonly lines: Set<string>;
  private noteStmt: import('better-sqlite3').Statement<[string, number, string]> | undefined;
  private clearStmt: import('better-sqlite3').Statement<[string, string]> | undefined;

  constructor(db: Db) {
    this.db = db;
    this.notesFor = new Set(db.prepare<[], { destination: string }>('SELECT DISTINCT destination FROM delivery_held_there').all().map((r) => r.destination));
    this.lines = new Set(db.prepare<[], { destination: string }>('SELECT destination FROM delivery_held_by').all().map((r) => r.destination));
  }

  /** In the settle's transaction: `destination` holds the event for review. Whether it was one of ours (noted). */
  noteHeld(destination: string, eventId: string, now: number): boolean {
    return (this.noteStmt ??= this.db.prepare(
      `INSERT OR REPLACE INTO delivery_held_there (event_id, destination, held_at)
         SELECT event_id, ?, ? FROM federation_events WHERE event_id = ? AND received_from IS NULL`,
    )).run(destination, now, eventId).changes > 0;
  }

  /** In the settle's transaction: `destination` took the event as any other (a note of an earlier hold is cleared). */
  noteTaken(destination: string, eventId: string): void {
    if (this.notesFor.has(destination)) (this.clearStmt ??= this.db.prepare('DELETE FROM delivery_held_there WHERE event_id = ? AND destination = ?')).run(eventId, destination);
  }

  /**
   * In the settle's transaction, after its events: `heldOurs` (it held one of ours: the line is set
   * or its latest time moved) or `takenAsAny` (a sign it takes ours as any other: the line goes).
   * What to give `applied` once the transaction committed.
   */
  settleLine(destination: string, heldOurs: boolean, takenAsAny: boolean, now: number): HeldByChange {
    if (heldOurs) {
      this.db.prepare('INSERT INTO delivery_held_by (destination, since, last_at) VALUES (?, ?, ?) ON CONFLICT (destination) DO UPDATE SET last_at = excluded.last_at').run(destination, now, now);
      return 'add';
    }
    if (takenAsAny && this.lines.has(destination)) {
      this.db.prepare('DELETE FROM delivery_held_by WHERE destination = ?').run(destination);
      return 'delete';
    }
    return null;
  }

  /** Whether `destination`'s line may be set (the set: a lookup-free answer on the hot path). */
  mayHoldOurs(destination: string): boolean {
    return this.lines.has(destination);
  }

  private ownAmongStmt: import('better-sqlite3').Statement<[string], number> | undefined;

  /** Whether any of these events is one of our own (made here, not received). */
  anyOwn(eventIds: readonly string[]): boolean {
    if (eventIds.length === 0) return false;
    this.ownAmongStmt ??= this.db.prepare<[string], number>('SELECT 1 FROM federation_events WHERE event_id IN (SELECT value FROM json_each(?)) AND received_from IS NULL LIMIT 1').pluck();
    return this.ownAmongStmt.get(JSON.stringify(eventIds)) !== undefined;
  }

  /**
   * Keeps the notes bounded (housekeeping): beyond `maxRows`, the oldest go, and their messages
   * read as delivered, as they did before holds were told. A friend that holds us for months
   * would otherwise add a row for every event we send it. Nothing to count for a node no friend
   * ever held (the set is empty). The number removed.
   */
  prune(maxRows: number): number {
    if (this.notesFor.size === 0) return 0;
    const count = this.db.prepare<[], number>('SELECT COUNT(*) FROM delivery_held_there').pluck().get() ?? 0;
    if (count <= maxRows) return 0;
    return this.db
      .prepare('DELETE FROM delivery_held_there WHERE (event_id, destination) IN (SELECT event_id, destination FROM delivery_held_there ORDER BY held_at, event_id, destination LIMIT ?)')
      .run(count - maxRows).changes;
  }

  /** After the commit (not after a rollback): the sets learn what settleLine wrote. */
  applied(destination: string, change: HeldByChange): void {
    if (change === 'add') {
      this.lines.add(destination);
      this.notesFor.add(destination);
    } else if (change === 'delete') this.lines.delete(destination);
  }

  /**
   * The destination's node answered our latest direct delivery of our own events to it as held
   * (it keeps our server in quarantine): since the first of that run, and the latest; null once a
   * later delivery there was taken as any other, or none was held. Nothing tells us when its owner
   * lets us in meanwhile: the UI words it in the past tense.
   */
  holdsOursForReview(destination: string): { since: number; last_at: number } | null {
    if (!this.lines.has(destination)) return null;
    return this.db.prepare<[string], { since: number; last_at: number }>('SELECT since, last_at FROM delivery_held_by WHERE destination = ?').get(destination) ?? null;
  }
}
