/**
 * The events of pulled pages this node refused for good (pull/puller.ts), kept on disk until an
 * ack naming them is answered (table `pull_refusals`, migration 43). They are written with the
 * page's cursor, in the transaction that saves that cursor (federation/signed-page-loop.ts): a
 * cursor saved means its page's refusals are saved, so the ack that covers the page — in this run,
 * or the first one after a restart or a crash — names them, and the sender marks those events
 * failed instead of delivered. Not saved, the page is asked again and refused again.
 *
 * The mailbox fetcher keeps its refusals the same way (`mailbox_refusals_out`, migration 45,
 * mailbox/fetcher.ts), each under the id of the carried item it belongs to (a mailbox's cursor is
 * an item id, so "up to a cursor" is the same comparison), and names that id in its acks.
 */
import type { Db } from '../store/database.ts';
import { HELD_NOTE, MAX_ACK_REFUSALS, isHeldNote, type AckRefusal, type AckRefusals } from '../federation/page-acks.ts';

/**
 * The most refusals kept for one pull source: a source that refuses every ack while it serves
 * pages of events refused here would otherwise fill the disk (a review, 2026-11-28). Past it, a
 * page's refusals are not kept: those events read delivered to that source, which is the
 * source's own doing (an honest one's acks are answered, and its refusals leave at each). The
 * events held for review here (page-acks.ts HELD_NOTE) have a room of the same size of their own,
 * so that a busy quarantined source cannot crowd real refusals out; so do a mailbox's notes of the
 * items kept here to take later (mailbox/wire.ts).
 */
export const MAX_KEPT_REFUSALS = 10_000;

export interface StoredRefusalsOptions {
  /** MAX_KEPT_REFUSALS unless given (tests). */
  limit?: number;
  /** Where they are kept (the mailbox fetcher's own table); `pull_refusals` unless given. */
  table?: 'pull_refusals' | 'mailbox_refusals_out';
  /**
   * Each refusal is kept under its own `id` (a mailbox item's id), not the page's cursor, and
   * named with it (`{id, event_id, status, error}`: the mailbox's ack).
   */
  withIds?: boolean;
  /**
   * Kept at most this long (the table has `kept_at`: the mailbox fetcher's, whose mailbox holds an
   * item a week at most): older ones are forgotten when more are kept, and at `purge`.
   */
  maxAgeMs?: number;
}

/**
 * Which room a row is kept in: real refusals (4xx), the events held for review (HELD_NOTE), and a
 * mailbox's other notes (mailbox/wire.ts: an item kept to take later, or settled), so that neither
 * kind crowds another out.
 */
function roomOf(r: AckRefusal): 'refusal' | 'held' | 'note' {
  return isHeldNote(r) ? 'held' : r.status < 400 ? 'note' : 'refusal';
}

export class StoredPullRefusals implements AckRefusals {
  private readonly keepStmt;
  private readonly countStmt;
  private readonly upToStmt;
  private readonly forgetStmt;
  private readonly forgetNamedStmt;
  private readonly forgetOfItemStmt;
  private readonly limit: number;
  /** Refusals not kept for want of room, per source (for the log). */
  dropped = 0;

  private readonly withIds: boolean;
  private readonly purgeStmt;
  private readonly maxAgeMs: number | null;

