/**
 * Per-peer storage quota (issue #14 item 5): how many bytes of events each peer has made this
 * node store — today, and in total (held in quarantine included). The peer charged is the server
 * that sent the event (the relaying host for relayed events, catch-up pages and join snapshots),
 * so a host cannot multiply its allowance by naming origins it invents. Counters live in
 * SQLite (`peer_storage`), written in the same transaction as the event, so they are exact and
 * survive restarts. Over the daily quota an event is refused 429 `quota_exceeded` (with
 * Retry-After: the sender's outbox tries again tomorrow); over the total, 413 `quota_exceeded`
 * (the owner has to raise the limit or purge). The owner sees it in the log (one line per peer
 * and hour) and in the peers list / status.
 */
import type { Logger } from 'pino';
import { HttpError } from '../errors.ts';
import type { Db } from '../store/database.ts';

export const DEFAULT_PEER_QUOTA_BYTES_PER_DAY = 50 * 1024 * 1024;
export const DEFAULT_PEER_QUOTA_TOTAL_BYTES = 1024 * 1024 * 1024;
/** Charged per event on top of its content: ids, signatures, index entries (roughly). */
export const EVENT_OVERHEAD_BYTES = 512;

const DAY_MS = 86_400_000;
const WARN_EVERY_MS = 3_600_000;

export interface QuotaLimits {
  bytesPerDay: number;
  totalBytes: number;
}

export interface PeerQuotaView {
  day_bytes: number;
  day_limit: number;
  total_bytes: number;
  total_limit: number;
  /** Which limit refuses this peer's events now (or refused some since the node started). */
  exceeded: 'day' | 'total' | null;
  /** Events refused for the quota since the node started. */
  refused_events: number;
  last_refused_at: number | null;
}

interface Row {
  server_name: string;
  day: number;
  day_bytes: number;
  total_bytes: number;
}

/** The bytes an event is charged: its canonical content plus a fixed overhead. */
export function chargedBytes(contentBytes: number): number {
  return contentBytes + EVENT_OVERHEAD_BYTES;
}

export class StorageQuota {
  private readonly db: Db;
  readonly limits: QuotaLimits;
  private readonly log: Logger | undefined;
  /** Servers never charged (this node itself). */
  isExempt: (server: string) => boolean = () => false;
  private readonly refusals = new Map<string, { count: number; last: number; kind: 'day' | 'total'; warnedAt: number }>();
  private readonly getStmt;
  private readonly chargeStmt;
  private readonly freeStmt;

  constructor(db: Db, limits: Partial<QuotaLimits> = {}, log?: Logger) {
    this.db = db;
    this.log = log;
    this.limits = {
      bytesPerDay: limits.bytesPerDay ?? DEFAULT_PEER_QUOTA_BYTES_PER_DAY,
      totalBytes: limits.totalBytes ?? DEFAULT_PEER_QUOTA_TOTAL_BYTES,
    };
    this.getStmt = db.prepare<[string], Row>('SELECT server_name, day, day_bytes, total_bytes FROM peer_storage WHERE server_name = ?');
    this.chargeStmt = db.prepare(
      `INSERT INTO peer_storage (server_name, day, day_bytes, total_bytes, updated_at) VALUES (@server, @day, @bytes, @bytes, @now)
       ON CONFLICT (server_name) DO UPDATE SET
         day_bytes = CASE WHEN day = excluded.day THEN day_bytes + excluded.day_bytes ELSE excluded.day_bytes END,
         day = excluded.day, total_bytes = total_bytes + excluded.total_bytes, updated_at = excluded.updated_at`,
    );
    this.freeStmt = db.prepare('UPDATE peer_storage SET total_bytes = MAX(0, total_bytes - ?), updated_at = ? WHERE server_name = ?');
  }

  private usage(server: string, now: number): { day: number; total: number } {
    const scope = this.scope;
    if (!scope) return this.storedUsage(server, now);
    let stored = scope.stored.get(server);
    if (!stored) {
      stored = this.storedUsage(server, now);
      scope.stored.set(server, stored);
    }
    const pending = scope.pending.get(server) ?? 0;
    return { day: stored.day + pending, total: stored.total + pending };
  }

  private storedUsage(server: string, now: number): { day: number; total: number } {
    const row = this.getStmt.get(server);
    if (!row) return { day: 0, total: 0 };
    return { day: row.day === dayOf(now) ? row.day_bytes : 0, total: row.total_bytes };
  }

  /** Within coalescing(): each server's stored usage as read once, and the bytes charged since. */
  private scope: { stored: Map<string, { day: number; total: number }>; pending: Map<string, number> } | null = null;

