/**
 * Replay protection (docs/PROTOCOL.md §Request signatures): an exact signed request seen twice inside the skew
 * window is refused with 409. Signatures are remembered in SQLite so a restart does not
 * open a window; ed25519 is deterministic, so the signature identifies the signed string.
 */
import type { Db } from '../store/database.ts';
import { MAILBOX_MAX_AGE_MS } from '../mailbox/mailbox-store.ts';
import { MAX_CLOCK_SKEW_MS } from './request-signature.ts';

export class ReplayCache {
  private readonly seenStmt;
  private readonly insertStmt;
  private readonly pruneStmt;
  /** Signatures being processed right now, not yet committed. */
  private readonly inFlight = new Set<string>();

  constructor(db: Db) {
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
    this.insertStmt.run(signature, origin, requestTimestampMs + window + 1_000);
  }

  prune(now = Date.now()): number {
    return this.pruneStmt.run(now).changes;
  }
}
