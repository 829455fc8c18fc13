/**
 * What a failed file system call means, in words, for the one line a user reads: Node's own
 * text ("ENOENT: no such file or directory, open '/x.pcbak.123-ab.tmp'") names a call and,
 * often, a temporary file the user never typed.
 */
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

const REASONS: Record<string, string> = {
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EISDIR: 'it is a folder, not a file',
  EEXIST: 'something is already there',
  EACCES: 'permission denied',
  EPERM: 'the system does not allow it',
  EROFS: 'the disk is mounted read-only',
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is used up',
  ENAMETOOLONG: 'the name is too long',
  ELOOP: 'too many symbolic links',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files',
  EIO: 'an input/output error of the disk',
  EINVAL: 'this file system does not allow it',
  EXDEV: 'it is on another disk',
  EBUSY: 'it is in use',
  ENOTEMPTY: 'the folder is not empty',
};

/** The error code of a Node file system error (ENOENT, EACCES, …), or null for any other error. */
export function fsErrorCode(error: unknown): string | null {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code) && typeof (error as NodeJS.ErrnoException).syscall === 'string' ? code : null;
}

/** Why a file system call failed, in words (the message of any other error). */
export function fsReason(error: unknown): string {
  const code = fsErrorCode(error);
  if (code === null) return (error as Error).message;
  return REASONS[code] ?? `${code} (${(error as NodeJS.ErrnoException).syscall} failed)`;
}

/**
 * Why creating a file or folder failed, where its parent folder is known to exist: ENOENT then
 * means the file system refuses new names there (/proc, /sys), not that something is missing.
 */
export function createReason(error: unknown): string {
  return fsErrorCode(error) === 'ENOENT' ? 'this file system does not allow creating files there' : fsReason(error);
}

/**
 * mkdir -p, one folder at a time: where mkdir answers ENOENT although the parent exists (/proc),
 * Node's recursive mkdir retries forever. Throws the error of the first folder it cannot create
 * (ENOENT there meaning: not allowed here, see createReason).
 */
export function makeFolders(dir: string, mode: number): void {
  const missing: string[] = [];
  for (let at = resolve(dir); ; at = dirname(at)) {
    let exists: boolean;
    try {
      statSync(at);
      exists = true; // a folder; or a file, and the mkdir below says a part of the path is a file
    } catch {
      exists = false;
    }
    if (exists || dirname(at) === at) break;
    missing.unshift(at);
  }
  for (const folder of missing) {
    try {
      mkdirSync(folder, { mode });
    } catch (error) {
      if (fsErrorCode(error) !== 'EEXIST' || !statSync(folder).isDirectory()) throw error;
    }
  }
}
