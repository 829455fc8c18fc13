/**
 * The outbound queue (DESIGN.md §6): one row per (destination, event), written in the same
 * transaction as the event, removed only once the destination acknowledged it (2xx).
 */
import type { Db } from '../store/database.ts';

export interface OutboxRow {
  id: number;
  destination: string;
  event_id: string;
  room_id: string;
  state: 'pending' | 'failed' | 'expired';
  attempts: number;
  next_attempt_at: number;
  last_error: string | null;
  created_at: number;
  updated_at: number;
}

export class Outbox {
  private readonly db: Db;
  private readonly enqueueStmt;
  private readonly headStmt;
  private readonly deleteStmt;
  private readonly retryStmt;
  private readonly failStmt;

  constructor(db: Db) {
    this.db = db;
    this.enqueueStmt = db.prepare(
      `INSERT INTO federation_outbox (destination, event_id, room_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (destination, event_id) DO NOTHING`,
    );
    this.headStmt = db.prepare<[string, number], OutboxRow>(
      "SELECT * FROM federation_outbox WHERE destination = ? AND state = 'pending' ORDER BY id LIMIT ?",
    );
    this.deleteStmt = db.prepare('DELETE FROM federation_outbox WHERE id = ?');
    this.retryStmt = db.prepare('UPDATE federation_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ?, updated_at = ? WHERE id = ?');
    this.failStmt = db.prepare("UPDATE federation_outbox SET state = 'failed', attempts = attempts + 1, last_error = ?, updated_at = ? WHERE id = ?");
  }

  /** Queues an event for a destination; call inside the transaction that stores the event. */
  enqueue(destination: string, eventId: string, roomId: string, now = Date.now()): void {
    this.enqueueStmt.run(destination, eventId, roomId, now, now);
  }

  /** The oldest pending entries of a destination (FIFO keeps per-room order). */
  head(destination: string, limit = 1): OutboxRow[] {
    return this.headStmt.all(destination, limit);
  }

  delivered(ids: readonly number[]): void {
    this.db.transaction(() => {
      for (const id of ids) this.deleteStmt.run(id);
    })();
  }

  retryLater(ids: readonly number[], nextAttemptAt: number, error: string, now = Date.now()): void {
    this.db.transaction(() => {
      for (const id of ids) this.retryStmt.run(nextAttemptAt, error, now, id);
    })();
  }

  fail(id: number, reason: string, now = Date.now()): void {
    this.failStmt.run(reason, now, id);
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

  list(limit = 500): OutboxRow[] {
    return this.db.prepare<[number], OutboxRow>('SELECT * FROM federation_outbox ORDER BY id LIMIT ?').all(limit);
  }
}
