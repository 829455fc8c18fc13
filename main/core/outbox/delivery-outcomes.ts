/**
 * What one delivery attempt's answer means for each event it carried (delivery-worker.ts):
 * delivered, refused for good (a permanent status), or retried after a back-off (or the peer's
 * Retry-After); and what that logs.
 */
import type { Logger } from 'pino';
import { infoLimited, warnLimited } from '../log/rate-limit.ts';
import type { FederationResponse } from '../federation/http-client.ts';
import { PEER_TEXT_MAX } from '../federation/peer-refusal.ts';
import { cleanText, peerCode } from '../util/untrusted-text.ts';
import { mailboxAnswer } from '../../../shared/mailbox-answer.ts';
import { depositIdOf } from '../mailbox/wire.ts';
import { backoffDelay, parseRetryAfter, type BackoffPolicy } from './backoff.ts';
import type { OutboxRow, Outcome } from './outbox.ts';

/**
 * What a recipient's refusal for good of one of our events (its status and error code) means for
 * us, its sender: sent again after signing it again (`resend_late`), delivered after all, or failed.
 */
export type RefusalMeaning = 'resend_late' | 'delivered' | 'failed';

/**
 * The refusals that are no failure (docs/PROTOCOL.md §Ordering, "Mailboxes"); any other means
 * failed. 409 `depth_too_old`: the event was signed too long before the room's host took it (it
 * waited at a mailbox, or the host was away): signed again and sent again. 409
 * `event_id_conflict`: the recipient holds another version of that event of ours (a copy signed
 * again after its first version waited, both taken): delivered.
 */
const NOT_FAILURES: ReadonlyArray<{ status: number; code: string; meaning: Exclude<RefusalMeaning, 'failed'> }> = [
  { status: 409, code: 'depth_too_old', meaning: 'resend_late' },
  { status: 409, code: 'event_id_conflict', meaning: 'delivered' },
];

/**
 * What a refusal means for its sender (the table above). Asked for a refusal told through a
 * mailbox (mailbox/deposits.ts), for a push's `resend_late` (reissue-too-old.ts), and for a
 * push's `delivered` (requestOutcomes, batchOutcomes below): a copy we signed again after its
 * first version waited at a mailbox, which the host took in time after all, read "failed" there.
 */
export function refusalMeaning(status: unknown, code: unknown): RefusalMeaning {
  return NOT_FAILURES.find((refusal) => refusal.status === status && refusal.code === code)?.meaning ?? 'failed';
}

/**
 * Whether a destination's 2xx to one pushed event is its receipt of it: `{event_id, inserted}`
 * naming that event, as our nodes and the Paracord reference (v0.8.5, 3.x: `ingest_event`) answer.
 */
function isReceiptOf(response: FederationResponse | undefined, sendable: ReadonlyArray<{ row: OutboxRow }>): boolean {
  const receipt = response?.json as { event_id?: unknown } | null | undefined;
  return sendable.length === 1 && typeof receipt === 'object' && receipt !== null && receipt.event_id === sendable[0]!.row.event_id;
}

/**
 * What a destination's receipt says beyond "delivered": that it holds the event for review
 * (`held: true`: it keeps our server in quarantine, docs/PROTOCOL.md), noted so that the message
 * does not read "Delivered to all" while nobody there sees it; or that it stored it now as any
 * other (`inserted: true`), which alone shows it lets us in again (a copy of what it stored before
 * it held us answers `inserted: false` without `held`).
 */
function receiptSays(receipt: unknown): { heldThere?: true; inserted?: true } {
  if (typeof receipt !== 'object' || receipt === null) return {};
  const said = receipt as { held?: unknown; inserted?: unknown };
  // Stored there now, as any other event (a copy of one stored before it held us says nothing of now).
  return said.held === true ? { heldThere: true } : said.inserted === true ? { inserted: true } : {};
}

/** Statuses that will not change by asking again: the entry is marked failed. */
const PERMANENT = new Set([400, 403, 404, 409, 413]);
/**
 * What a Paracord reference refuses in plain text, for good (its body extractors: bad JSON 400,
 * too large 413, no JSON content type 415, a missing field 422; its own refusals are JSON):
 * REFERENCE-INTEROP-NOTES row 26.
 */
