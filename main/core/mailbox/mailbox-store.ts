/**
 * A friend's node as a mailbox (issue #32, docs/PROTOCOL.md "Mailboxes"), the mailbox's side:
 * signed requests a peer (the depositor) left for another peer (the recipient, a client: a peer
 * that fetches from us) while the two cannot reach each other. Items are kept in arrival order,
 * served to the recipient by `GET /mailbox`, and deleted only when it acknowledges a cursor (so a
 * recipient killed mid-fetch gets the same items again) or after 7 days (like an outbox entry).
 * The mailbox cannot change an item: each carries its depositor's signature, bound to the
 * recipient, which the recipient checks as if the request had come directly.
 */
import type { Db } from '../store/database.ts';
import { KeyedWaiters } from '../util/keyed-waiters.ts';
import type { AckRefusal } from '../federation/page-acks.ts';
import { roomToRemember } from '../trust/servers-remembered.ts';

/** What waits in a mailbox expires like an outbox entry. */
export const MAILBOX_MAX_AGE_MS = 7 * 24 * 3600_000;
/** A client that has not fetched for this long is no longer served (deposits for it are refused). */
export const CLIENT_STALE_MS = MAILBOX_MAX_AGE_MS;
/** Per recipient: at most this many items and bytes wait (a depositor beyond it gets 429). */
export const DEFAULT_MAILBOX_QUOTA = { items: 20_000, bytes: 64 * 1024 * 1024 };
/**
 * One share of a recipient's quota: a depositor cannot fill it and block everyone else's mail.
 * A server the owner allows has a share of its own; every other depositor (under an open policy,
 * any server that signs, made-up names included) has this one share with all the others.
 */
export const STRANGERS_SHARE = '*';
export const depositorShare = (quota: { items: number; bytes: number }) => ({ items: Math.ceil(quota.items / 2), bytes: Math.ceil(quota.bytes / 2) });

/**
 * What a recipient said it refused of the items deposited here (capability `mailbox_refusals`):
 * at most this many are kept for one recipient, and for one depositor's items to one recipient.
 * The recipient's room is shared fairly: when it is full, a refusal of a depositor holding fewer
 * than the one holding most takes the place of that one's newest (so depositors whose batches the
 * recipient refuses whole, 1,000 refusals an item, cannot keep the others' refusals out for the
 * week: each depositor keeps at least an equal share of the room). Past that, a refusal is not
 * kept and its depositor reads the event as delivered.
 */
export const REFUSALS_KEPT = { perRecipient: 10_000, perDepositor: 5_000 };
/** A refusal read by its depositor stays this long (an answer lost on the way is read again), then goes. */
export const REFUSAL_READ_KEPT_MS = 10 * 60_000;
/** The most refusals one `held` answer carries (cut at an item: the items left are named in `more`, asked again). */
export const MAX_HELD_REFUSALS = 1_000;

/** One event of a carried item refused for good by its recipient, as the wire says it (with its item's id). */
export type ItemRefusal = Required<AckRefusal>;

/** An item a recipient's refusal names, held here for that recipient (its events noted at deposit). */
export interface RefusedItem {
  id: number;
  depositor: string;
}

/** What `carriedBy` knows of one of the caller's items and one event. */
export interface CarriedCheck {
  item: RefusedItem;
  /** The item carries that event (noted at deposit). */
  carries: boolean;
  /** Any event was noted for the item (none: deposited before they were, or a request that carries none). */
  noted: boolean;
}

export interface MailboxItem {
  id: number;
  recipient: string;
  depositor: string;
  /** The share of the recipient's quota it counts against: its depositor, or STRANGERS_SHARE. */
  share: string;
  path: string;
  /** The depositor's signature headers of the carried request: key id, timestamp, signature. */
  headers: string;
  body: Buffer;
  created_at: number;
}

export interface HeldFor {
  recipient: string;
  items: number;
  bytes: number;
  oldest: number;
  /** Of `items`, those the recipient fetched and keeps to take in later (its ack named them waiting). */
  fetched: number;
}

export class MailboxStore {
  private readonly db: Db;
  private readonly waiters = new KeyedWaiters();
  private readonly clients = new Map<string, number>();
  private readonly insertStmt;
  private readonly pageStmt;
  private readonly sizesStmt;
  private readonly pageUpToStmt;
  private readonly ackStmt;
  private readonly insertEventStmt;
  private readonly ackEventsStmt;
  private readonly carriedStmt;
  private readonly usageStmt;
  private readonly shareUsageStmt;
  private readonly chooseStmt;
  /** Each client's current statement that it chose us (choice.ts), as its canonical JSON. */
  private readonly choices = new Map<string, { statement: string; expires_at: number }>();
  private readonly touchStmt;
  private readonly forgetClientStmt;
  private readonly forgetChoiceStmt;