  /**
   * Runs `write` (inside the storing transaction: a batch of received events) with the charges it
   * makes added up per server and written as one row update each at its end, and each server's
   * usage read once (issue #17: a read and an upsert per event were 5 % of a receiving node's main
   * thread). Checks inside see the stored usage plus what was charged so far, exactly as before.
   * If `write` throws, nothing is written by this (the caller's transaction rolls back anyway).
   */
  coalescing<T>(write: () => T, now = Date.now()): T {
    if (this.scope) return write();
    const scope = { stored: new Map<string, { day: number; total: number }>(), pending: new Map<string, number>() };
    this.scope = scope;
    try {
      const result = write();
      for (const [server, bytes] of scope.pending) this.chargeStmt.run({ server, day: dayOf(now), bytes, now });
      return result;
    } finally {
      this.scope = null;
    }
  }

  /**
   * Throws 429/413 `quota_exceeded` when storing `bytes` more from `server` would go over a
   * limit. Read-only: called before the signature check, and again in the storing transaction.
   */
  check(server: string, bytes: number, now = Date.now()): void {
    if (this.isExempt(server)) return;
    const used = this.usage(server, now);
    if (used.total + bytes > this.limits.totalBytes) {
      throw this.refuse(server, 'total', now, new HttpError(413, 'quota_exceeded',
        `${server} has ${used.total} bytes stored here; its quota is ${this.limits.totalBytes} bytes in total (the owner may raise it or purge)`));
    }
    if (used.day + bytes > this.limits.bytesPerDay) {
      const retryAfter = Math.max(1, Math.ceil(((dayOf(now) + 1) * DAY_MS - now) / 1000));
      throw this.refuse(server, 'day', now, new HttpError(429, 'quota_exceeded',
        `${server} stored ${used.day} bytes here today; its quota is ${this.limits.bytesPerDay} bytes per day (UTC)`, { 'retry-after': String(retryAfter) }));
    }
  }

  /** Counts `bytes` stored (or held) for `server`; inside the storing transaction. */
  charge(server: string, bytes: number, now = Date.now()): void {
    if (this.isExempt(server)) return;
    if (this.scope) this.scope.pending.set(server, (this.scope.pending.get(server) ?? 0) + bytes);
    else this.chargeStmt.run({ server, day: dayOf(now), bytes, now });
  }

  /** Bytes of `server` no longer stored (held events purged or dropped). */
  free(server: string, bytes: number, now = Date.now()): void {
    if (bytes > 0) this.freeStmt.run(bytes, now, server);
    this.scope?.stored.delete(server);
  }

  view(server: string, now = Date.now()): PeerQuotaView {
    const used = this.usage(server, now);
    const refused = this.refusals.get(server);
    const exceeded = used.total >= this.limits.totalBytes ? 'total' : used.day >= this.limits.bytesPerDay ? 'day' : (refused && (refused.kind === 'total' || dayOf(refused.last) === dayOf(now)) ? refused.kind : null);
    return {
      day_bytes: used.day, day_limit: this.limits.bytesPerDay, total_bytes: used.total, total_limit: this.limits.totalBytes,
      exceeded, refused_events: refused?.count ?? 0, last_refused_at: refused?.last ?? null,
    };
  }

  /** Owner-facing lines for the status: one per peer over a quota. */
  warnings(now = Date.now()): string[] {
    const servers = new Set<string>(this.refusals.keys());
    const day = dayOf(now);
    for (const row of this.db
      .prepare<[number, number, number], { server_name: string }>('SELECT server_name FROM peer_storage WHERE total_bytes >= ? OR (day = ? AND day_bytes >= ?)')
      .all(this.limits.totalBytes, day, this.limits.bytesPerDay)) {
      servers.add(row.server_name);
    }
    const lines: string[] = [];
    for (const server of [...servers].sort()) {
      if (this.isExempt(server)) continue;
      const view = this.view(server, now);
      if (!view.exceeded) continue;
      lines.push(
        view.exceeded === 'total'
          ? `${server} reached its storage quota (${mb(view.total_bytes)} of ${mb(view.total_limit)} in total): its events are refused${view.refused_events ? ` (${view.refused_events} so far)` : ''}`
          : `${server} reached its daily storage quota (${mb(view.day_bytes)} of ${mb(view.day_limit)} today): its events are refused until tomorrow (UTC)${view.refused_events ? ` (${view.refused_events} so far)` : ''}`,
      );
    }
    return lines;
  }

  private refuse(server: string, kind: 'day' | 'total', now: number, error: HttpError): HttpError {
    let entry = this.refusals.get(server);
    if (!entry) {
      if (this.refusals.size >= 10_000) this.refusals.clear();
      this.refusals.set(server, (entry = { count: 0, last: now, kind, warnedAt: 0 }));
    }
    entry.count++;
    entry.last = now;
    entry.kind = kind;
    if (now - entry.warnedAt >= WARN_EVERY_MS) {
      entry.warnedAt = now;
      this.log?.warn({ event: 'quota_exceeded', server, quota: kind, refused_events: entry.count }, `${server} is over its ${kind === 'day' ? 'daily' : 'total'} storage quota; its events are refused`);
    }
    return error;
  }
}

function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