export const PLAIN_TEXT_REFUSALS: ReadonlySet<number> = new Set([400, 413, 415, 422]);

/**
 * One outcome for every event of a request that failed (or a single-event request). `mailbox`:
 * the request was left at that friend's mailbox (issue #32), whose answer it is: a refusal there
 * is not the destination's (it never saw the request), so it is retried, and its error says which
 * mailbox answered (shared/mailbox-answer.ts). Except a lone event the mailbox refuses as too
 * large (413), which the destination could not be reached directly for either (delivery-route.ts):
 * retried, it would hold every entry behind it for good; it fails alone, with the mailbox's words
 * (not as the destination's refusal), and its owner may send it again.
 */
export function requestOutcomes(sendable: Array<{ row: OutboxRow }>, response: FederationResponse | undefined, networkError: string | undefined, now: number, backoff: BackoffPolicy, mailbox: string | null = null, plainRefusalsFinal = false) {
  const status = response?.status ?? null;
  if (status !== null && status >= 200 && status < 300) {
    if (mailbox === null ? isReceiptOf(response, sendable) : depositIdOf(response) !== null) {
      const said = mailbox !== null ? { atMailbox: true as const } : receiptSays(response?.json);
      return sendable.map(({ row }) => ({ row, outcome: { kind: 'delivered', status, ...said } as Outcome }));
    }
    // A mailbox's "taken" that names no item: nothing here could follow it (asked whether it is
    // still held, or queued again after its week), and its events read as delivered for good.
    // Left again later (the destination drops a second copy). Likewise a 2xx that is not the
    // destination's receipt of the event (a page of whatever answers at its address: a proxy's,
    // a captive portal's): nothing says it has the event.
    const nextAttemptAt = now + backoffDelay(sendable[0]!.row.attempts + 1, backoff);
    const error = mailbox !== null
      ? mailboxAnswer(mailbox, `HTTP ${status}: its answer named no item we could follow`)
      : `HTTP ${status}: the answer was not its receipt of the event`;
    return sendable.map(({ row }) => ({ row, outcome: { kind: 'retry', status, error, nextAttemptAt } as Outcome }));
  }
  const body = response?.json as { error?: string; message?: string } | undefined;
  // A 4xx from its address that is no node's JSON refusal is a page of whatever answered there: said so (it is retried below).
  const page = mailbox === null && status !== null && status >= 400 && status < 500 && typeof body?.error !== 'string' && !(plainRefusalsFinal && PLAIN_TEXT_REFUSALS.has(status));
  const answer = page ? `HTTP ${status}: its address answered with a page, not a node's answer` : peerFailure(status, body?.error, body?.message);
  const error = networkError ?? (mailbox !== null ? mailboxAnswer(mailbox, answer) : answer);
  // One event the destination holds another version of (refusalMeaning): it has it.
  if (mailbox === null && sendable.length === 1 && refusalMeaning(status, body?.error) === 'delivered') return sendable.map(({ row }) => ({ row, outcome: { kind: 'delivered', status } as Outcome }));
  // Its node's own refusal when it says so in JSON (a federation error code), not a proxy's page:
  // a 403 or 404 page of a proxy in front of a friend being upgraded failed its whole queue for
  // good (a red team, 2026-12-01). A page is final only from a Paracord reference, whose refusals
  // are plain text (`plainRefusalsFinal`); from anyone else it is retried, as a 5xx page is.
  const byDestination = typeof body?.error === 'string';
  if (status !== null && mailbox === null && ((PERMANENT.has(status) && byDestination) || (plainRefusalsFinal && PLAIN_TEXT_REFUSALS.has(status)))) {
    return sendable.map(({ row }) => ({ row, outcome: { kind: 'failed', status, error, ...(byDestination ? { byDestination: true as const } : {}) } as Outcome }));
  }
  if (status === 413 && mailbox !== null && sendable.length === 1) return sendable.map(({ row }) => ({ row, outcome: { kind: 'failed', status, error } as Outcome }));
  // A mailbox's Retry-After is kept up to the longest back-off: it speaks for itself, and the
  // destination may be reached directly, or through another mailbox, before a day it names.
  const asked = parseRetryAfter(response?.headers['retry-after'], now);
  const retryAfter = mailbox !== null && asked !== undefined ? Math.min(asked, backoff.maxMs) : asked;
  const attempts = sendable[0]!.row.attempts + 1;
  const nextAttemptAt = now + Math.max(retryAfter ?? 0, backoffDelay(attempts, backoff));
  return sendable.map(({ row }) => ({ row, outcome: { kind: 'retry', status, error, nextAttemptAt } as Outcome }));
}

