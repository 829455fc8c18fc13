/**
 * Scheduled backups: with a schedule `{dir, every, keep, passphrase_file?}` (records.ts), every
 * hour/day/week a backup `paracord-<server>-<time>.pcbak` goes into `dir`, and only the newest
 * `keep` stay. A backup without a passphrase holds the signing keys and the admin token in the
 * clear: the log and the result of a run say so in plain words.
 */
import { unlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Db } from '../store/database.ts';
import { BackupError } from './archive.ts';
import { backupFileName, createBackup, type BackupResult } from './create.ts';
import { listBackupFiles } from './listing.ts';
import { readPassphraseFile } from './passphrase-file.ts';
import { BACKUP_INTERVALS, CHECK_EVERY_MS, IN_THE_CLEAR, RETRY_PAUSE_MS, type BackupRecords, type BackupSchedule } from './records.ts';
import { guarded } from '../util/guarded.ts';

export interface SchedulerDeps {
  dataDir: string;
  db: Db;
  records: BackupRecords;
  log: Logger;
  serverName: () => string | null;
  /** A portable identity.json (plaintext seeds), when the keys are sealed at rest. */
  identityText?: () => string | undefined;
  onChange?: () => void;
}

export class BackupScheduler {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<BackupResult> | null = null;
  /** A schedule was set while a backup ran: checked again once it is done (checkNow). */
  private checkAfterRun = false;
  /** stop() was called: nothing new starts (a check owed after a run neither). */
  private stopped = false;

  private readonly deps: SchedulerDeps;

  constructor(deps: SchedulerDeps) {
    this.deps = deps;
  }

  start(): void {
    if (this.timer) return;
    const schedule = this.deps.records.schedule();
    if (schedule && !schedule.passphrase_file) {
      this.deps.log.warn({ event: 'backup_unencrypted', dir: schedule.dir }, `scheduled backups into ${schedule.dir} are not encrypted: each one ${IN_THE_CLEAR} (give them a passphrase file)`);
    }
    this.timer = setInterval(() => guarded(this.deps.log, 'backup_check_failed', () => this.tick()), CHECK_EVERY_MS);
    this.timer.unref();
    // A schedule given on the command line (serve --backup-dir) with no backup yet: made now.
    if (schedule) void this.checkNow().catch(() => undefined);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.checkAfterRun = false;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  /** Runs a backup now: to `out`, or into the scheduled folder (then old ones are pruned). */
  async run(out?: string, passphraseFile?: string): Promise<BackupResult> {
    // "Back up now" into the schedule's folder while the scheduled one runs: that one is it.
    if (this.running && out === undefined && passphraseFile === undefined) return this.running;
    if (this.running) throw new BackupError('a backup is already running; try again when it is done');
    const schedule = this.deps.records.schedule();
    const serverName = this.deps.serverName();
    if (!serverName) throw new BackupError('this node is not set up yet: there is nothing to back up');
    if (!out && !schedule) throw new BackupError('give an output file, or set a backup schedule with a folder first');
    const now = Date.now();
    const target = out ?? join(schedule!.dir, backupFileName(serverName, now));
    const passFile = passphraseFile ?? (out ? undefined : schedule?.passphrase_file);
    const job = (async () => {
      const passphrase = passFile ? readPassphraseFile(passFile) : null;
      const identityText = this.deps.identityText?.();
      return createBackup({ dataDir: this.deps.dataDir, out: target, passphrase, db: this.deps.db, now, ...(identityText ? { identityText } : {}) });
    })();
    this.running = job;
    try {
      const result = await job;
      this.deps.records.recordSuccess(result.manifest.created_at, result.file, result.manifest.encrypted);
      if (!out && schedule) this.prune(schedule, result.file);
      this.deps.log.info({ event: 'backup_done', file: result.file, bytes: result.size, encrypted: result.manifest.encrypted }, 'backup written');
      if (!result.manifest.encrypted) {
        const warning = `not encrypted: ${result.file} ${IN_THE_CLEAR}; keep it as safe as the data folder, or give a passphrase file`;
        result.warnings.unshift(warning);
        this.deps.log.warn({ event: 'backup_unencrypted', file: result.file }, `backup ${warning}`);
      }
      return result;
    } catch (error) {
      this.deps.records.recordFailure(Date.now(), (error as Error).message);
      this.deps.log.warn({ event: 'backup_failed', file: target, error: (error as Error).message }, 'backup failed');
      throw error;
    } finally {
      this.running = null;
      this.deps.onChange?.();
      if (this.checkAfterRun && !this.stopped) {
        this.checkAfterRun = false;
        void this.checkNow().catch(() => undefined);
      }
    }
  }

  /**
   * Runs the scheduled backup now if it is due (a schedule just set, or given on the command line,
   * with no backup yet, or none in its folder): the owner sees the first one made, not "no backup
   * yet" until the next minute's check. A new schedule does not wait out the retry pause of the one
   * it replaced; set while a backup runs (a folder corrected at once), it is checked once that is done.
   */
  checkNow(): Promise<void> {
    return this.tick(true);
  }

  private async tick(newSchedule = false): Promise<void> {
    const schedule = this.deps.records.schedule();
    if (!schedule || this.stopped) return;
    if (this.running) {
      if (newSchedule) this.checkAfterRun = true;
      return;
    }
    const last = this.deps.records.last();
    const now = Date.now();
    const interval = BACKUP_INTERVALS[schedule.every];
    const lastTry = Math.max(last.at ?? 0, last.error_at ?? 0);
    // A new schedule whose folder does not hold the last backup (another folder, or a one-off
    // file) makes its first one now: its words say "the next one in 23 h" of a folder left empty.
    const inItsFolder = last.file !== null && resolve(dirname(last.file)) === resolve(schedule.dir);
    // A failed attempt is retried after an hour (or the interval, if shorter), not every minute; and
    // retried then even when the interval has not passed since the last good one (a "Back up now"
    // into its folder failed: the card says it tries again within the hour, records.ts nextAt).
    const failed = last.error !== null && last.error_at !== null && lastTry === last.error_at;
    const due = last.at === null || now - last.at >= interval || (newSchedule && !inItsFolder) || failed;
    const retryWait = Math.min(interval, RETRY_PAUSE_MS);
    if (!due || (!newSchedule && failed && now - lastTry < retryWait)) return;
    await this.run().catch(() => undefined);
  }

  /** Keeps the newest `keep` of this server's backups in the schedule's folder, and always `written` (the one just made). */
  private prune(schedule: BackupSchedule, written: string): void {
    // Only this server's backups: another server's files in the same folder are left alone.
    // The whole name, not its start: `paracord-home-…` also starts the backups of `home-nas`.
    const prefix = backupFileName(this.deps.serverName() ?? '', 0).replace(/-\d{8}-\d{6}\.\d{3}Z\.pcbak$/, '-');
    const mine = listBackupFiles(schedule.dir).filter((b) => {
      const name = basename(b.file);
      return name.startsWith(prefix) && /^\d{8}-\d{6}\.\d{3}Z\.pcbak$/.test(name.slice(prefix.length));
    });
    for (const old of mine.slice(schedule.keep)) {
      if (resolve(old.file) === resolve(written)) continue; // a relative --backup-dir names it otherwise
      try {
        unlinkSync(old.file);
        this.deps.log.info({ event: 'backup_pruned', file: old.file }, 'old backup removed');
      } catch (error) {
        this.deps.log.warn({ event: 'backup_prune_failed', file: old.file, error: (error as Error).message }, 'could not remove an old backup');
      }
    }
  }
}
