/**
 * The health of the log file (docs/SECURITY.md, item 9): a failed write (disk full) is reported
 * on stderr at most once a minute and in the node status (`logWarnings`); lines are dropped, never
 * buffered without bound, never crash the process.
 */
import type { Logger } from 'pino';

/** What went wrong writing the log, for the node status. */
export class LogHealth {
  private problem: string | null = null;
  private lastReportAt = 0;
  dropped = 0;
  report: (fields: Record<string, unknown>, message: string) => void = () => {};

  get warnings(): string[] {
    return this.problem ? [this.problem] : [];
  }

  failed(file: string, error: NodeJS.ErrnoException): void {
    const full = error.code === 'ENOSPC' || error.code === 'EDQUOT';
    this.problem = full
      ? `disk full: log lines to ${file} are being dropped (${error.code}); free some space`
      : `cannot write the log file ${file} (${error.code ?? error.message}); log lines are being dropped`;
    const now = Date.now();
    if (now - this.lastReportAt < 60_000) return;
    this.lastReportAt = now;
    // Later, not from inside the write that failed (it may be pino's own write).
    const fields = { event: 'log_write_failed', file, code: error.code ?? null, error: error.message };
    setImmediate(() => this.report(fields, this.problem ?? 'log write failed'));
  }

  recovered(): void {
    if (!this.problem) return;
    this.problem = null;
    setImmediate(() => this.report({ event: 'log_write_recovered', dropped: this.dropped }, 'log file writes work again'));
  }
}

const healthOf = new WeakMap<Logger, LogHealth>();

/** Ties `health` to the logger it writes for, so that `logWarnings(logger)` finds it. */
export function watchHealth(log: Logger, health: LogHealth): void {
  healthOf.set(log, health);
}

/** Problems writing the log (e.g. disk full), for `GET /status` `warnings`. */
export function logWarnings(log: Logger): string[] {
  return healthOf.get(log)?.warnings ?? [];
}
