/**
 * Red team (2026-11-26; SECURITY.md item 17 and "Doctor"): a damaged identity.json echoed its
 * own key. Node's JSON.parse error quotes the text around the fault ("Unexpected token 'Z',
 * ..."  "seed": Z"126f4fd7"... is not valid JSON"), and `serve`, `init` and
 * `doctor` printed that message: part of the signing key's seed on the terminal, in the
 * service's journal, in a `doctor --json` pasted into a bug report. Now they say where the
 * file is damaged (position, line, column), never what it holds there.
 * Real CLI processes through bin/paracord-node.js, real files.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from '../helpers/fixtures.ts';
import { CLI } from '../helpers/node-process.ts';
import { tempDir } from '../helpers/temp-dir.ts';

function run(args: string[]) {
  const result = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Every 6-character piece of the seed that shows in `text` (24 bits of key: never there by chance). */
function seedPieces(seed: string, text: string): string[] {
  const found: string[] = [];
  for (let i = 0; i + 6 <= seed.length; i++) if (text.includes(seed.slice(i, i + 6))) found.push(seed.slice(i, i + 6));
  return found;
}

describe('red team: a damaged identity.json does not print its key', () => {
  it('serve, init and doctor say where the file is damaged, without its contents', () => {
    const data = join(tempDir(), 'node');
    expect(run(['init', '--data', data, '--server-name', 'echo.test']).code).toBe(0);
    const file = join(data, 'identity.json');
    const text = readFileSync(file, 'utf8');
    const seed = (JSON.parse(text) as { active: { seed: string } }).active.seed;
    // One stray character before the seed's value (a bad edit, a bit flip).
    const at = text.indexOf(`"${seed}"`);
    expect(at).toBeGreaterThan(0);
    writeFileSync(file, `${text.slice(0, at)}Z${text.slice(at)}`, { mode: 0o600 });

    const outputs = [
      run(['serve', '--data', data, '--listen', '127.0.0.1:0', '--admin-listen', '127.0.0.1:0', '--insecure-http']),
      run(['init', '--data', data, '--server-name', 'echo.test']),
      run(['doctor', '--data', data, '--json']),
      run(['doctor', '--data', data]),
    ];
    for (const [i, out] of outputs.entries()) {
      const all = out.stdout + out.stderr;
      expect(out.code, `${i}: ${all}`).not.toBe(0);
      expect(all, `${i}`).toMatch(/identity\.json/);
      expect(seedPieces(seed, all), `${i}: ${all}`).toEqual([]);
    }
    // serve's refusal is one line that says the file is damaged.
    const serve = outputs[0]!.stderr.trim().split('\n');
    expect(serve, outputs[0]!.stderr).toHaveLength(1);
    expect(serve[0]).toMatch(/not valid JSON/);
  });
});
