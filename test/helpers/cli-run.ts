/** The node's CLI as a user runs it (from dist/), and its one-line refusals. */
import { spawnSync } from 'node:child_process';
import { expect } from 'vitest';
import { CLI } from './node-process.ts';

/** Runs the CLI with `args`; with `shell`, that shell command runs first (e.g. `umask 000`). */
export function runCli(args: string[], shell?: string): { code: number | null; stdout: string; stderr: string } {
  const result = shell
    ? spawnSync('sh', ['-c', `${shell} && exec "$0" "$@"`, process.execPath, CLI, ...args], { encoding: 'utf8', timeout: 60_000 })
    : spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A refusal: exit 1 and exactly one line on stderr, which is returned. */
export function oneLine(result: { code: number | null; stderr: string }): string {
  expect(result.code, result.stderr).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  return lines[0]!;
}
