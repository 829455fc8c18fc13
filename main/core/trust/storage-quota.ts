/**
 * Per-server storage quota (issue #14 item 5, issue #37 items 5 and 8): how many bytes of events
 * each server has made this node store — today, and in total (held in quarantine included). Every
 * byte an event takes here is charged (chargedBytes: its row, its index entries, its search entry).
 * The server charged is the event's origin when that origin is a peer of ours (it answers for its
 * own events, whoever relays them: a friend hosting a busy room is not charged for its members'
 * messages); events of any other origin are charged to the server that delivered them (the host
 * vouches for them), so a host cannot multiply its allowance by naming origins it minted itself.
 * Counters live in SQLite (`peer_storage`), written in the same transaction as the event, so they
 * are exact and survive restarts. (A held event's bytes are given back after the commit that
 * drops it, in a release or purge: a crash between the two leaves them counted, never freed twice.)
 *
 * What refuses: the daily quota, a limit on growth rather than a lifetime total — over it an event
 * is refused 429 `quota_exceeded` with Retry-After, so the sender's outbox (or our catch-up)
 * brings it the next day: a busy room slows down, it never ends. The total is no limit for the
 * rooms' events: it only bounds what a quarantined server's events may make us hold while the
 * owner has not reviewed them (413, checkHeld), and it is a notice level for the owner. The owner
 * is warned in the status (the dashboard shows it) at 80 % of the daily quota, when it is reached,
 * when held events near or reach their bound, and when a server's events pass the total; the log
 * says when events are refused (one line per server and hour).
 */
import type { Logger } from 'pino';
import { HttpError } from '../errors.ts';
import type { Envelope } from '../federation/envelope.ts';
import type { Db } from '../store/database.ts';
import type { PeerQuota } from '../../../shared/contract/admin/peers.ts';

export const DEFAULT_PEER_QUOTA_BYTES_PER_DAY = 50 * 1024 * 1024;
export const DEFAULT_PEER_QUOTA_TOTAL_BYTES = 1024 * 1024 * 1024;
/** Charged per event on top of what chargedBytes counts: the hash, the numbers, row and b-tree cell headers. */
export const EVENT_OVERHEAD_BYTES = 512;
/** The owner is warned when a server has used this share of a limit. */
export const QUOTA_WARNING_SHARE = 0.8;

const DAY_MS = 86_400_000;
const WARN_EVERY_MS = 3_600_000;

export interface QuotaLimits {
  bytesPerDay: number;
  totalBytes: number;
}

/** A peer's usage and limits, as the admin contract shows them (PeerView `quota`). */
export type PeerQuotaView = PeerQuota;

interface Row {
  server_name: string;
  day: number;
  day_bytes: number;
  total_bytes: number;
}

/**
 * The bytes an event takes here, all charged: its canonical content and the signatures kept, its
 * ids once in the row and again in each index holding them (event id, room, origin and type are
 * in up to four: the primary key, two room orders, the search index; a relation's target in
 * three), the sender and state key, a message's or an edit's body three times more in the search
 * index (its copy, and an index of words that takes up to twice the text when every word is new), and
 * EVENT_OVERHEAD_BYTES; then a quarter more, as b-tree pages are kept partly empty.
 * test/redteam/quota-bytes.test.ts holds it to the database's own growth.
 */
