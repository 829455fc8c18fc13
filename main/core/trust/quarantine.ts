/**
 * Events held from quarantined servers (docs/PROTOCOL.md §Rate limits and trust): stored as received (with the origin's
 * signature that verified them) but neither applied nor relayed, until the owner releases them
 * (applied in arrival order) or purges them. What one server's held events take is bounded
 * (StorageQuota.checkHeld, with heldBytes).
 */
import type { Envelope } from '../federation/envelope.ts';
import { envelopeWireJson } from '../federation/envelope.ts';
import { canonicalJson } from '../crypto/canonical-json.ts';
import type { Db } from '../store/database.ts';
import { EVENT_OVERHEAD_BYTES, chargedBytes, type StorageQuota } from './storage-quota.ts';

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
  /** Held events count against the quota of the server charged for them (`payerOf`); purging gives the bytes back. */
  private readonly quota: StorageQuota | undefined;
  /** Who was charged for an event of `origin` delivered by `receivedFrom` (EventIngest.payerOf). */
  payerOf: (origin: string, receivedFrom: string) => string = (_origin, receivedFrom) => receivedFrom;
  /** Bytes held per quarantined server (its rows as stored), read once and kept up to date; dropped on any doubt. */
  private readonly heldBytesOf = new Map<string, number>();

  constructor(db: Db, quota?: StorageQuota, options: { payerOf?: (origin: string, receivedFrom: string) => string } = {}) {
    this.db = db;
    this.quota = quota;
    if (options.payerOf) this.payerOf = options.payerOf;
  }

  /** Gives back to the quota of the server charged for each held row (EventIngest.chargeOf) its bytes, before they are deleted. */
  private freeHeld(where: string, param: string | number): void {
    this.heldBytesOf.clear();
    if (!this.quota) return;
    this.freeRows(this.db.prepare<[string | number], { received_from: string; envelope: string }>(`SELECT received_from, envelope FROM quarantined_events WHERE ${where}`).iterate(param));
  }

  private freeRows(rows: Iterable<{ received_from: string; envelope: string }>): void {
    if (!this.quota) return;
    // By (origin, deliverer) while the rows are read; payerOf may read the database only after.
    const freed = new Map<string, { origin: string; receivedFrom: string; bytes: number }>();
    for (const row of rows) {
      let event: Envelope;
      try {
        event = JSON.parse(row.envelope) as Envelope;
      } catch {
        continue;
      }
      const key = `${event.origin_server} ${row.received_from}`;
      const entry = freed.get(key) ?? { origin: event.origin_server, receivedFrom: row.received_from, bytes: 0 };
      entry.bytes += chargedBytes(event, Buffer.byteLength(canonicalJson(event.content)));
      freed.set(key, entry);
    }
    for (const { origin, receivedFrom, bytes } of freed.values()) this.quota.free(this.payerOf(origin, receivedFrom), bytes);
  }

  hold(origin: string, receivedFrom: string, envelope: Envelope, hash: string, now = Date.now()): boolean {
    const wire = envelopeWireJson(envelope);
    const held = this.db
      .prepare('INSERT OR IGNORE INTO quarantined_events (origin, received_from, event_id, envelope, content_hash, received_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(origin, receivedFrom, envelope.event_id, wire, hash, now).changes === 1;
    const known = this.heldBytesOf.get(origin);
    if (held && known !== undefined) this.heldBytesOf.set(origin, known + Buffer.byteLength(wire) + EVENT_OVERHEAD_BYTES);
    return held;
  }

  /**
   * What `server`'s held events take here: their rows as stored, plus EVENT_OVERHEAD_BYTES each.
   * Read from the table once per server, then kept by hold (a rollback, remove or purge drops it).
   */
  heldBytes(server: string): number {
    let bytes = this.heldBytesOf.get(server);
    if (bytes === undefined) {
      bytes = this.db
        .prepare<[string], { b: number }>(`SELECT COALESCE(SUM(length(CAST(envelope AS BLOB)) + ${EVENT_OVERHEAD_BYTES}), 0) AS b FROM quarantined_events WHERE origin = ?`)
        .get(server)!.b;
      if (this.heldBytesOf.size >= 1_000) this.heldBytesOf.clear();
      this.heldBytesOf.set(server, bytes);
    }
    return bytes;
  }

  /** Held bytes of every server holding any (the status warns as they near their bound). */
  heldBytesByServer(): Map<string, number> {
    const held = new Map<string, number>();
    for (const row of this.db.prepare<[], { origin: string }>('SELECT DISTINCT origin FROM quarantined_events').all()) held.set(row.origin, this.heldBytes(row.origin));
    return held;
  }

  /** A transaction that may have held events was rolled back: the kept sums are read again. */
  forgetHeldBytes(): void {
    this.heldBytesOf.clear();
  }

  isHeld(eventId: string): boolean {
    return this.db.prepare('SELECT 1 FROM quarantined_events WHERE event_id = ?').get(eventId) !== undefined;
  }

  list(origin?: string, limit = 1000): HeldEventRow[] {
    return origin
      ? this.db.prepare<[string, number], HeldEventRow>('SELECT * FROM quarantined_events WHERE origin = ? ORDER BY id LIMIT ?').all(origin, limit)
      : this.db.prepare<[number], HeldEventRow>('SELECT * FROM quarantined_events ORDER BY id LIMIT ?').all(limit);
  }

  /**
   * A release takes the held row `id` out, in the transaction that stores its event (its bytes
   * stay counted: the event is stored now): false when it is no longer held (purged, or taken by
   * another release, since the release read it). A rollback of that transaction puts it back.
   */
  take(id: number, origin: string): boolean {
    this.heldBytesOf.delete(origin);
    return this.db.prepare('DELETE FROM quarantined_events WHERE id = ?').run(id).changes === 1;
  }

  /** Whether the held row `id` is still there (a release's cheap look before it tries to take it). */
  stillHeld(id: number): boolean {
    return this.db.prepare('SELECT 1 FROM quarantined_events WHERE id = ?').get(id) !== undefined;
  }

  /** A taken row whose event was stored already (a copy): its bytes go back to the quota charged for it. */
  freeTaken(row: { received_from: string; envelope: string }): void {
    this.freeRows([row]);
  }

  /** Removes a held row: `stored` when its event was stored by the release (its bytes stay counted). */
  remove(id: number, stored = true): void {
    if (!stored) this.freeHeld('id = ?', id);
    this.heldBytesOf.clear();
    this.db.prepare('DELETE FROM quarantined_events WHERE id = ?').run(id);
  }

  purge(origin: string): number {
    const purged = this.db.transaction(() => {
      this.freeHeld('origin = ?', origin);
      return this.db.prepare('DELETE FROM quarantined_events WHERE origin = ?').run(origin).changes;
    })();
    this.reviewed(origin);
    return purged;
  }

  /** The owner released or purged `server`'s held events: a refusal for their bound is over. */
  reviewed(server: string): void {
    this.heldBytesOf.delete(server);
    this.quota?.heldReviewed(server);
  }

  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const row of this.db.prepare<[], { origin: string; n: number }>('SELECT origin, COUNT(*) AS n FROM quarantined_events GROUP BY origin').all()) counts[row.origin] = row.n;
    return counts;
  }
}
