/**
 * Replay protection (docs/PROTOCOL.md §Request signatures): an exact signed request seen twice inside the skew
 * window is refused with 409. Signatures are remembered in SQLite so a restart does not
 * open a window; ed25519 is deterministic, so the signature identifies the signed string.
 */
import type { Db } from '../store/database.ts';
import { MAILBOX_MAX_AGE_MS } from '../mailbox/mailbox-store.ts';
import { MAX_CLOCK_SKEW_MS } from './request-signature.ts';

/**
 * Requests carried by mailboxes remembered per origin at most (each for the mailbox's week, ~250
 * bytes): past it, more of them wait ("not yet", 429) until older entries expire. An allowed peer
 * acting as its own mailbox could otherwise have had up to its rate limit (200/s) remembered for a
 * week: gigabytes a day, charged to no quota. An honest friend's deposits come in batches of up to
 * 500 events: 50,000 requests a week is far more than its mailboxes carry for us.
 */
export const MAX_CARRIED_PER_ORIGIN = 50_000;
/** An entry expiring later than this after now is a carried request's (a direct one's ends within twice the skew). */
const CARRIED_AFTER_MS = 2 * MAX_CLOCK_SKEW_MS + 1_000;

export class ReplayCache {
  private readonly seenStmt;
  private readonly insertStmt;
  private readonly pruneStmt;
  private readonly carriedStmt;
  /** Signatures being processed right now, not yet committed. */
  private readonly inFlight = new Set<string>();
  /** Carried requests remembered, per origin: counted once, then kept up to date until the next prune. */
  private readonly carried = new Map<string, number>();
  private readonly maxCarried: number;

  constructor(db: Db, options: { maxCarriedPerOrigin?: number } = {}) {
    this.maxCarried = options.maxCarriedPerOrigin ?? MAX_CARRIED_PER_ORIGIN;
    this.carriedStmt = db.prepare<[string, number], { n: number }>('SELECT COUNT(*) AS n FROM federation_request_replay WHERE origin = ? AND expires_at > ?');
    this.seenStmt = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM federation_request_replay WHERE signature = ?');
    this.insertStmt = db.prepare('INSERT OR IGNORE INTO federation_request_replay (signature, origin, expires_at) VALUES (?, ?, ?)');
    // An entry whose request is still kept to be handed over again (mailbox/carried-retries.ts) is
    // not forgotten: such a request's age counts from when it was kept, so it may be taken after
    // its entry's time, and handed over once more if its row outlived the take (a crash, or an
    // answer lost after the commit); the entry must still say "taken before" then.
    this.pruneStmt = db.prepare('DELETE FROM federation_request_replay WHERE expires_at < ? AND signature NOT IN (SELECT signature FROM mailbox_retries)');
  }

  /** Whether this signature was taken before (recorded), without claiming it. */
  seen(signature: string): boolean {
    return this.seenStmt.get(signature) !== undefined;
  }

  /** True when this signature was already seen; otherwise claims it until `release`. */
  claim(signature: string): boolean {
    if (this.inFlight.has(signature) || this.seenStmt.get(signature)) return true;
    this.inFlight.add(signature);
    return false;
  }

  release(signature: string): void {
    this.inFlight.delete(signature);
  }

  /** Records a claimed signature; run inside a (group-commit) transaction. */
  record(signature: string, origin: string, requestTimestampMs: number, carried = false): void {
    // After timestamp + skew the request is refused as stale anyway, so it can be forgotten. A
    // request a mailbox carried (`carried`: handed over by this process, mailbox/self-dispatch.ts)
    // was accepted under the 7-day mailbox window: it is remembered until that window has passed
    // too, so a hostile mailbox cannot hand the same request over again once a short entry is pruned.
    const window = carried ? MAILBOX_MAX_AGE_MS + MAX_CLOCK_SKEW_MS : MAX_CLOCK_SKEW_MS;
    const inserted = this.insertStmt.run(signature, origin, requestTimestampMs + window + 1_000).changes > 0;
    const count = this.carried.get(origin);
    if (carried && inserted && count !== undefined) this.carried.set(origin, count + 1);
  }

  /** Whether one more request `origin` signed, carried by a mailbox, may be remembered (MAX_CARRIED_PER_ORIGIN). */
  carriedRoom(origin: string, now = Date.now()): boolean {
    let count = this.carried.get(origin);
    if (count === undefined) {
      // By the (origin, expires_at) index: a peer's carried entries, at most the cap, once a minute.
      count = this.carriedStmt.get(origin, now + CARRIED_AFTER_MS)!.n;
      if (this.carried.size >= 10_000) this.carried.clear();
      this.carried.set(origin, count);
    }
    return count < this.maxCarried;
  }

  prune(now = Date.now()): number {
    this.carried.clear();
    return this.pruneStmt.run(now).changes;
  }
}
