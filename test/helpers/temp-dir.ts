import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

export function tempDir(prefix = 'paracord-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/** How many temp dirs are made so far: `removeTempDirs(mark)` later removes only those made since. */
export function tempDirMark(): number {
  return made.length;
}

export function removeTempDirs(since = 0): void {
  for (const dir of made.splice(since)) rmSync(dir, { recursive: true, force: true });
}
