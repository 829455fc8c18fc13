/**
 * Red team (2026-11-26; "bad input gets a clear error and changes nothing"): `--data` naming
 * something that cannot be a data folder.
 *  - A file (a backup, a typo): `init` and `serve` answered a raw "EEXIST: file already exists,
 *    mkdir …". Now one line saying it is a file.
 *  - A path where mkdir answers ENOENT although the parent exists (a pseudo file system such as
 *    /proc): Node's recursive mkdir retried forever, and `init` hung at 100% CPU. Now the folder
 *    is created on its own when its parent exists, and the error is one line.
 * Real CLI processes through bin/paracord-node.js, real files.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { CLI } from '../helpers/node-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

function run(args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 30_000, killSignal: 'SIGKILL' });
  return { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr };
}

function oneLine(result: { code: number | null; signal: NodeJS.Signals | null; stderr: string }): string {
  expect(result.signal, 'the command did not end by itself').toBeNull();
  expect(result.code, result.stderr).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  return lines[0]!;
}

describe('red team: --data that cannot be a data folder', () => {
  it('a file as --data is one line for init and serve, and the file is unchanged', () => {
    const file = join(tempDir(), 'notes.txt');
    writeFileSync(file, 'my notes\n', { mode: 0o600 });
    for (const args of [
      ['init', '--data', file, '--server-name', 'file.test'],
      ['serve', '--data', file, '--server-name', 'file.test', '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--insecure-http'],
    ]) {
      const line = oneLine(run(args));
      expect(line).toMatch(/is a file, not a folder/);
      expect(line).not.toMatch(/EEXIST/);
      expect(readFileSync(file, 'utf8')).toBe('my notes\n');
    }
  });

  it.skipIf(!existsSync('/proc/self'))('a folder mkdir cannot create although its parent exists (/proc) ends with one line, not a hang', () => {
    const line = oneLine(run(['init', '--data', '/proc/paracord-red-team', '--server-name', 'proc.test']));
    expect(line).toMatch(/proc\/paracord-red-team/);
  });
});
