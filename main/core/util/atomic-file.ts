import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Creates a temporary file next to `path` for writing it atomically: an unpredictable name
 * (`<name>.<pid>-<random>.tmp`, the pid tells a live writer from a dead one), created
 * exclusively (never an existing file, nor through a planted symbolic link), `mode` 0600 by
 * default. Every writer of a file the node renames into place goes through here
 * (SECURITY.md "A local user on the same machine").
 */
export function createTempNextTo(path: string, mode = 0o600): { fd: number; temp: string } {
  const temp = join(dirname(path), `${basename(path)}.${process.pid}-${randomBytes(8).toString('hex')}.tmp`);
  return { fd: openSync(temp, 'wx', mode), temp };
}

/** Writes a file so a crash leaves either the old or the new content, never half; mode 0600. */
export function writeFileAtomic(path: string, data: string, mode = 0o600): void {
  const { fd, temp } = createTempNextTo(path, mode);
  try {
    try {
      writeSync(fd, data);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, path);
  } catch (error) {
    try {
      unlinkSync(temp);
    } catch {
      // renamed, or already gone
    }
    throw error;
  }
}
