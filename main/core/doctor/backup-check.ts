/** The doctor's check of the backups (doctor.ts): the last one's age and encryption, the schedule's folder and errors. */
import type Database from 'better-sqlite3';
import { BACKUP_INTERVALS, BACKUP_SETTING_KEYS, IN_THE_CLEAR, STALE_BACKUP_MS, type BackupSchedule } from '../backup/records.ts';
import { ago, note, ok, warning, type CheckResult } from './check-result.ts';
import { setting } from './read-only-db.ts';

/** The backup folder of the schedule the node follows (the command line's wins), if any. */
export function scheduledBackupDir(db: Database.Database | null): string | null {
  if (!db) return null;
  try {
    const schedule = JSON.parse(setting(db, BACKUP_SETTING_KEYS.commandLine) || setting(db, BACKUP_SETTING_KEYS.schedule) || 'null') as BackupSchedule | null;
    return typeof schedule?.dir === 'string' ? schedule.dir : null;
  } catch {
    return null;
  }
}

export function checkBackup(db: Database.Database | null, now = Date.now()): CheckResult {
  if (!db) return note('last_backup', 'No database yet: nothing to back up.');
  const at = Number(setting(db, BACKUP_SETTING_KEYS.at) ?? NaN);
  let schedule: BackupSchedule | null;
  try {
    // The last run's command-line schedule (serve --backup-dir) wins over the API's, as in the node.
    schedule = JSON.parse(setting(db, BACKUP_SETTING_KEYS.commandLine) || setting(db, BACKUP_SETTING_KEYS.schedule) || 'null') as BackupSchedule | null;
  } catch {
    schedule = null;
  }
  const error = setting(db, BACKUP_SETTING_KEYS.error);
  if (Number.isNaN(at)) return warning('last_backup', 'No backup yet: run `paracord-node backup --out FILE --passphrase-file F`, or set a schedule (Dashboard, or PUT /backups/schedule).');
  const age = now - at;
  if (schedule && error) return warning('last_backup', `The last scheduled backup failed (${error}); the last good one is ${ago(age)} old.`);
  const limit = schedule ? 2 * BACKUP_INTERVALS[schedule.every] : STALE_BACKUP_MS;
  if (age > limit) return warning('last_backup', `The last backup is ${ago(age)} old: make a fresh one${schedule ? '' : ', or set a schedule'}.`);
  if (schedule && !schedule.passphrase_file) return warning('last_backup', `Scheduled backups into ${schedule.dir} are not encrypted: each one ${IN_THE_CLEAR}; give them a passphrase file (serve --backup-passphrase-file).`);
  if (setting(db, BACKUP_SETTING_KEYS.encrypted) === '0') return warning('last_backup', `The last backup (${ago(age)} ago) is not encrypted: it ${IN_THE_CLEAR}; keep it as safe as the data folder, or use --passphrase-file.`);
  return ok('last_backup', `Last backup ${ago(age)} ago${schedule ? ` (scheduled ${schedule.every}, keeping ${schedule.keep})` : ''}.`);
}