  constructor(db: Db, options: StoredRefusalsOptions = {}) {
    this.limit = options.limit ?? MAX_KEPT_REFUSALS;
    this.withIds = options.withIds === true;
    const table = options.table ?? 'pull_refusals';
    // Kept under the page's cursor, or (withIds) under the item's own id.
    const at = this.withIds ? 'item_id' : 'cursor';
    this.maxAgeMs = options.maxAgeMs ?? null;
    const aged = this.maxAgeMs !== null;
    this.keepStmt = db.prepare(`INSERT OR IGNORE INTO ${table} (server_name, ${at}, event_id, status, error${aged ? ', kept_at' : ''}) VALUES (?, ?, ?, ?, ?${aged ? ', ?' : ''})`);
    this.purgeStmt = aged ? db.prepare(`DELETE FROM ${table} WHERE kept_at < ?`) : null;
    this.countStmt = db.prepare<[string, string], { n: number }>(
      `SELECT COUNT(*) AS n FROM ${table} WHERE server_name = ? AND (CASE WHEN status = ${HELD_NOTE.status} AND error = '${HELD_NOTE.error}' THEN 'held' WHEN status < 400 THEN 'note' ELSE 'refusal' END) = ?`,
    );
    // One more than an ack carries: whether the pages up to the cursor hold more.
    this.upToStmt = db.prepare<[string, number, number], AckRefusal & { cursor: number }>(
      `SELECT ${at} AS cursor, event_id, status, error FROM ${table} WHERE server_name = ? AND ${at} <= ? ORDER BY ${at}, event_id LIMIT ?`,
    );
    this.forgetStmt = db.prepare(`DELETE FROM ${table} WHERE server_name = ? AND ${at} <= ?`);
    this.forgetNamedStmt = db.prepare(`DELETE FROM ${table} WHERE server_name = ? AND ${at} = ? AND event_id = ?`);
    this.forgetOfItemStmt = this.withIds
      ? db.prepare(`DELETE FROM ${table} WHERE server_name = ? AND item_id = ? AND ((event_id = ? AND status = ?) OR error = ?)`)
      : null;
  }

  /**
   * Forgets what is kept under one item (withIds: a mailbox's) that is `note` or carries `error`,
   * not named in an ack yet: the item was kept here again, and waits again (mailbox/carried-retries.ts).
   */
  forgetOfItem(server: string, itemId: number, note: { event_id: string; status: number }, error: string): void {
    if (!this.forgetOfItemStmt) throw new Error('refusals kept under page cursors have no items');
    this.forgetOfItemStmt.run(server, itemId, note.event_id, note.status, error);
  }

  /** Keeps what fits under the limit (each under its own id when it has one); answers how many were not kept. */
  keep(server: string, cursor: number, refused: readonly AckRefusal[], now = Date.now()): number {
    if (refused.length === 0) return 0;
    this.purge(now);
    let dropped = 0;
    // Refusals and held notes each within a room of their own.
    for (const kind of ['refusal', 'held', 'note'] as const) {
      const these = refused.filter((r) => roomOf(r) === kind);
      if (these.length === 0) continue;
      const room = Math.max(0, this.limit - this.countStmt.get(server, kind)!.n);
      for (const r of these.slice(0, room)) {
        const args = [server, this.withIds && r.id !== undefined ? Number(r.id) : cursor, r.event_id, r.status, r.error];
        this.keepStmt.run(...(this.maxAgeMs !== null ? [...args, now] : args));
      }
      dropped += Math.max(0, these.length - room);
    }
    this.dropped += dropped;
    return dropped;
  }

  upTo(server: string, cursor: number): { cursor: number; refused: AckRefusal[] } {
    const rows = this.upToStmt.all(server, cursor, MAX_ACK_REFUSALS + 1);
    const refusal = ({ cursor: at, event_id, status, error }: AckRefusal & { cursor: number }): AckRefusal => (this.withIds ? { id: String(at), event_id, status, error } : { event_id, status, error });
    if (rows.length <= MAX_ACK_REFUSALS) return { cursor, refused: rows.map(refusal) };
    // More than one ack carries: this one goes up to the last page whose refusals all fit (a page
    // holds at most 100 events, so the first always does), the next one from there.
    const over = rows[MAX_ACK_REFUSALS]!.cursor;
    const fitting = rows.filter((r) => r.cursor < over);
    // (A first page of more than an ack carries cannot be: its surplus would be taken as delivered.)
    if (fitting.length === 0) return { cursor: over, refused: rows.slice(0, MAX_ACK_REFUSALS).map(refusal) };
    return { cursor: fitting[fitting.length - 1]!.cursor, refused: fitting.map(refusal) };
  }

  /** Forgets those kept longer than `maxAgeMs` (none without it); how many went. */
  purge(now = Date.now()): number {
    return this.purgeStmt?.run(now - this.maxAgeMs!).changes ?? 0;
  }

  acknowledged(server: string, cursor: number, named: readonly AckRefusal[]): void {
    if (!this.withIds) {
      this.forgetStmt.run(server, cursor);
      return;
    }
    // Under their own ids (a mailbox's items): one kept while the ack was on its way may be up to
    // its cursor (a request settled after its page's ack): only those named go.
    for (const r of named) this.forgetNamedStmt.run(server, Number(r.id), r.event_id);
  }
}
