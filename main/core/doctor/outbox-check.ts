/** The doctor's check of the outbound queue (doctor.ts): a backlog for one server, refused or retried deliveries. */
import type Database from 'better-sqlite3';
import { ago, note, ok, problem, warning, type CheckResult } from './check-result.ts';

export const DEFAULT_MAX_BACKLOG = 1000;

export function checkOutbox(db: Database.Database | null, maxBacklog = DEFAULT_MAX_BACKLOG, now = Date.now()): CheckResult {
  if (!db) return note('outbox', 'No database yet.');
  try {
    const rows = db
      .prepare<[], { destination: string; pending: number; failed: number; retried: number; oldest: number | null }>(
        `SELECT destination,
                SUM(state = 'pending') AS pending, SUM(state = 'failed') AS failed,
                SUM(state = 'pending' AND attempts > 0) AS retried,
                MIN(CASE WHEN state = 'pending' THEN created_at END) AS oldest
           FROM federation_outbox WHERE state IN ('pending', 'failed') GROUP BY destination ORDER BY pending DESC, destination`,
      )
      .all();
    const pending = rows.reduce((n, r) => n + r.pending, 0);
    const failed = rows.reduce((n, r) => n + r.failed, 0);
    const worst = rows[0];
    if (worst && worst.pending >= maxBacklog) {
      return problem('outbox', `${worst.pending} events wait for ${worst.destination}${worst.oldest !== null ? `, the oldest for ${ago(now - worst.oldest)}` : ''} (${pending} in all): that server is down or cannot be reached; ask its owner, or drop its queue in the web UI (Queue) if it is gone for good.`);
    }
    if (failed > 0) return warning('outbox', `${failed} deliveries were refused by peers (and ${pending} wait): see the Queue in the web UI, then retry or drop them.`);
    const oldest = Math.min(...rows.filter((r) => r.oldest !== null).map((r) => r.oldest!));
    if (Number.isFinite(oldest) && now - oldest > 24 * 3600_000) return warning('outbox', `${pending} events wait for delivery, the oldest for ${ago(now - oldest)}: a peer may be down or unreachable (see the Queue).`);
    const retried = rows.filter((r) => r.retried > 0);
    if (retried.length > 0) {
      const names = retried.slice(0, 3).map((r) => `${r.destination} (${r.pending})`).join(', ');
      return warning('outbox', `Deliveries to ${names}${retried.length > 3 ? ` and ${retried.length - 3} more` : ''} fail and are being retried: that server may be down; nothing to do unless it lasts (see the Queue).`);
    }
    return ok('outbox', pending === 0 ? 'Nothing waits for delivery.' : `${pending} events wait for delivery.`);
  } catch {
    return note('outbox', 'Could not read the outbound queue.');
  }
}
