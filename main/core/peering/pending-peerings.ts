/**
 * Friends' links we redeemed through a mailbox (issue #32), waiting for the friend's signed answer:
 * where each request waits, the key and token its answer must match, and leaving it there again
 * every PENDING_RESEND_MS until answered (an answer can be lost), for at most MAX_PENDING_MS.
 * Nothing is bound or pinned here: PeeringService does that when an accepted answer comes.
 */
import type { Logger } from 'pino';
import type { PendingPeering } from '../../../shared/contract/admin-operations.ts';
import type { Db } from '../store/database.ts';
import type { TrustStore } from '../trust/trust-store.ts';
import { PEERING_PATH } from '../federation/paths.ts';
import type { LinkMailboxes } from '../mailbox/choice.ts';
import { guarded } from '../util/guarded.ts';

/** A peering request waiting at a mailbox is left there again this often until answered (an answer can be lost). */
export const PENDING_RESEND_MS = 2 * 60_000;
/** However long a link says it lasts, a request waiting at a mailbox is left there again for at most this long. */
const MAX_PENDING_MS = 30 * 24 * 3600_000;

export interface PendingRow extends PendingPeering {
  key_id: string;
  public_key: string;
  endpoint: string;
  tls_fingerprint: string | null;
  token_hash: string;
  request: string;
  mailboxes: string;
}

/** What a waiting request records: the friend as its link describes it, and our request's body. */
export interface PendingRequest {
  server_name: string;
  key_id: string;
  public_key: string;
  endpoint: string;
  tls_fingerprint: string | null;
  token_hash: string;
  expires_at: number;
  request: string;
  via: readonly string[];
}

export interface PendingPeeringsDeps {
  db: Db;
  trust: TrustStore;
  log: Logger;
  /** Leaves a signed request for `server` at one of the mailboxes its link names (their statements checked with its key): the mailbox that took it, or null. */
  leaveAtMailbox?: (server: string, path: string, body: string, link?: LinkMailboxes) => Promise<string | null>;
}

export class PendingPeerings {
  private readonly d: PendingPeeringsDeps;
  private resendTimer: NodeJS.Timeout | null = null;

  constructor(deps: PendingPeeringsDeps) {
    this.d = deps;
  }

  start(): void {
    this.scheduleResend();
  }

  stop(): void {
    if (this.resendTimer) clearTimeout(this.resendTimer);
    this.resendTimer = null;
  }

  /**
   * Records the request (first: the answer may come back through the mailbox before the deposit's
   * own answer does), then leaves it at one of its mailboxes: the mailbox, or null (nothing kept).
   */
  async leave(pending: PendingRequest, now = Date.now()): Promise<string | null> {
    this.d.db
      .prepare(
        `INSERT INTO pending_peerings (server_name, key_id, public_key, endpoint, tls_fingerprint, token_hash, request, mailboxes, waiting_at, requested_at, expires_at, answered_at, error)
         VALUES (@server_name, @key_id, @public_key, @endpoint, @tls_fingerprint, @token_hash, @request, @mailboxes, NULL, @now, @expires_at, NULL, NULL)
         ON CONFLICT (server_name) DO UPDATE SET key_id = excluded.key_id, public_key = excluded.public_key, endpoint = excluded.endpoint, tls_fingerprint = excluded.tls_fingerprint,
           token_hash = excluded.token_hash, request = excluded.request, mailboxes = excluded.mailboxes, waiting_at = NULL, requested_at = excluded.requested_at,
           expires_at = excluded.expires_at, answered_at = NULL, error = NULL`,
      )
      .run({
        server_name: pending.server_name, key_id: pending.key_id, public_key: pending.public_key, endpoint: pending.endpoint, tls_fingerprint: pending.tls_fingerprint,
        token_hash: pending.token_hash, request: pending.request, mailboxes: JSON.stringify(pending.via), now, expires_at: Math.min(pending.expires_at, now + MAX_PENDING_MS),
      });
    const mailbox = await this.d.leaveAtMailbox?.(pending.server_name, PEERING_PATH, pending.request, { via: pending.via, key_id: pending.key_id, public_key: pending.public_key }) ?? null;
    if (mailbox === null) {
      this.d.db.prepare('DELETE FROM pending_peerings WHERE server_name = ? AND requested_at = ?').run(pending.server_name, now);
      return null;
    }
    this.d.db.prepare('UPDATE pending_peerings SET waiting_at = ? WHERE server_name = ? AND requested_at = ? AND answered_at IS NULL').run(mailbox, pending.server_name, now);
    this.scheduleResend();
    return mailbox;
  }

  /** Requests that wait at a mailbox, or that the friend refused. */
  list(): PendingPeering[] {
    return this.d.db
      .prepare<[], PendingPeering>('SELECT server_name, waiting_at, requested_at, expires_at, answered_at, error FROM pending_peerings ORDER BY requested_at')
      .all();
  }

  /** The request that waits for `server`'s answer now (not answered, not expired), if any. */
  waiting(server: string, now = Date.now()): PendingRow | undefined {
    return this.d.db.prepare<[string, number], PendingRow>('SELECT * FROM pending_peerings WHERE server_name = ? AND answered_at IS NULL AND expires_at > ?').get(server, now);
  }

  /** The friend refused: its words are kept for the owner. */
  refused(server: string, words: string, now = Date.now()): void {
    this.d.db.prepare('UPDATE pending_peerings SET answered_at = ?, error = ? WHERE server_name = ?').run(now, words, server);
  }

  /** The friend accepted (in the caller's transaction). */
  done(server: string): void {
    this.d.db.prepare('DELETE FROM pending_peerings WHERE server_name = ?').run(server);
  }

  /** While requests wait: leave each at its mailbox again every PENDING_RESEND_MS (the same body, freshly signed). */
  private scheduleResend(): void {
    if (this.resendTimer) return;
    let waiting = 1;
    try {
      waiting = this.d.db.prepare<[number], { n: number }>('SELECT COUNT(*) AS n FROM pending_peerings WHERE answered_at IS NULL AND expires_at > ?').get(Date.now())?.n ?? 0;
    } catch {
      // Not known (a failure of the database): armed all the same, the resend reads them again.
    }
    if (waiting === 0) return;
    this.resendTimer = setTimeout(() => {
      this.resendTimer = null;
      guarded(this.d.log, 'peering_resend_failed', () => this.resend().finally(() => this.scheduleResend()));
    }, PENDING_RESEND_MS);
    this.resendTimer.unref();
  }

  private async resend(now = Date.now()): Promise<void> {
    const rows = this.d.db.prepare<[number], PendingRow>('SELECT * FROM pending_peerings WHERE answered_at IS NULL AND expires_at > ?').all(now);
    for (const row of rows) {
      const via = (JSON.parse(row.mailboxes) as string[]).filter((m) => this.d.trust.get(m)?.trust === 'allow');
      const mailbox = await this.d.leaveAtMailbox?.(row.server_name, PEERING_PATH, row.request, { via, key_id: row.key_id, public_key: row.public_key }).catch(() => null) ?? null;
      if (mailbox !== null && mailbox !== row.waiting_at) this.d.db.prepare('UPDATE pending_peerings SET waiting_at = ? WHERE server_name = ? AND answered_at IS NULL').run(mailbox, row.server_name);
    }
  }
}
