/**
 * The record of the backups (kept in the settings table, so the CLI, which backs up from its own
 * connection, records its backups there too and the dashboard shows them): the schedule, the last
 * backup, and the status's warning about them. A schedule is `{dir, every, keep, passphrase_file?}`
 * (scheduler.ts runs it).
 *
 * Two sources of a schedule: the admin API (saved, kept across restarts) and `serve
 * --backup-dir …` (the command line of this run). The command line wins while it is given: it
 * is recorded under its own key at every start and cleared at a start without it, so changing
 * or dropping the flag takes effect at the next start; the API's schedule is left as it was.
 *
 * A backup without a passphrase holds the signing keys and the admin token in the clear: the
 * status warning (dashboard), the log and the result of a run say so in plain words.
 */
import Database from 'better-sqlite3';
import type { Settings } from '../store/settings.ts';
import { BACKUP_INTERVALS } from '../../../shared/contract/admin/backups.ts';

export { BACKUP_INTERVALS };
export type BackupEvery = keyof typeof BACKUP_INTERVALS;
/** Without a schedule, a last backup older than this is shown as a warning. */
export const STALE_BACKUP_MS = 8 * 24 * 3600_000;
/** How often the scheduler looks whether a backup is due. */
export const CHECK_EVERY_MS = 60_000;
/** A failed scheduled backup is tried again after this (or the schedule's interval, if shorter): scheduler.ts `tick`. */
export const RETRY_PAUSE_MS = 3600_000;

export interface BackupSchedule {
  dir: string;
  every: BackupEvery;
  keep: number;
  passphrase_file?: string | undefined;
}

export interface LastBackup {
  at: number | null;
  file: string | null;
  error: string | null;
  error_at: number | null;
}

const KEYS = {
  schedule: 'backup_schedule',
  commandLine: 'backup_schedule_command_line',
  at: 'backup_last_at',
  file: 'backup_last_file',
  encrypted: 'backup_last_encrypted',
  error: 'backup_last_error',
  errorAt: 'backup_last_error_at',
};
/** The settings keys doctor reads (it opens the database read-only, without this class). */
export const BACKUP_SETTING_KEYS = KEYS;

/** Said wherever a backup without a passphrase is made or shown. */
export const IN_THE_CLEAR = 'holds the signing keys and the admin token in the clear';

function parseSchedule(raw: string | undefined): BackupSchedule | null {
  if (!raw) return null;
  try {
    return JSON.parse(raw) as BackupSchedule;
  } catch {
    return null;
  }
}

/** The backup settings of a node's database. */
export class BackupRecords {
  private readonly settings: Settings;

  constructor(settings: Settings) {
    this.settings = settings;
  }

  /** The schedule in effect: the command line's for this run, else the one set through the API. */
  schedule(): BackupSchedule | null {
    return this.commandLineSchedule() ?? parseSchedule(this.settings.get(KEYS.schedule));
  }

  /** The schedule `serve --backup-dir …` gave this run (it wins over the API's), or null. */
  commandLineSchedule(): BackupSchedule | null {
    return parseSchedule(this.settings.get(KEYS.commandLine));
  }

  /** The API's schedule (PUT/DELETE /backups/schedule). */
  setSchedule(schedule: BackupSchedule | null): void {
    this.settings.set(KEYS.schedule, schedule ? JSON.stringify(schedule) : '');
    // A failure of the schedule it replaces (another folder, a disk unplugged) is not this one's.
    this.settings.set(KEYS.error, '');
  }

  /** Called at every start: the command line's schedule of this run, or null to clear an earlier one. */
  setCommandLineSchedule(schedule: BackupSchedule | null): void {
    this.settings.set(KEYS.commandLine, schedule ? JSON.stringify(schedule) : '');
  }

  last(): LastBackup {
    const number = (key: string) => {
      const v = this.settings.get(key);
      return v ? Number(v) : null;
    };
    return { at: number(KEYS.at), file: this.settings.get(KEYS.file) || null, error: this.settings.get(KEYS.error) || null, error_at: number(KEYS.errorAt) };
  }

