/**
 * Events held from quarantined servers (DESIGN.md §5): stored as received (signature intact)
 * but neither applied nor relayed, until the owner releases them (applied in arrival order) or
 * purges them.
 */
import type { Envelope } from '../federation/envelope.ts';
import { envelopeWireJson } from '../federation/envelope.ts';
import type { Db } from '../store/database.ts';
import { EVENT_OVERHEAD_BYTES, type StorageQuota } from './storage-quota.ts';

export interface HeldEventRow {
  id: number;
  origin: string;
  received_from: string;
  event_id: string;
  envelope: string;
  content_hash: string;
  received_at: number;
}

export class QuarantineStore {
  private readonly db: Db;
  /** Held events count against the quota of the server that sent them; purging gives the bytes back. */
  private readonly quota: StorageQuota | undefined;

  constructor(db: Db, quota?: StorageQuota) {
    this.db = db;
    this.quota = quota;
  }

  /** Gives back to the quota of the server each held row was charged to (the one that sent it) its bytes (before they are deleted). */
  private freeHeld(where: string, param: string | number): void {
    if (!this.quota) return;
    const rows = this.db
      .prepare<[string | number], { origin: string; bytes: number }>(
        `SELECT received_from AS origin,
                SUM(length(CAST(json_extract(envelope, '$.content') AS BLOB)) + ${EVENT_OVERHEAD_BYTES}) AS bytes
         FROM quarantined_events WHERE ${where} GROUP BY 1`,
      )
      .all(param);
    for (const row of rows) if (typeof row.origin === 'string') this.quota.free(row.origin, row.bytes);
  }

  hold(origin: string, receivedFrom: string, envelope: Envelope, hash: string, now = Date.now()): boolean {
    return (
      this.db
        .prepare('INSERT OR IGNORE INTO quarantined_events (origin, received_from, event_id, envelope, content_hash, received_at) VALUES (?, ?, ?, ?, ?, ?)')
        .run(origin, receivedFrom, envelope.event_id, envelopeWireJson(envelope), hash, now).changes === 1
    );
  }

  isHeld(eventId: string): boolean {
    return this.db.prepare('SELECT 1 FROM quarantined_events WHERE event_id = ?').get(eventId) !== undefined;
  }

  list(origin?: string, limit = 1000): HeldEventRow[] {
    return origin
      ? this.db.prepare<[string, number], HeldEventRow>('SELECT * FROM quarantined_events WHERE origin = ? ORDER BY id LIMIT ?').all(origin, limit)
      : this.db.prepare<[number], HeldEventRow>('SELECT * FROM quarantined_events ORDER BY id LIMIT ?').all(limit);
  }

  /** Removes a held row: `stored` when its event was stored by the release (its bytes stay counted). */
  remove(id: number, stored = true): void {
    if (!stored) this.freeHeld('id = ?', id);
    this.db.prepare('DELETE FROM quarantined_events WHERE id = ?').run(id);
  }

  purge(origin: string): number {
    return this.db.transaction(() => {
      this.freeHeld('origin = ?', origin);
      return this.db.prepare('DELETE FROM quarantined_events WHERE origin = ?').run(origin).changes;
    })();
  }

  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const row of this.db.prepare<[], { origin: string; n: number }>('SELECT origin, COUNT(*) AS n FROM quarantined_events GROUP BY origin').all()) counts[row.origin] = row.n;
    return counts;
  }
}
