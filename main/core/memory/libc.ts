/**
 * A function of the C library, for what Node.js does not expose (malloc-trim.ts, clean-pages.ts),
 * called through koffi: a maintained FFI library whose per-platform binaries come as npm packages
 * (no build, no download), loaded at the first call only. Null where there is no glibc to call
 * (not Linux, musl) or koffi is missing.
 */
import { createRequire } from 'node:module';

type Koffi = { load(path: string): { func(signature: string): (...args: unknown[]) => number } };

export function libcFunction(signature: string): ((...args: unknown[]) => number) | null {
  if (process.platform !== 'linux') return null;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as Koffi;
    return koffi.load('libc.so.6').func(signature);
  } catch {
    return null;
  }
}