export function chargedBytes(envelope: Envelope, contentBytes: number): number {
  let ids = envelope.event_id.length + envelope.room_id.length + envelope.origin_server.length + envelope.event_type.length;
  const target = envelope.content.target;
  if (typeof target === 'string') ids += Buffer.byteLength(target);
  let bytes = contentBytes + 5 * ids + Buffer.byteLength(envelope.sender) + (envelope.state_key === null ? 0 : Buffer.byteLength(envelope.state_key)) + EVENT_OVERHEAD_BYTES;
  const body = envelope.content.body;
  // An edit's text replaces its message's in the index: charged as a message's.
  if ((envelope.event_type === 'm.message' || envelope.event_type === 'm.message.edit') && typeof body === 'string') bytes += 3 * Buffer.byteLength(body);
  // Server names, key ids and hex signatures are ASCII; 6 for the quotes, colon and comma or braces.
  for (const server in envelope.signatures) {
    bytes += server.length + 6;
    const byKey = envelope.signatures[server]!;
    for (const keyId in byKey) bytes += keyId.length + byKey[keyId]!.length + 6;
  }
  return Math.ceil(bytes * 1.25);
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

  constructor(db: Db, limits: Partial<QuotaLimits> = {}, log?: Logger, options: { isExempt?: (server: string) => boolean } = {}) {
    this.db = db;
    this.log = log;
    if (options.isExempt) this.isExempt = options.isExempt;
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
    // A batch's stored usage is read once per server (coalescing or readingTogether), else each time.
    const cache = this.scope?.stored ?? this.reads;
    let stored = cache?.get(server);
    if (!stored) {
      stored = this.storedUsage(server, now);
      cache?.set(server, stored);
    }
    const pending = this.scope?.pending.get(server) ?? 0;
    return { day: stored.day + pending, total: stored.total + pending };
  }

  private storedUsage(server: string, now: number): { day: number; total: number } {
    const row = this.getStmt.get(server);
    if (!row) return { day: 0, total: 0 };
    return { day: row.day === dayOf(now) ? row.day_bytes : 0, total: row.total_bytes };
  }

  /** Within readingTogether(): each server's stored usage as read once (nothing is written meanwhile). */
  private reads: Map<string, { day: number; total: number }> | null = null;

  /**
   * Runs `read` (the checks a received batch makes before its signatures are verified, inside
   * one read transaction) with each server's stored usage read once, not once per event: nothing
   * is charged in between, so every check sees what it would have read itself.
   */
  readingTogether<T>(read: () => T): T {
    if (this.reads || this.scope) return read();
    this.reads = new Map();
    try {
      return read();
    } finally {
      this.reads = null;
    }
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

  /** Whether storing `bytes` more from `server` today would go over the daily quota (check() would throw); no side effect. */
  exceeds(server: string, bytes: number, now = Date.now()): boolean {
    return !this.isExempt(server) && this.usage(server, now).day + bytes > this.limits.bytesPerDay;
  }

  /**
   * Throws 429 `quota_exceeded` when storing `bytes` more from `server` today would go over the
   * daily quota. Read-only: called before the signature check, and again in the storing transaction.
   */
  check(server: string, bytes: number, now = Date.now()): void {
    if (!this.exceeds(server, bytes, now)) return;
    const used = this.usage(server, now);
    const retryAfter = Math.max(1, Math.ceil(((dayOf(now) + 1) * DAY_MS - now) / 1000));
    throw this.refuse(server, 'day', now, new HttpError(429, 'quota_exceeded',
      `${server} stored ${used.day} bytes here today; its quota is ${this.limits.bytesPerDay} bytes per day (UTC): send the rest tomorrow`, { 'retry-after': String(retryAfter) }));
  }

  /**
   * Throws 413 `quota_exceeded` when holding `bytes` more of quarantined `server`'s events, beside
   * the `heldBytes` it has held here already, would pass the total: what waits for the owner's
   * review is bounded (the owner releases or purges it).
   */
  checkHeld(server: string, heldBytes: number, bytes: number, now = Date.now()): void {
    if (this.isExempt(server)) return;
    if (heldBytes + bytes > this.limits.totalBytes) {
      throw this.refuse(server, 'total', now, new HttpError(413, 'quota_exceeded',
        `${server} is quarantined here and has ${heldBytes} bytes of events held for review; at most ${this.limits.totalBytes} are held (the owner may release or purge them)`));
    }
  }

  /** Counts `bytes` stored (or held) for `server`; inside the storing transaction. */
  charge(server: string, bytes: number, now = Date.now()): void {
    if (this.isExempt(server)) return;
    if (this.scope) this.scope.pending.set(server, (this.scope.pending.get(server) ?? 0) + bytes);
    else this.chargeStmt.run({ server, day: dayOf(now), bytes, now });
    this.reads?.delete(server);
  }

  /** Bytes of `server` no longer stored (held events purged or dropped). */
  free(server: string, bytes: number, now = Date.now()): void {
    if (bytes > 0) this.freeStmt.run(bytes, now, server);
    this.scope?.stored.delete(server);
    this.reads?.delete(server);
  }

  view(server: string, now = Date.now()): PeerQuotaView {
    const used = this.usage(server, now);
    const refused = this.refusals.get(server);
    // Held events over their bound: while the refusals say so (the node's memory; a purge or release ends it).
    const exceeded = used.day >= this.limits.bytesPerDay ? 'day' : (refused && (refused.kind === 'total' || dayOf(refused.last) === dayOf(now)) ? refused.kind : null);
    return {
      day_bytes: used.day, day_limit: this.limits.bytesPerDay, total_bytes: used.total, total_limit: this.limits.totalBytes,
      exceeded, refused_events: refused?.count ?? 0, last_refused_at: refused?.last ?? null,
    };
  }

  /** A purge or release of `server`'s held events: its held-events refusal is over. */
  heldReviewed(server: string): void {
    if (this.refusals.get(server)?.kind === 'total') this.refusals.delete(server);
  }

  /**
   * Owner-facing lines for the status, well before a limit bites: a server at 80 % of its daily
   * quota or over it, a quarantined server whose held events near or reach their bound
   * (`heldBytes`: its held bytes, for servers holding any), and a server whose events take more
   * than the total here (a notice: nothing is refused for it).
   */
  warnings(now = Date.now(), heldBytes: ReadonlyMap<string, number> = new Map()): string[] {
    const servers = new Set<string>(this.refusals.keys());
    const day = dayOf(now);
    for (const row of this.db
      .prepare<[number, number, number], { server_name: string }>('SELECT server_name FROM peer_storage WHERE total_bytes >= ? OR (day = ? AND day_bytes >= ?)')
      .all(this.limits.totalBytes, day, Math.floor(this.limits.bytesPerDay * QUOTA_WARNING_SHARE))) {
      servers.add(row.server_name);
    }
    for (const server of heldBytes.keys()) servers.add(server);
    const lines: string[] = [];
    for (const server of [...servers].sort()) {
      if (this.isExempt(server)) continue;
      const view = this.view(server, now);
      const soFar = view.refused_events ? ` (${view.refused_events} refused so far)` : '';
      const held = heldBytes.get(server) ?? 0;
      if (view.exceeded === 'total') {
        lines.push(`${server} is quarantined and its events held for your review reached ${mb(view.total_limit)}: further ones are refused${soFar}; release or purge them`);
      } else if (held >= this.limits.totalBytes * QUOTA_WARNING_SHARE) {
        lines.push(`${server} is quarantined and has ${mb(held)} of events held for your review; past ${mb(view.total_limit)} its events are refused: release or purge them`);
      }
      if (view.exceeded === 'day' || view.day_bytes >= view.day_limit) {
        lines.push(`${server} reached its daily storage quota (${mb(view.day_bytes)} of ${mb(view.day_limit)} today): its further events wait until tomorrow (UTC)${soFar}`);
      } else if (view.day_bytes >= view.day_limit * QUOTA_WARNING_SHARE) {
        lines.push(`${server} used ${Math.floor((100 * view.day_bytes) / view.day_limit)} % of its daily storage quota (${mb(view.day_bytes)} of ${mb(view.day_limit)} today): past it, its events wait until tomorrow (UTC)`);
      }
      if (view.total_bytes >= view.total_limit) {
        lines.push(`${server}'s events take ${mb(view.total_bytes)} here (more than ${mb(view.total_limit)}): nothing is refused for it, but it adds up to ${mb(view.day_limit)} a day`);
      }
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
      this.log?.warn({ event: 'quota_exceeded', server, quota: kind, refused_events: entry.count }, kind === 'day' ? `${server} is over its daily storage quota; its events are refused until tomorrow (UTC)` : `${server} is quarantined and its held events reached their bound; its events are refused`);
    }
    return error;
  }
}

/** What waits for a quota here: how long (the refusal's Retry-After) and why. */
export interface QuotaWait {
  waitMs: number;
  message: string;
}

/** The wait an error asks for when it is a quota refusal (429: the event is to be fetched again later), else null. */
export function quotaWait(error: unknown): QuotaWait | null {
  // Only the daily quota's refusal waits: another 429 (an invite over the per-peer cap) is a verdict.
  if (!(error instanceof HttpError) || error.status !== 429 || error.code !== 'quota_exceeded') return null;
  const seconds = Number(error.headers['retry-after']);
  return { waitMs: Number.isFinite(seconds) && seconds >= 1 ? Math.min(seconds, 86_400) * 1000 : 60_000, message: error.message };
}

function dayOf(ms: number): number {
  return Math.floor(ms / DAY_MS);
}

function mb(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
