import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { maglevTiersUp } from './deferred-jit.ts';

const moduleUrl = new URL('./deferred-jit.ts', import.meta.url).href;

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

describe('deferred optimizing compilers', () => {
  it('optimizes nothing while deferred, then with Maglev only once restored (TurboFan stays off)', () => {
    const out = run(`${probe}
      const jit = await import('${moduleUrl}');
      const untouched = optimized();
      jit.deferOptimizingCompilers();
      const before = optimized();
      const wasDeferred = jit.optimizingCompilersDeferred();
      jit.restoreOptimizingCompilers();
      console.log(JSON.stringify({ untouched, before, wasDeferred, after: optimized(), still: jit.optimizingCompilersDeferred() }));`);
    // The same loop reaches TurboFan in a process left alone: the probe can tell the tiers apart.
    // (Node.js 22's V8 does not tier up to Maglev alone: TurboFan comes back there, not nothing.)
    expect(JSON.parse(out)).toEqual({ untouched: 'turbofan', before: 'none', wasDeferred: true, after: maglevTiersUp() ? 'maglev' : 'turbofan', still: false });
  });

  it('knows which engines tier up to Maglev alone (Node.js 24\'s V8 13, not Node.js 22\'s 12.4)', () => {
    expect(maglevTiersUp('12.4.254.21-node.33')).toBe(false);
    expect(maglevTiersUp('13.6.233.10-node.27')).toBe(true);
  });

  it('brings TurboFan back when the user asks for it', () => {
    const out = run(`${probe}
      const jit = await import('${moduleUrl}');
      jit.deferOptimizingCompilers();
      console.log(JSON.stringify({ deferred: jit.optimizingCompilersDeferred(), tier: optimized() }));`, ['--turbofan']);
    expect(JSON.parse(out)).toEqual({ deferred: false, tier: 'turbofan' });
  });

  it('leaves the JIT alone when the user chose JIT flags of their own', () => {
    const out = run(`${probe}
      const jit = await import('${moduleUrl}');
      jit.deferOptimizingCompilers();
      console.log(JSON.stringify({ deferred: jit.optimizingCompilersDeferred() }));`, ['--max-opt=2']);
    expect(JSON.parse(out)).toEqual({ deferred: false });
  });
});