/** Per-event results of a batch (`{results: [{event_id, inserted} | {event_id, status, error, message}]}`). */
export function batchOutcomes(sendable: Array<{ row: OutboxRow }>, response: FederationResponse, now: number, backoff: BackoffPolicy) {
  const results = (response.json as { results?: Array<{ event_id?: string; inserted?: boolean; held?: unknown; status?: number; error?: string; message?: string }> } | undefined)?.results;
  // The peer's answer: only objects naming an event count (a null threw, and the worker crashed on every batch to that peer).
  const byId = new Map((Array.isArray(results) ? results : []).filter((r) => typeof r === 'object' && r !== null && typeof r.event_id === 'string').map((r) => [r.event_id, r]));
  const nextAttemptAt = now + backoffDelay(sendable[0]!.row.attempts + 1, backoff);
  return sendable.map(({ row }) => {
    const result = byId.get(row.event_id);
    let outcome: Outcome;
    if (!result) outcome = { kind: 'retry', status: response.status, error: 'no result for this event in the batch answer', nextAttemptAt };
    else if (typeof result.inserted === 'boolean') outcome = { kind: 'delivered', status: response.status, ...receiptSays(result) };
    else if (refusalMeaning(result.status, result.error) === 'delivered') outcome = { kind: 'delivered', status: response.status };
    else {
      const status = typeof result.status === 'number' ? result.status : null;
      const error = peerFailure(status, result.error, result.message);
      outcome = status !== null && PERMANENT.has(status) ? { kind: 'failed', status, error, byDestination: true } : { kind: 'retry', status, error, nextAttemptAt };
    }
    return { row, outcome };
  });
}

/** What an attempt's outcomes log: delivered (debug), refusals and retries (rate-limited). */
export function logOutcomes(log: Logger, destination: string, outcomes: Array<{ row: OutboxRow; outcome: Outcome }>, latency: number): void {
  const delivered = outcomes.filter((o) => o.outcome.kind === 'delivered').length;
  if (delivered > 0) log.debug({ event: 'delivered', destination, count: delivered, ms: Math.round(latency) }, 'events delivered');
  for (const { row, outcome } of outcomes) {
    if (outcome.kind === 'failed') {
      warnLimited(log, `delivery_failed ${destination}`, { event: 'delivery_failed', destination, event_id: row.event_id, status: outcome.status, error: cleanText(outcome.error, 500) }, 'delivery refused by peer; entry marked failed');
    }
  }
  const retry = outcomes.find((o) => o.outcome.kind === 'retry')?.outcome as Extract<Outcome, { kind: 'retry' }> | undefined;
  if (retry) {
    infoLimited(
      log,
      `delivery_retry ${destination}`,
      { event: 'delivery_retry', destination, count: outcomes.filter((o) => o.outcome.kind === 'retry').length, status: retry.status, error: cleanText(retry.error, 500), retry_in_ms: retry.nextAttemptAt - Date.now() },
      'delivery will be retried',
    );
  }
}

/**
 * A peer's refusal as the cause line stored, shown and logged (`HTTP 403 origin_blocked: …`):
 * its code only when it looks like one, its words cleaned and cut (util/untrusted-text.ts). Also
 * the words of a refusal a puller names in its ack (pull/pull-queue.ts).
 */
export function peerFailure(status: number | null, code: unknown, message: unknown): string {
  const theirCode = peerCode(code);
  const words = typeof message === 'string' && message !== '' ? message : theirCode === null && typeof code === 'string' ? code : '';
  return `HTTP ${status ?? '?'}${theirCode ? ` ${theirCode}` : ''}${words ? `: ${cleanText(words, PEER_TEXT_MAX)}` : ''}`;
}
