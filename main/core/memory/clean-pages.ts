/**
 * Gives back the resident pages of the program's own code when the node is idle (issue #36
 * goal 5). About half of an idle node's resident size is not its data but the `node` executable
 * (its machine code and read-only data: V8, OpenSSL, ICU, SQLite in better-sqlite3's addon),
 * mapped from the file and made resident page by page as code runs: ~42 MB after start-up, ~48 MB
 * after a burst of messages (docs/PERFORMANCE.md, "Memory"). These pages are clean copies of the
 * file: `madvise(MADV_DONTNEED)` unmaps them from the process and the next instruction that needs
 * one maps it again with a minor fault from the system's page cache (~16 pages at a time: ~3 ms
 * of CPU for 20 MB on this machine).
 *
 * What it is and is not: the process's resident size falls by that much, but no memory is freed
 * at once. The pages stay in the page cache (still charged to the process's cgroup, if any),
 * where they are the first to go under memory pressure, before pages a process maps; a message
 * after such pressure may read some from disk. In the Electron app the executable's pages are
 * shared with its renderer processes: there the system gains almost nothing.
 *
 * Only pages that are exactly the file's content are given back (cleanMappings says which and
 * why), through koffi (libc.ts); Linux with glibc only, null elsewhere.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { libcFunction } from './libc.ts';

/** One mapping to give back: its start address and length in bytes. */
export interface CleanMapping {
  start: bigint;
  length: number;
  path: string;
  residentKb: number;
}

/** Libraries the executable itself links (glibc's older names too): loaded at start, never unloaded. */
const RUNTIME_LIBRARY = /\/(?:libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|ld|ld-linux[-\w.]*)(?:-\d[\d.]*)?\.so[.\d]*$/;

interface Entry extends CleanMapping {
  end: bigint;
  perms: string;
  dirty: number;
  anonymous: number;
  swap: number;
}

function entriesOf(smaps: string): Entry[] {
  const entries: Entry[] = [];
  let current: Entry | null = null;
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(.*)$/.exec(line);
    if (head) {
      const start = BigInt(`0x${head[1]}`);
      const end = BigInt(`0x${head[2]}`);
      // Anything but a plain file path ([heap], [vdso], anonymous, "(deleted)") is never ours.
      const path = head[4]!.startsWith('/') && !head[4]!.endsWith(' (deleted)') ? head[4]! : '';
      // Unknown fields stay at -1: a mapping whose private pages were not counted is left alone.
      current = { start, end, length: Number(end - start), path, perms: head[3]!, residentKb: 0, dirty: -1, anonymous: -1, swap: -1 };
      entries.push(current);
      continue;
    }
    if (!current) continue;
    const field = /^(Rss|Private_Dirty|Anonymous|Swap):\s+(\d+) kB$/.exec(line);
    if (!field) continue;
    const kb = Number(field[2]);
    if (field[1] === 'Rss') current.residentKb = kb;
    else if (field[1] === 'Private_Dirty') current.dirty = kb;
    else if (field[1] === 'Anonymous') current.anonymous = kb;
    else current.swap = kb;
  }
  return entries;
}

/**
 * The mappings of `smaps` (the text of /proc/<pid>/smaps) that are clean, read-only, private
 * copies of `executable`, of one of `addons` (native addons the main thread loaded: never
 * unloaded; one a worker thread loaded alone goes with the worker) or of the runtime's libraries,
 * with pages resident. Left alone (a review of this change, 2026-11-26):
 * - a mapping with any page of its own, resident (`Private_Dirty`, `Anonymous`) or swapped out
 *   (`Swap`: MADV_DONTNEED frees swapped private pages too, and they would come back as the
 *   file's bytes);
 * - the read-only part just before a writable mapping of the same file (RELRO: tables the loader
 *   relocated, then made read-only; dropping them crashes the process);
 * - mappings of the executable past its writable data: copies V8 makes at run time (each
 *   isolate's builtins, a worker's among them), unmapped when a worker ends, their range then
 *   free for another mapping before the madvise reaches it.
 */
export function cleanMappings(smaps: string, executable: string, addons: ReadonlySet<string>): CleanMapping[] {
  const entries = entriesOf(smaps);
  let imageEnd = -1n;
  for (const e of entries) if (e.path === executable && e.perms[1] === 'w' && e.end > imageEnd) imageEnd = e.end;
  const found: CleanMapping[] = [];
  entries.forEach((e, i) => {
    const { perms, path } = e;
    const ours = (path === executable && e.end <= imageEnd) || addons.has(path) || RUNTIME_LIBRARY.test(path);
    if (!ours || perms[0] !== 'r' || perms[1] !== '-' || perms[3] !== 'p' || e.residentKb <= 0) return;
    if (e.dirty !== 0 || e.anonymous !== 0 || e.swap !== 0) return;
    const next = entries[i + 1];
    if (perms[2] === '-' && next?.path === path && next.perms[1] === 'w' && next.start === e.end) return;
    found.push({ start: e.start, length: e.length, path, residentKb: e.residentKb });
  });
  return found;
}

/** Native addons this thread loaded (their real paths): the main thread's are never unloaded. */
export function loadedAddons(): Set<string> {
  const addons = new Set<string>();
  for (const file of Object.keys(createRequire(import.meta.url).cache)) {
    if (!file.endsWith('.node')) continue;
    try {
      addons.add(realpathSync(file));
    } catch {
      // gone from disk: its mapping is "(deleted)" and left alone anyway
    }
  }
  return addons;
}

/** Gives back the clean code pages; answers how many kilobytes were resident in what it gave back. */
export type ReleaseCleanPages = () => number;

const MADV_DONTNEED = 4;
let loaded: ReleaseCleanPages | null | undefined;

export function cleanPageRelease(): ReleaseCleanPages | null {
  if (loaded !== undefined) return loaded;
  const madvise = libcFunction('int madvise(uintptr_t addr, size_t length, int advice)');
  if (!madvise) return (loaded = null);
  const executable = realpathSync(process.execPath);
  loaded = () => {
    let released = 0;
    for (const mapping of cleanMappings(readFileSync('/proc/self/smaps', 'utf8'), executable, loadedAddons())) {
      if (madvise(mapping.start, mapping.length, MADV_DONTNEED) === 0) released += mapping.residentKb;
    }
    return released;
  };
  return loaded;
}
