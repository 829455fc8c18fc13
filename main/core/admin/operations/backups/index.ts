import { accessSync, constants, statSync } from 'node:fs';
import { join } from 'node:path';
import type { AdminHandlers } from '../../../../../shared/contract/admin-operations.ts';
import { BackupError } from '../../../backup/archive.ts';
import { backupFileName, backupTargetProblem, unsafeFolder } from '../../../backup/create.ts';
import { listBackupFiles } from '../../../backup/listing.ts';
import { readPassphraseFile } from '../../../backup/passphrase-file.ts';
import type { BackupSchedule } from '../../../backup/records.ts';
import { HttpError, badRequest, conflict } from '../../../errors.ts';
import type { NodeContext } from '../../../node-context.ts';
import { fsErrorCode, fsReason } from '../../../util/fs-reason.ts';

/**
 * Why a backup folder is refused, for the UI to word (the message stays for the log and "details"):
 * `no_such_folder`, `not_a_folder`, `not_writable`, `other_owner`, `writable_by_others`,
 * `inside_data_dir`; with the folder as given (`dir`).
 */
export type BackupDirReason = 'no_such_folder' | 'not_a_folder' | 'not_writable' | 'other_owner' | 'writable_by_others' | 'inside_data_dir';
const refusedDir = (code: string, dir: string, reason: BackupDirReason, message: string) => new HttpError(400, code, message, {}, { reason, dir });

function checkWritableDir(dir: string, code = 'invalid_backup_dir'): void {
  let reason: BackupDirReason = 'not_writable';
  try {
    if (!statSync(dir).isDirectory()) {
      reason = 'not_a_folder';
      throw new Error('not a folder');
    }
    accessSync(dir, constants.W_OK);
  } catch (error) {
    const missing = fsErrorCode(error) === 'ENOENT';
    const why = missing ? 'no_such_folder' : fsErrorCode(error) === 'ENOTDIR' ? 'not_a_folder' : reason;
    throw refusedDir(code, dir, why, `the node cannot write backups into ${dir}: ${missing ? 'no such folder' : fsReason(error)}`);
  }
  // Another local user could swap the archives there (SECURITY.md item 21).
  const unsafe = unsafeFolder(dir);
  if (unsafe) throw refusedDir(code, dir, unsafe.reason, unsafe.message);
}

/** Backups: the schedule, the list, and a backup on demand (README "Keep it running"). */
export function backupOperations(node: NodeContext): Pick<AdminHandlers, 'getBackupSchedule' | 'setBackupSchedule' | 'deleteBackupSchedule' | 'listBackups' | 'runBackup'> {
  const { records, scheduler } = node.backups;
  /** A schedule from `serve --backup-dir` wins for this run: changing the saved one here would not take effect. */
  const refuseWhileCommandLine = () => {
    const fromFlags = records.commandLineSchedule();
    if (fromFlags) {
      throw conflict('backup_schedule_from_command_line', `this run's backup schedule comes from serve --backup-dir (${fromFlags.dir}) and wins over one set here: change or remove that option (or PARACORD_BACKUP_DIR) and restart`);
    }
  };
  const refuseInsideDataDir = (code: string, path: string, isDir: boolean) => {
    const problem = backupTargetProblem(node.paths.root, path, isDir);
    if (problem) throw isDir ? refusedDir(code, path, 'inside_data_dir', problem) : badRequest(code, problem);
  };
  return {
    getBackupSchedule: async () => ({ schedule: records.schedule() }),
    setBackupSchedule: async (input) => {
      refuseWhileCommandLine();
      checkWritableDir(input.dir);
      refuseInsideDataDir('invalid_backup_dir', input.dir, true);
      if (input.passphrase_file) {
        try {
          readPassphraseFile(input.passphrase_file);
        } catch (error) {
          throw badRequest('invalid_passphrase_file', (error as Error).message);
        }
      }
      const schedule: BackupSchedule = { dir: input.dir, every: input.every, keep: input.keep, ...(input.passphrase_file ? { passphrase_file: input.passphrase_file } : {}) };
      records.setSchedule(schedule);
      node.log.info({ event: 'backup_schedule_set', dir: schedule.dir, every: schedule.every, keep: schedule.keep }, 'backup schedule set');
      node.notifications.notify({ type: 'status' });
      // Due at once when no backup was made yet (or the last is older than the interval): made now.
      void node.backups.scheduler.checkNow().catch(() => undefined);
      return { schedule };
    },
    deleteBackupSchedule: async () => {
      refuseWhileCommandLine();
      records.setSchedule(null);
      node.notifications.notify({ type: 'status' });
      return { schedule: null };
    },
    listBackups: async () => {
      const last = records.last();
      const schedule = records.schedule();
      return {
        last_backup_at: last.at,
        last_backup_file: last.file,
        last_error: last.error,
        warning: records.summary().warning,
        schedule,
        backups: schedule ? listBackupFiles(schedule.dir) : [],
      };
    },
    runBackup: async (input) => {
      // Refused before anything runs or is recorded: bad input changes nothing.
      if (input.out && input.dir) throw badRequest('invalid_input', 'give out (a file) or dir (a folder), not both');
      if (input.out) refuseInsideDataDir('invalid_backup_out', input.out, false);
      // A folder (the dashboard's "Back up now" without a schedule): checked as a schedule's is, the file named as its backups are.
      let out = input.out;
      if (input.dir) {
        checkWritableDir(input.dir, 'invalid_backup_dir');
        refuseInsideDataDir('invalid_backup_dir', input.dir, true);
        out = join(input.dir, backupFileName(node.identity()?.serverName ?? 'node', Date.now()));
      }
      try {
        const result = await scheduler.run(out, input.passphrase_file);
        const { manifest } = result;
        return { file: result.file, size: result.size, server_name: manifest.server_name, key_id: manifest.key_id, created_at: manifest.created_at, encrypted: manifest.encrypted, warnings: result.warnings };
      } catch (error) {
        if (error instanceof BackupError) throw new HttpError(error.message.startsWith('a backup is already running') ? 409 : 400, 'backup_failed', error.message);
        throw error;
      }
    },
  };
}
