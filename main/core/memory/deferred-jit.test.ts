import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const moduleUrl = new URL('./deferred-jit.ts', import.meta.url).href;

/** Runs a snippet in a fresh node (flags are process-wide) and returns what it printed. */
function run(code: string, nodeArgs: string[] = []): string {
  return execFileSync(process.execPath, [...nodeArgs, '--experimental-strip-types', '--no-warnings', '--allow-natives-syntax', '--input-type=module', '-e', code], {
    cwd: fileURLToPath(new URL('.', import.meta.url)),
    encoding: 'utf8',
  }).trim();
}

// A fresh function made hot, and whether V8 optimized it (bits 16 and 32 of
// %GetOptimizationStatus: optimized, by TurboFan or by Maglev).
const probe = `
  const optimized = () => {
    const f = new Function('x', 'let s = 0; for (let i = 0; i < 100; i++) s += i * x; return s;');
    for (let i = 0; i < 300000; i++) f(i);
    return (eval('%GetOptimizationStatus(f)') & (16 | 32)) !== 0;
  };`;

describe('deferred optimizing compilers', () => {
  it('optimizes nothing while deferred, and optimizes again once restored', () => {
    const out = run(`${probe}
      const jit = await import('${moduleUrl}');
      jit.deferOptimizingCompilers();
      const before = optimized();
      const wasDeferred = jit.optimizingCompilersDeferred();
      jit.restoreOptimizingCompilers();
      console.log(JSON.stringify({ before, wasDeferred, after: optimized(), still: jit.optimizingCompilersDeferred() }));`);
    expect(JSON.parse(out)).toEqual({ before: false, wasDeferred: true, after: true, still: false });
  });

  it('leaves the JIT alone when the user chose JIT flags of their own', () => {
    const out = run(`${probe}
      const jit = await import('${moduleUrl}');
      jit.deferOptimizingCompilers();
      console.log(JSON.stringify({ deferred: jit.optimizingCompilersDeferred() }));`, ['--max-opt=2']);
    expect(JSON.parse(out)).toEqual({ deferred: false });
  });
});
