import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { maglevTiersUp } from './jit-tiers.ts';

const moduleUrl = new URL('./jit-tiers.ts', import.meta.url).href;

/**
 * Runs a snippet in a fresh node (flags are process-wide) and returns what it printed. Optimized
 * code is compiled on the main thread (`--no-concurrent-recompilation`): compiled on a background
 * thread, it may not be ready when the probe looks on a busy machine (a CI run read "maglev" for
 * a function TurboFan was still compiling).
 */
function run(code: string, nodeArgs: string[] = []): string {
  return execFileSync(process.execPath, [...nodeArgs, '--no-concurrent-recompilation', '--experimental-strip-types', '--no-warnings', '--allow-natives-syntax', '--input-type=module', '-e', code], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    encoding: 'utf8',
  }).trim();
}

// A fresh function made hot, and how V8 optimized it (%GetOptimizationStatus: bit 16 optimized,
// 32 by Maglev, 64 by TurboFan): 'none', 'maglev' or 'turbofan'.
const probe = `
  const optimized = () => {
    const f = new Function('x', 'let s = 0; for (let i = 0; i < 100; i++) s += i * x; return s;');
    for (let i = 0; i < 300000; i++) f(i);
    const status = eval('%GetOptimizationStatus(f)');
    return (status & 64) !== 0 ? 'turbofan' : (status & 32) !== 0 ? 'maglev' : 'none';
  };`;

describe('JIT tiers', () => {
  it('start-up runs with TurboFan as Node.js does; once ready, hot code is optimized by Maglev only', () => {
    const out = run(`${probe}
      const jit = await import('${moduleUrl}');
      const starting = optimized();
      const switched = jit.turbofanOffOnceReady();
      const again = jit.turbofanOffOnceReady();
      console.log(JSON.stringify({ starting, switched, again, ready: optimized() }));`);
    // Node.js 22's V8 does not tier up to Maglev alone: TurboFan stays on there.
    expect(JSON.parse(out)).toEqual(maglevTiersUp()
      ? { starting: 'turbofan', switched: true, again: false, ready: 'maglev' }
      : { starting: 'turbofan', switched: false, again: false, ready: 'turbofan' });
  });

  it('knows which engines tier up to Maglev alone (Node.js 24\'s V8 13, not Node.js 22\'s 12.4)', () => {
    expect(maglevTiersUp('12.4.254.21-node.33')).toBe(false);
    expect(maglevTiersUp('13.6.233.10-node.27')).toBe(true);
  });

  it('keeps TurboFan when the user asks for it', () => {
    const out = run(`${probe}
      const jit = await import('${moduleUrl}');
      console.log(JSON.stringify({ switched: jit.turbofanOffOnceReady(), tier: optimized() }));`, ['--turbofan']);
    expect(JSON.parse(out)).toEqual({ switched: false, tier: 'turbofan' });
  });

  it('leaves the JIT alone when the user chose JIT flags of their own', () => {
    const out = run(`${probe}
      const jit = await import('${moduleUrl}');
      console.log(JSON.stringify({ switched: jit.turbofanOffOnceReady() }));`, ['--max-opt=2']);
    expect(JSON.parse(out)).toEqual({ switched: false });
  });
});
