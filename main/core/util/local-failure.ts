/**
 * Whether an error is a failure of this machine rather than of what was asked: the database
 * (SqliteError, SQLITE_* codes) or the system (errno codes: ENOSPC, EIO…). Such a failure is
 * waited out and answered 503 storage_failed; anything else unforeseen is a defect met on the
 * input (federation/fetched-event-failure.ts, http/middleware/error-handler.ts).
 */
export function isLocalFailure(error: unknown): boolean {
  const e = error as { name?: unknown; code?: unknown } | null;
  return e !== null && typeof e === 'object' && (e.name === 'SqliteError' || (typeof e.code === 'string' && /^(SQLITE_|E[A-Z]+$)/.test(e.code)));
}
