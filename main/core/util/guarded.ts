import type { Logger } from 'pino';
import { warnLimited } from '../log/rate-limit.ts';

/**
 * Runs background work (a timer's, a listener's) so that its failure is logged, rate-limited per
 * `event`, and never thrown out of it: nothing up the stack catches there, and the process has
 * no handler of its own, so a failure of the database at that moment (a full disk, an I/O error,
 * a lock held too long) ended the node. What the work is for is tried again at its next turn,
 * by its own schedule.
 */
export function guarded(log: Logger, event: string, work: () => unknown): void {
  const failed = (error: unknown) => warnLimited(log, event, { event, err: error }, 'background work failed; it is tried again at its next turn');
  try {
    const result = work();
    if (result instanceof Promise) result.catch(failed);
  } catch (error) {
    failed(error);
  }
}
