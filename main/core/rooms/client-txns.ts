/**
 * Client transaction ids of sends (docs/ARCHITECTURE.md "Admin stream"): a message sent with a
 * `txn_id` is stored once per user and id. The same id again — a client that sends again after
 * its connection closed before the node answered — gets the event stored the first time, and
 * nothing new is stored or delivered. So a retry can never make a copy, and a client may retry
 * such a send by itself.
 *
 * The id's row is written in the send's own transaction (rooms/local-sends.ts), so it is durable
 * exactly when the message is. A send of an id still under way waits for it and answers its
 * event. Rows are kept a day (`CLIENT_TXN_RETENTION_MS`).
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from '../store/database.ts';

/** How long an id is remembered: far longer than any client waits to retry. */
export const CLIENT_TXN_RETENTION_MS = 24 * 3600_000;

export class ClientTxns {
  private readonly find: Statement<[string, string], { event_id: string }>;
  private readonly insert: Statement<[string, string, string, number]>;
  private readonly prune: Statement<[number]>;
  /** Sends under way, by user and id: a repeat waits for the first. */
  private readonly underWay = new Map<string, Promise<unknown>>();

  constructor(db: Db) {
    this.find = db.prepare('SELECT event_id FROM client_txns WHERE user_id = ? AND txn_id = ?');
    this.insert = db.prepare('INSERT INTO client_txns (user_id, txn_id, event_id, created_at) VALUES (?, ?, ?, ?)');
    this.prune = db.prepare('DELETE FROM client_txns WHERE created_at < ?');
  }

  /** In the transaction that stores the event. */
  record(user: string, txnId: string, eventId: string, now: number): void {
    this.insert.run(user, txnId, eventId, now);
  }

  /**
   * Whether a user's id is stored: a send with it makes nothing new. Not one still being sent: should
   * that send fail, the repeat is sent with its own body (a review, 2026-11-28: free of any charge).
   */
  known(user: string, txnId: string): boolean {
    return this.find.get(user, txnId) !== undefined;
  }

  /** Forgets ids older than the retention; the number forgotten. */
  forget(now: number): number {
    return this.prune.run(now - CLIENT_TXN_RETENTION_MS).changes;
  }

  /**
   * The event ids of a user's sends, in order: an id already stored answers its event; the
   * others (`fresh`, their indexes) are sent by `send`, which answers their event ids in order.
   * An id given twice in one call is sent once; both answer its event.
   */
  async once(user: string, txnIds: ReadonlyArray<string | undefined>, send: (fresh: number[]) => Promise<string[]>): Promise<string[]> {
    const keys = txnIds.map((id) => (id === undefined ? undefined : `${user}\n${id}`));
    for (;;) {
      const waits = keys.flatMap((key) => (key === undefined ? [] : [this.underWay.get(key)].filter((p) => p !== undefined)));
      if (waits.length === 0) break;
      await Promise.allSettled(waits);
    }
    // From here to the registration below nothing awaits: a repeat arriving meanwhile sees it.
    const ids: Array<string | undefined> = txnIds.map((id) => (id === undefined ? undefined : this.find.get(user, id)?.event_id));
    const fresh: number[] = [];
    const firstOfKey = new Map<string, number>();
    const sameAs = new Map<number, number>();
    for (const [i, key] of keys.entries()) {
      if (ids[i] !== undefined) continue;
      const first = key === undefined ? undefined : firstOfKey.get(key);
      if (first !== undefined) sameAs.set(i, first);
      else {
        fresh.push(i);
        if (key !== undefined) firstOfKey.set(key, i);
      }
    }
    if (fresh.length > 0) {
      const sending = send(fresh);
      for (const key of firstOfKey.keys()) this.underWay.set(key, sending);
      try {
        const made = await sending;
        fresh.forEach((i, k) => (ids[i] = made[k]));
      } finally {
        for (const key of firstOfKey.keys()) if (this.underWay.get(key) === sending) this.underWay.delete(key);
      }
    }
    for (const [i, first] of sameAs) ids[i] = ids[first];
    return ids as string[];
  }
}
