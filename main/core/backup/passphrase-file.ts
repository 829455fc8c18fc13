import { readFileSync } from 'node:fs';
import { BackupError } from './archive.ts';
import { fsReason } from '../util/fs-reason.ts';

/** Reads a passphrase file: its first line, without the line end; refuses an empty one. */
export function readPassphraseFile(file: string): Buffer {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new BackupError(`cannot read the passphrase file ${file}: ${fsReason(error)}`);
  }
  const passphrase = text.split(/\r?\n/)[0] ?? '';
  if (passphrase.length === 0) throw new BackupError(`the passphrase file ${file} is empty`);
  return Buffer.from(passphrase, 'utf8');
}
