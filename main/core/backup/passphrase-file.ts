import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';
import { BackupError } from './archive.ts';
import { fsReason } from '../util/fs-reason.ts';

/** A passphrase file is its first line: a few KiB at most is one. */
const MAX_PASSPHRASE_FILE_BYTES = 4096;

/**
 * Reads a passphrase file: its first line, without the line end. Refused (one clear error, the node
 * not held): an empty one, anything but a regular file of at most 4 KiB, and (not on Windows, whose
 * modes say nothing) one every user may write: they would encrypt the owner's backups with a
 * passphrase of theirs. Group-writable is taken: under umask 002 (Debian and Ubuntu give each user a
 * group of its own) every file a user makes is 0664. The read is synchronous, and `/dev/zero` or a FIFO named as the schedule's
 * file grew the node's memory until it died or held it for ever (a red-team review, 2026-11-30).
 * One others may only read is taken (a container's secrets are 0644 or 0444; a FAT stick's modes
 * cannot be changed): SECURITY.md says to keep it 0600.
 */
export function readPassphraseFile(file: string): Buffer {
  let fd: number;
  try {
    // Non-blocking: opening a FIFO does not wait for a writer (it is refused just below).
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (error) {
    throw new BackupError(`cannot read the passphrase file ${file}: ${fsReason(error)}`);
  }
  let text: string;
  try {
    const stat = fstatSync(fd);
    if (stat.isDirectory()) throw new BackupError(`cannot read the passphrase file ${file}: it is a folder`);
    if (!stat.isFile()) throw new BackupError(`the passphrase file ${file} is not a regular file`);
    if (stat.size > MAX_PASSPHRASE_FILE_BYTES) throw new BackupError(`the passphrase file ${file} is larger than ${MAX_PASSPHRASE_FILE_BYTES} bytes: it holds one line, the passphrase`);
    if (process.platform !== 'win32' && (stat.mode & 0o002) !== 0) throw new BackupError(`the passphrase file ${file} can be changed by every user of this machine: make it yours alone (chmod 600 ${file}), or copy it into a folder of your own`);
    const bytes = Buffer.alloc(MAX_PASSPHRASE_FILE_BYTES + 1);
    let length = 0;
    for (let n; length < bytes.length && (n = readSync(fd, bytes, length, bytes.length - length, null)) > 0; ) length += n;
    if (length > MAX_PASSPHRASE_FILE_BYTES) throw new BackupError(`the passphrase file ${file} is larger than ${MAX_PASSPHRASE_FILE_BYTES} bytes: it holds one line, the passphrase`);
    text = bytes.subarray(0, length).toString('utf8');
  } catch (error) {
    if (error instanceof BackupError) throw error;
    throw new BackupError(`cannot read the passphrase file ${file}: ${fsReason(error)}`);
  } finally {
    closeSync(fd);
  }
  const passphrase = text.split(/\r?\n/)[0] ?? '';
  if (passphrase.length === 0) throw new BackupError(`the passphrase file ${file} is empty`);
  return Buffer.from(passphrase, 'utf8');
}
