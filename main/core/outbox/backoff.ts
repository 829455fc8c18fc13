export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1_000, maxMs: 5 * 60_000 };

/** Exponential backoff with jitter: attempt 1 → ~initial, doubling, capped; ±25 % jitter. */
export function backoffDelay(attempt: number, policy: BackoffPolicy = DEFAULT_BACKOFF, random = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(base * (0.75 + random() * 0.5));
}

/**
 * The longest wait a peer's Retry-After can impose: the peer chooses it, and a delay past Node's
 * timer limit (2^31 - 1 ms, ~24.8 days) fires after 1 ms, which made a worker re-read its queue
 * every millisecond. A day: the longest a node of ours asks for (a daily storage quota's "send it
 * tomorrow"); a peer may ask for a pause, not park our deliveries for weeks.
 */
export const MAX_RETRY_AFTER_MS = 24 * 3600_000;

/** Retry-After in seconds or as an HTTP date, at most MAX_RETRY_AFTER_MS; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (!text) return undefined;
  if (/^\d+$/.test(text.trim())) return Math.min(MAX_RETRY_AFTER_MS, Number(text.trim()) * 1000);
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.min(MAX_RETRY_AFTER_MS, Math.max(0, date - now));
}
