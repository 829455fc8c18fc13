/**
 * glibc's `malloc_trim(0)`: gives back to the system the free pages inside malloc's arenas, which
 * glibc otherwise returns only from the top of an arena. After a burst of messages the main
 * arena holds tens of megabytes of freed buffers and SQLite pages below a block still in use
 * (docs/PERFORMANCE.md, "Memory": 132 → 97 MB on the sending node after 20,000 messages). It is
 * not reachable from JavaScript, so it is called through koffi (libc.ts), loaded on first use only.
 * Null where it does not exist (not Linux, musl, koffi missing): the trim then does without.
 */
import { libcFunction } from './libc.ts';

export type NativeTrim = () => boolean;

let loaded: NativeTrim | null | undefined;

export function nativeMallocTrim(): NativeTrim | null {
  if (loaded !== undefined) return loaded;
  const trim = libcFunction('int malloc_trim(size_t)');
  loaded = trim ? () => trim(0) === 1 : null;
  return loaded;
}