  /** Servers the owner allowed (a peer row that says so): remembered past the bound (roomForClient). */
  private readonly ownerAllowed: (server: string) => boolean;

  constructor(db: Db, options: { ownerAllowed?: (server: string) => boolean } = {}) {
    this.db = db;
    this.ownerAllowed = options.ownerAllowed ?? (() => false);
    this.insertStmt = db.prepare('INSERT INTO mailbox_items (recipient, depositor, share, path, headers, body, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    this.pageStmt = db.prepare<[string, number, number], MailboxItem>('SELECT * FROM mailbox_items WHERE recipient = ? AND id > ? ORDER BY id LIMIT ?');
    this.sizesStmt = db.prepare<[string, number, number], { id: number; size: number }>('SELECT id, LENGTH(body) + LENGTH(headers) AS size FROM mailbox_items WHERE recipient = ? AND id > ? ORDER BY id LIMIT ?');
    this.pageUpToStmt = db.prepare<[string, number, number], MailboxItem>('SELECT * FROM mailbox_items WHERE recipient = ? AND id > ? AND id <= ? ORDER BY id');
    // Items the recipient keeps waiting to be taken later (mailbox_items_waiting) stay past its acks.
    const notWaiting = 'AND NOT EXISTS (SELECT 1 FROM mailbox_items_waiting w WHERE w.item_id = mailbox_items.id)';
    this.ackStmt = db.prepare(`DELETE FROM mailbox_items WHERE recipient = @recipient AND id <= @cursor ${notWaiting}`);
    this.insertEventStmt = db.prepare('INSERT OR IGNORE INTO mailbox_item_events (item_id, event_id) VALUES (?, ?)');
    this.ackEventsStmt = db.prepare(`DELETE FROM mailbox_item_events WHERE item_id IN (SELECT id FROM mailbox_items WHERE recipient = @recipient AND id <= @cursor ${notWaiting})`);
    this.carriedStmt = db.prepare<[string, number, number, string], { id: number; depositor: string; carries: number; noted: number }>(
      `SELECT i.id, i.depositor,
              EXISTS (SELECT 1 FROM mailbox_item_events e WHERE e.item_id = i.id AND e.event_id = ?) AS carries,
              EXISTS (SELECT 1 FROM mailbox_item_events e WHERE e.item_id = i.id) AS noted
         FROM mailbox_items i WHERE i.id = ? AND i.id <= ? AND i.recipient = ?`,
    );
    // Kept by triggers on every insert and delete (migration 55): one row read, whatever is held.
    this.usageStmt = db.prepare<[string], { items: number; bytes: number }>('SELECT items, bytes FROM mailbox_usage WHERE recipient = ?');
    this.shareUsageStmt = db.prepare<[string, string], { items: number; bytes: number }>('SELECT items, bytes FROM mailbox_share_usage WHERE recipient = ? AND share = ?');
    this.chooseStmt = db.prepare('INSERT INTO mailbox_choices (recipient, statement, expires_at) VALUES (?, ?, ?) ON CONFLICT (recipient) DO UPDATE SET statement = excluded.statement, expires_at = excluded.expires_at');
    for (const row of db.prepare<[], { recipient: string; statement: string; expires_at: number }>('SELECT * FROM mailbox_choices').all()) this.choices.set(row.recipient, row);
    this.touchStmt = db.prepare('INSERT INTO mailbox_clients (server_name, last_fetch_at) VALUES (?, ?) ON CONFLICT (server_name) DO UPDATE SET last_fetch_at = excluded.last_fetch_at');
    for (const row of db.prepare<[], { server_name: string; last_fetch_at: number }>('SELECT * FROM mailbox_clients').all()) this.clients.set(row.server_name, row.last_fetch_at);
    this.forgetClientStmt = db.prepare('DELETE FROM mailbox_clients WHERE server_name = ?');
    this.forgetChoiceStmt = db.prepare('DELETE FROM mailbox_choices WHERE recipient = ?');
  }

  /** Whether `server` fetches from us (it chose us as one of its mailboxes) recently enough to be served. */
  isClient(server: string, now = Date.now()): boolean {
    const at = this.clients.get(server);
    return at !== undefined && now - at < CLIENT_STALE_MS;
  }

  /** The client fetched: it is served (persisted at most every few seconds). */
  touch(server: string, now = Date.now()): void {
    const at = this.clients.get(server);
    if (at !== undefined && now - at < 5_000) return;
    if (at === undefined && !this.roomForClient(server, now)) return;
    this.touchStmt.run(server, now);
    this.clients.set(server, now);
  }

  /** What is held for `recipient`: items and their bodies' bytes. */
  usage(recipient: string): { items: number; bytes: number } {
    const row = this.usageStmt.get(recipient);
    return { items: row?.items ?? 0, bytes: row?.bytes ?? 0 };
  }

  /** What is held for `recipient` in one share of its quota (a depositor's own, or STRANGERS_SHARE). */
  usageOf(recipient: string, share: string): { items: number; bytes: number } {
    const row = this.shareUsageStmt.get(recipient, share);
    return { items: row?.items ?? 0, bytes: row?.bytes ?? 0 };
  }

  /** The client's statement that it chose us (checked by the caller), kept until a newer one comes. */
  choose(recipient: string, statement: string, expiresAt: number, now = Date.now()): void {
    const held = this.choices.get(recipient);
    if (held?.statement === statement) return;
    if (held === undefined && !this.roomForChoice(recipient, now)) return;
    this.chooseStmt.run(recipient, statement, expiresAt);
    this.choices.set(recipient, { statement, expires_at: expiresAt });
  }

  /**
   * Clients and their statements are rows, read whole at start, one per server that fetched from us
   * (under an open trust policy any server that signs could add one: a helper's review,
   * 2026-11-29). At MAX_SERVERS_REMEMBERED, those that stopped fetching (past CLIENT_STALE_MS: no
   * longer served, nothing reads their row) and statements that expired are forgotten first; if
   * none has, the new one is not remembered (it is not served as a client: nobody may leave it
   * anything here until room is made). A server the owner allowed is remembered all the same (a
   * stranger that keeps the tables full must not keep a new friend out).
   */
  private readonly clientsPruned = { at: -Infinity };
  private readonly choicesPruned = { at: -Infinity };

  private roomForClient(server: string, now: number): boolean {
    if (this.ownerAllowed(server)) return true;
    return roomToRemember(this.clients, now, this.clientsPruned, (_server, at) => now - at >= CLIENT_STALE_MS,
      (servers) => this.db.transaction(() => servers.forEach((server) => this.forgetClientStmt.run(server)))());
  }

  private roomForChoice(recipient: string, now: number): boolean {
    if (this.ownerAllowed(recipient)) return true;
    return roomToRemember(this.choices, now, this.choicesPruned, (_recipient, choice) => choice.expires_at <= now,
      (recipients) => this.db.transaction(() => recipients.forEach((recipient) => this.forgetChoiceStmt.run(recipient)))());
  }

  /** The client's current statement (its canonical JSON), or null when it gave none or it expired. */
  choiceOf(recipient: string, now = Date.now()): string | null {
    const held = this.choices.get(recipient);
    return held && held.expires_at > now ? held.statement : null;
  }

  /**
   * Stores one carried request (in the caller's transaction) with the event ids it carries (read
   * from its body once, here: a recipient's refusals are checked against them without reading the
   * body again); its id.
   */
  deposit(item: Omit<MailboxItem, 'id'>, eventIds: Iterable<string> = []): number {
    const id = Number(this.insertStmt.run(item.recipient, item.depositor, item.share, item.path, item.headers, item.body, item.created_at).lastInsertRowid);
    for (const eventId of eventIds) this.insertEventStmt.run(id, eventId);
    return id;
  }

  /**
   * Up to `limit` items after the cursor, oldest first, but no more than fit in `maxBytes` of
   * their bodies and headers (at least one): their sizes are read first, and only those bodies
   * loaded. Before, a page read up to `limit` whole bodies (100 of up to 1 MiB) to send 512 KiB, and
   * a recipient that never acknowledged could ask that 200 times a second (a red-team review,
   * 2026-11-30).
   */
  page(recipient: string, cursor: number, limit: number, maxBytes = Infinity): MailboxItem[] {
    if (maxBytes === Infinity) return this.pageStmt.all(recipient, cursor, limit);
    let bytes = 0;
    let upTo: number | null = null;
    for (const { id, size } of this.sizesStmt.iterate(recipient, cursor, limit)) {
      if (upTo !== null && bytes + size > maxBytes) break;
      bytes += size;
      upTo = id;
    }
    return upTo === null ? [] : this.pageUpToStmt.all(recipient, cursor, upTo);
  }

  /** The highest id ever given out (a cursor above it is not one of ours). */
  isKnownCursor(cursor: number): boolean {
    const seq = this.db.prepare<[], { seq: number }>("SELECT seq FROM sqlite_sequence WHERE name = 'mailbox_items'").get()?.seq ?? 0;
    return cursor <= seq;
  }

  /** Deletes the recipient's items up to the cursor, but those it keeps waiting (keepWaiting); how many went. */
  ack(recipient: string, cursor: number): number {
    this.ackEventsStmt.run({ recipient, cursor });
    return this.ackStmt.run({ recipient, cursor }).changes;
  }

  /**
   * The recipient took these items (up to `cursor`, held for it) but keeps them to take later:
   * they stay here past its acks, still held for their depositors, until `settle` (or their week
   * ends). Others are left out (an item held for another recipient exactly as one not held).
   * Run it in the ack's transaction, before `ack`.
   */
  keepWaiting(recipient: string, ids: readonly number[], cursor: number): void {
    const keep = this.db.prepare('INSERT OR IGNORE INTO mailbox_items_waiting (item_id, recipient) SELECT id, recipient FROM mailbox_items WHERE id = ? AND recipient = ? AND id <= ?');
    for (const id of ids) keep.run(id, recipient, cursor);
  }

  /** The recipient is done with these items it kept waiting (taken, or refused): its ack (after this) deletes them. */
  settle(recipient: string, ids: readonly number[]): void {
    const settle = this.db.prepare('DELETE FROM mailbox_items_waiting WHERE item_id = ? AND recipient = ?');
    for (const id of ids) settle.run(id, recipient);
  }

  /** Which of `ids` (a depositor's, still held) their recipient took and keeps waiting to take later. */
  waitingAmong(ids: readonly number[]): number[] {
    if (ids.length === 0) return [];
    return this.db
      .prepare<[string], { item_id: number }>('SELECT item_id FROM mailbox_items_waiting WHERE item_id IN (SELECT value FROM json_each(?)) ORDER BY item_id')
      .all(JSON.stringify(ids))
      .map((r) => r.item_id);
  }

  /** Which of `ids` a depositor left here are still held (not yet taken by their recipient). */
  stillHeld(depositor: string, ids: readonly number[]): number[] {
    if (ids.length === 0) return [];
    return this.db
      .prepare<unknown[], { id: number }>(`SELECT id FROM mailbox_items WHERE depositor = ? AND id IN (${ids.map(() => '?').join(',')}) ORDER BY id`)
      .all(depositor, ...ids)
      .map((r) => r.id);
  }

  /** Items older than the limit go (they expire like outbox entries); how many went. Refusals read a while ago, or a week old, go too. */
  expire(now = Date.now()): number {
    this.db.prepare('DELETE FROM mailbox_refusals WHERE created_at < ? OR read_at < ?').run(now - MAILBOX_MAX_AGE_MS, now - REFUSAL_READ_KEPT_MS);
    this.db.prepare('DELETE FROM mailbox_item_events WHERE item_id IN (SELECT id FROM mailbox_items WHERE created_at < ?)').run(now - MAILBOX_MAX_AGE_MS);
    this.db.prepare('DELETE FROM mailbox_items_waiting WHERE item_id IN (SELECT id FROM mailbox_items WHERE created_at < ?)').run(now - MAILBOX_MAX_AGE_MS);
    return this.db.prepare('DELETE FROM mailbox_items WHERE created_at < ?').run(now - MAILBOX_MAX_AGE_MS).changes;
  }

  /**
   * Item `id`, if held here for `recipient` up to `cursor`, and whether it carries `eventId`: two
   * index lookups, no body read. Null for an item held for another recipient exactly as for one
   * not held (any more): the caller cannot tell them apart.
   */
  carriedBy(recipient: string, cursor: number, id: number, eventId: string): CarriedCheck | null {
    const row = this.carriedStmt.get(eventId, id, cursor, recipient);
    return row ? { item: { id: row.id, depositor: row.depositor }, carries: row.carries === 1, noted: row.noted === 1 } : null;
  }

  /**
   * Keeps a recipient's refusals of items held for it (checked by the caller: routes.ts), within
   * REFUSALS_KEPT, shared fairly among depositors (see there); run it in the ack's transaction,
   * before the items go. How many were kept (a refusal kept already is not counted).
   */
  keepRefusals(recipient: string, refused: ReadonlyArray<{ item: RefusedItem; event_id: string; status: number; error: string }>, now = Date.now(), limits = REFUSALS_KEPT): number {
    if (refused.length === 0) return 0;
    const by = new Map(
      this.db.prepare<[string], { depositor: string; n: number }>('SELECT depositor, COUNT(*) AS n FROM mailbox_refusals WHERE recipient = ? GROUP BY depositor').all(recipient).map((r) => [r.depositor, r.n]),
    );
    const exists = this.db.prepare<[number, string], number>('SELECT 1 FROM mailbox_refusals WHERE item_id = ? AND event_id = ?').pluck();
    const newest = this.db.prepare<[string, string], { item_id: number; event_id: string }>('SELECT item_id, event_id FROM mailbox_refusals WHERE recipient = ? AND depositor = ? ORDER BY item_id DESC, event_id DESC LIMIT 1');
    const evict = this.db.prepare('DELETE FROM mailbox_refusals WHERE item_id = ? AND event_id = ?');
    const insert = this.db.prepare('INSERT INTO mailbox_refusals (item_id, event_id, recipient, depositor, status, error, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)');
    let total = [...by.values()].reduce((a, b) => a + b, 0);
    let kept = 0;
    for (const r of refused) {
      const depositor = r.item.depositor;
      const mine = by.get(depositor) ?? 0;
      if (mine >= limits.perDepositor || exists.get(r.item.id, r.event_id) !== undefined) continue;
      if (total >= limits.perRecipient) {
        // Full: the depositor holding most gives up its newest, if it holds at least two more than this one's.
        let most: [string, number] | null = null;
        for (const entry of by) if (most === null || entry[1] > most[1]) most = entry;
        if (most === null || most[1] <= mine + 1) continue;
        const row = newest.get(recipient, most[0])!;
        evict.run(row.item_id, row.event_id);
        by.set(most[0], most[1] - 1);
        total -= 1;
      }
      insert.run(r.item.id, r.event_id, recipient, depositor, r.status, r.error, now);
      total += 1;
      by.set(depositor, mine + 1);
      kept += 1;
    }
    return kept;
  }

  /**
   * The refusals of `depositor`'s items among `ids` (not held any more: taken, and refused there),
   * at most MAX_HELD_REFUSALS, whole items only; noted as read. `cut`: the items whose refusals did
   * not fit (the caller names them in `more`, so they are asked again).
   */
  readRefusals(depositor: string, ids: readonly number[], now = Date.now()): { refused: ItemRefusal[]; cut: number[] } {
    if (ids.length === 0) return { refused: [], cut: [] };
    const rows = this.db
      .prepare<[string, string], { item_id: number; event_id: string; status: number; error: string }>(
        'SELECT item_id, event_id, status, error FROM mailbox_refusals WHERE depositor = ? AND item_id IN (SELECT value FROM json_each(?)) ORDER BY item_id, event_id',
      )
      .all(depositor, JSON.stringify(ids));
    const byItem = new Map<number, ItemRefusal[]>();
    for (const r of rows) byItem.set(r.item_id, [...(byItem.get(r.item_id) ?? []), { id: String(r.item_id), event_id: r.event_id, status: r.status, error: r.error }]);
    const refused: ItemRefusal[] = [];
    const cut: number[] = [];
    for (const [item, list] of byItem) {
      if (cut.length > 0 || refused.length + list.length > MAX_HELD_REFUSALS) cut.push(item);
      else refused.push(...list);
    }
    if (refused.length > 0) {
      this.db.prepare('UPDATE mailbox_refusals SET read_at = ? WHERE depositor = ? AND read_at IS NULL AND item_id IN (SELECT value FROM json_each(?))')
        .run(now, depositor, JSON.stringify([...new Set(refused.map((r) => Number(r.id)))]));
    }
    return { refused, cut };
  }

  /** What waits for whom (dashboard: "Holding 120 messages for bob.example"). */
  held(): HeldFor[] {
    return this.db
      .prepare<[], HeldFor>(
        `SELECT i.recipient, COUNT(*) AS items, SUM(LENGTH(i.body)) AS bytes, MIN(i.created_at) AS oldest, COUNT(w.item_id) AS fetched
         FROM mailbox_items i LEFT JOIN mailbox_items_waiting w ON w.item_id = i.id GROUP BY i.recipient ORDER BY i.recipient`,
      )
      .all();
  }

  wait(recipient: string, ms: number, signal?: AbortSignal): Promise<void> {
    return this.waiters.wait(recipient, ms, signal);
  }

  notify(recipient: string): void {
    this.waiters.notify(recipient);
  }

  wakeAll(): void {
    this.waiters.notifyAll();
  }
}
