import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

export function tempDir(prefix = 'paracord-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTempDirs(since = 0): void {
  for (const dir of made.splice(since)) rmSync(dir, { recursive: true, force: true });
}

/** Removes one temp dir now (a fixture's own), and forgets it. */
export function removeTempDir(dir: string): void {
  const at = made.indexOf(dir);
  if (at >= 0) made.splice(at, 1);
  rmSync(dir, { recursive: true, force: true });
}
