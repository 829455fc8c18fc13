/**
 * glibc's `malloc_trim(0)`: gives back to the system the free pages inside malloc's arenas, which
 * glibc otherwise returns only from the top of an arena. After a burst of messages the main
 * arena holds tens of megabytes of freed buffers and SQLite pages below a block still in use
 * (docs/PERFORMANCE.md, "Memory": 132 → 97 MB on the sending node after 20,000 messages). It is
 * not reachable from JavaScript, so it is called through koffi (a maintained FFI library whose
 * per-platform binaries come as npm packages: no build, no download), loaded on first use only.
 * Null where it does not exist (not Linux, musl, koffi missing): the trim then does without.
 */
import { createRequire } from 'node:module';

export type NativeTrim = () => boolean;

let loaded: NativeTrim | null | undefined;

export function nativeMallocTrim(): NativeTrim | null {
  if (loaded !== undefined) return loaded;
  loaded = null;
  if (process.platform !== 'linux') return loaded;
  try {
    const koffi = createRequire(import.meta.url)('koffi') as { load(path: string): { func(signature: string): (pad: number) => number } };
    const trim = koffi.load('libc.so.6').func('int malloc_trim(size_t)');
    loaded = () => trim(0) === 1;
  } catch {
    loaded = null;
  }
  return loaded;
}