  /** Whether the last backup was encrypted (null: none yet, or made by a version that did not record it). */
  lastEncrypted(): boolean | null {
    const v = this.settings.get(KEYS.encrypted);
    return v === '1' ? true : v === '0' ? false : null;
  }

  recordSuccess(at: number, file: string, encrypted: boolean): void {
    this.settings.set(KEYS.at, String(at));
    this.settings.set(KEYS.file, file);
    this.settings.set(KEYS.encrypted, encrypted ? '1' : '0');
    this.settings.set(KEYS.error, '');
  }

  recordFailure(at: number, message: string): void {
    this.settings.set(KEYS.error, message);
    this.settings.set(KEYS.errorAt, String(at));
  }

  /**
   * When the scheduler (scheduler.ts `tick`) next tries a scheduled backup, by its own rule: the
   * interval after the last backup; after a failure (the newest attempt), the retry pause (an
   * hour, or the interval if shorter) after it; never before `now`. Null without a schedule. It
   * checks every CHECK_EVERY_MS, so the try comes within that after this time.
   */
  nextAt(now = Date.now()): number | null {
    const schedule = this.schedule();
    if (!schedule) return null;
    const last = this.last();
    const interval = BACKUP_INTERVALS[schedule.every];
    const failed = last.error !== null && last.error_at !== null && last.error_at >= (last.at ?? 0);
    if (failed) return Math.max(last.error_at! + Math.min(interval, RETRY_PAUSE_MS), now);
    return Math.max(last.at === null ? now : last.at + interval, now);
  }

  /**
   * For the status and the dashboard: when, and a warning when there is none, it is old or
   * failed, or the backups are not encrypted (the sentences are joined).
   */
  summary(now = Date.now()): { last_at: number | null; file: string | null; scheduled: boolean; warning: string | null; next_at: number | null } {
    const last = this.last();
    const schedule = this.schedule();
    const warnings: string[] = [];
    // A failure carries the raw error: it goes last, so the UI can show what precedes it as it is
    // and put the raw error under "details" (renderer/src/lib/errors.ts explainBackupWarning).
    const failed = schedule && last.error && (last.error_at ?? 0) >= (last.at ?? 0) ? `The last scheduled backup failed: ${last.error}` : null;
    if (failed) {
      // said last, below
    } else if (last.at === null && schedule) warnings.push('No backup yet: the first scheduled one is made as soon as the schedule is set, and then on schedule.');
    else if (last.at === null) warnings.push('No backup yet: run `paracord-node backup --out FILE --passphrase-file F`, or set a backup schedule.');
    else {
      const limit = schedule ? 2 * BACKUP_INTERVALS[schedule.every] + CHECK_EVERY_MS : STALE_BACKUP_MS;
      if (now - last.at > limit) warnings.push(`The last backup is ${Math.floor((now - last.at) / (24 * 3600_000))} days old.`);
    }
    if (schedule && !schedule.passphrase_file) {
      warnings.push(`Scheduled backups are not encrypted: each one ${IN_THE_CLEAR}. Give them a passphrase file (serve --backup-passphrase-file, or the schedule's passphrase file), or keep the backup folder as safe as the data folder.`);
    } else if (last.at !== null && this.lastEncrypted() === false) {
      warnings.push(`The last backup${last.file ? ` (${last.file})` : ''} is not encrypted: it ${IN_THE_CLEAR}. Keep it as safe as the data folder, or make encrypted ones (--passphrase-file).`);
    }
    if (failed) warnings.push(failed);
    return { last_at: last.at, file: last.file, scheduled: schedule !== null, warning: warnings.length > 0 ? warnings.join(' ') : null, next_at: this.nextAt(now) };
  }
}

/** Records a backup made by another process (the CLI) in the node's database. */
export function recordBackupInDatabase(databaseFile: string, at: number, file: string, encrypted: boolean): void {
  const db = new Database(databaseFile, { fileMustExist: true });
  try {
    db.pragma('busy_timeout = 10000');
    const set = db.prepare('INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
    db.transaction(() => {
      set.run(KEYS.at, String(at));
      set.run(KEYS.file, file);
      set.run(KEYS.encrypted, encrypted ? '1' : '0');
      set.run(KEYS.error, '');
    })();
  } finally {
    db.close();
  }
}
