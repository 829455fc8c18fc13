import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BACKUP_FILE_PATTERN } from './create.ts';

const stampOf = (name: string) => /-(\d{8}-\d{6}\.\d{3})Z\.pcbak$/.exec(name)?.[1] ?? '';

/** A backup name's time (ms), or NaN. */
export function backupNameTime(name: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})\.(\d{3})$/.exec(stampOf(name));
  return m ? Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!, +m[7]!) : Number.NaN;
}

/** How far ahead of the clock a backup's name may be dated (a clock set back since): more is not ours. */
const MAX_AHEAD_MS = 24 * 3600_000;

/**
 * The backups in a folder, newest first: regular files (by lstat: a symlink is none) of this
 * process's user or the folder's owner (a FAT stick or a CIFS share mounted with `uid=0` shows
 * every file as the mount's), named as ours are and dated no later than a day ahead. A backup
 * folder may be shared (a sticky one like /tmp): another user's files named like ours, dated far
 * ahead, were listed as the newest and made pruning delete every real backup, and a dangling
 * symlink so named threw and failed every scheduled backup (a red-team review, 2026-11-30).
 */
export function listBackupFiles(dir: string, now = Date.now()): Array<{ file: string; size: number; modified_at: number }> {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const uid = process.getuid?.();
  let folderOwner: number | undefined;
  try {
    folderOwner = lstatSync(dir).uid;
  } catch {
    return [];
  }
  const found: Array<{ name: string; file: string; size: number; modified_at: number }> = [];
  for (const name of names) {
    if (!BACKUP_FILE_PATTERN.test(name) || !(backupNameTime(name) <= now + MAX_AHEAD_MS)) continue;
    let stat;
    try {
      stat = lstatSync(join(dir, name));
    } catch {
      continue; // gone meanwhile
    }
    if (!stat.isFile() || (uid !== undefined && stat.uid !== uid && stat.uid !== folderOwner)) continue;
    found.push({ name, file: join(dir, name), size: stat.size, modified_at: Math.round(stat.mtimeMs) });
  }
  // By the time in the name (newest first), whatever the server name.
  found.sort((a, b) => stampOf(b.name).localeCompare(stampOf(a.name)) || b.name.localeCompare(a.name));
  return found.map(({ file, size, modified_at }) => ({ file, size, modified_at }));
}
