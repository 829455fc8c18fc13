/**
 * A backup schedule in words, for the dashboard (the UI check of 2026-11-27: once scheduled, the
 * card said only "Last backup just now (scheduled)": not the folder, how often, how many are kept,
 * whether they are encrypted, nor when the next one comes).
 */
import { BACKUP_INTERVALS, type BackupSchedule } from '../../../shared/contract/admin/backups.ts';
import { fromNow } from './format.ts';

const EVERY = { hourly: 'Every hour', daily: 'Every day', weekly: 'Every week' } as const;

/**
 * `nextAt`: when the node next tries (its status's `backup.next_at`: after a failure, its retry);
 * `failed`: the last try failed (the warning above says so): the next is a try again, at the same
 * time the warning gives (a user trial: "tries again within an hour" beside "the next one in 1 day").
 */
export function scheduleWords(schedule: BackupSchedule, lastAt: number | null, now = Date.now(), nextAt?: number | null, failed = false): string {
  const kept = schedule.keep === 1 ? 'only the newest kept' : `the newest ${schedule.keep} kept`;
  const sealed = schedule.passphrase_file ? 'encrypted' : 'not encrypted';
  const head = `${EVERY[schedule.every]} into ${schedule.dir} (${kept}, ${sealed})`;
  if (failed && nextAt) {
    const next = fromNow(nextAt, now);
    return `${head}: ${lastAt === null ? 'none made yet; ' : ''}the next try ${next === 'now' ? 'is due now' : next}.`;
  }
  // Being made, or failed (the warning above says which): none made yet is true either way.
  if (lastAt === null) return `${head}: none made yet.`;
  const next = fromNow(nextAt ?? Math.max(lastAt + BACKUP_INTERVALS[schedule.every], now), now);
  return `${head}: the next one ${next === 'now' ? 'is due now' : next}.`;
}
