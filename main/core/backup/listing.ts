import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { BACKUP_FILE_PATTERN } from './create.ts';

const stampOf = (name: string) => /-(\d{8}-\d{6}\.\d{3})Z\.pcbak$/.exec(name)?.[1] ?? '';

/** The backups in a folder, newest first. */
export function listBackupFiles(dir: string): Array<{ file: string; size: number; modified_at: number }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((name) => BACKUP_FILE_PATTERN.test(name))
    // By the time in the name (newest first), whatever the server name.
    .sort((a, b) => stampOf(b).localeCompare(stampOf(a)) || b.localeCompare(a))
    .map((name) => {
      const stat = statSync(join(dir, name));
      return { file: join(dir, name), size: stat.size, modified_at: Math.round(stat.mtimeMs) };
    });
}
