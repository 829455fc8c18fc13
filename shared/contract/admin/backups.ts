/**
 * Backups: the schedule, the list, and a backup made now.
 * Part of the admin contract (shared/contract/admin-operations.ts).
 */
import { z } from 'zod';

const absolutePath = z
  .string()
  .min(1)
  .max(4096)
  // eslint-disable-next-line no-control-regex
  .refine((s) => !/[\u0000-\u001f]/.test(s), 'must not contain control characters')
  .refine((s) => s.startsWith('/') || /^[A-Za-z]:[\\/]/.test(s), 'must be an absolute path');

export const backupOperations = {
  getBackupSchedule: { method: 'GET', path: '/backups/schedule', input: z.strictObject({}) },
  setBackupSchedule: {
    method: 'PUT',
    path: '/backups/schedule',
    input: z.strictObject({
      /** An absolute folder on the node's machine; backups are named paracord-<server>-<time>.pcbak. */
      dir: absolutePath,
      every: z.enum(['hourly', 'daily', 'weekly']).default('daily'),
      /** How many of the newest backups stay in the folder. */
      keep: z.number().int().min(1).max(1000).default(7),
      /** A file whose first line is the passphrase; the backups are encrypted with it. */
      passphrase_file: absolutePath.optional(),
    }),
  },
  deleteBackupSchedule: { method: 'DELETE', path: '/backups/schedule', input: z.strictObject({}) },
  listBackups: { method: 'GET', path: '/backups', input: z.strictObject({}) },
  runBackup: {
    method: 'POST',
    path: '/backups/run',
    /** `out`: the backup file; or `dir`: a folder, checked as a schedule's, the file named as its backups are; neither: the schedule's folder. */
    input: z.strictObject({ out: absolutePath.optional(), dir: absolutePath.optional(), passphrase_file: absolutePath.optional() }),
  },
} as const;

export interface BackupOutputs {
  getBackupSchedule: { schedule: BackupSchedule | null };
  setBackupSchedule: { schedule: BackupSchedule };
  deleteBackupSchedule: { schedule: null };
  listBackups: {
    last_backup_at: number | null;
    last_backup_file: string | null;
    last_error: string | null;
    warning: string | null;
    schedule: BackupSchedule | null;
    backups: Array<{ file: string; size: number; modified_at: number }>;
  };
  runBackup: BackupRun;
}

/** How often each schedule makes a backup (main/core/backup/scheduler.ts; the dashboard's next-backup time). */
export const BACKUP_INTERVALS = { hourly: 3600_000, daily: 24 * 3600_000, weekly: 7 * 24 * 3600_000 } as const;

export interface BackupSchedule {
  dir: string;
  every: 'hourly' | 'daily' | 'weekly';
  keep: number;
  passphrase_file?: string | undefined;
}

export interface BackupRun {
  file: string;
  size: number;
  server_name: string;
  key_id: string;
  created_at: number;
  encrypted: boolean;
  warnings: string[];
}
