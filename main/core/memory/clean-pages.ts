/**
 * Gives back the resident pages of the program's own code when the node is idle (issue #36
 * goal 5). About half of an idle node's resident size is not its data but the `node` executable
 * (its machine code and read-only data: V8, OpenSSL, ICU, SQLite in better-sqlite3's addon),
 * mapped from the file and made resident page by page as code runs: ~42 MB after start-up, ~48 MB
 * after a burst of messages (docs/PERFORMANCE.md, "Memory"). These pages are clean copies of the
 * file: `madvise(MADV_DONTNEED)` unmaps them from the process, the system's page cache keeps
 * them (or drops them first under memory pressure, before any page the process still maps), and
 * the next instruction that needs one maps it again with a minor fault (~16 pages at a time:
 * ~3 ms of CPU for 20 MB on this machine).
 *
 * Only pages that are exactly the file's content are given back: a mapping of the executable,
 * of a native addon (`.node`) or of the C and C++ runtime the executable links (never unloaded
 * while the process runs), private, not writable, and with no page of its own (`Anonymous: 0`
 * and `Private_Dirty: 0` in /proc/self/smaps: a page written once, such as the relocated
 * tables made read-only after loading, would go back to the file's bytes). Linux only, through
 * koffi (libc.ts); null elsewhere or where the call cannot be made.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { libcFunction } from './libc.ts';

/** One mapping to give back: its start address and length in bytes. */
export interface CleanMapping {
  start: bigint;
  length: number;
  path: string;
  residentKb: number;
}

/** Libraries the executable itself links: loaded at start, never unloaded. */
const RUNTIME_LIBRARY = /\/(?:libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|ld-linux[-\w.]*)\.so[.\d]*$/;

/**
 * The mappings of `smaps` (the text of /proc/<pid>/smaps) that are clean, read-only, private
 * copies of `executable`, a native addon or the runtime's libraries, with pages resident.
 */
export function cleanMappings(smaps: string, executable: string): CleanMapping[] {
  const found: CleanMapping[] = [];
  let current: (CleanMapping & { perms: string; dirty: number; anonymous: number }) | null = null;
  const finish = () => {
    if (!current) return;
    const { perms, path } = current;
    const ours = path === executable || path.endsWith('.node') || RUNTIME_LIBRARY.test(path);
    if (ours && perms[0] === 'r' && perms[1] === '-' && perms[3] === 'p' && current.dirty === 0 && current.anonymous === 0 && current.residentKb > 0) {
      found.push({ start: current.start, length: current.length, path, residentKb: current.residentKb });
    }
    current = null;
  };
  for (const line of smaps.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+ *(.*)$/.exec(line);
    if (head) {
      finish();
      const start = BigInt(`0x${head[1]}`);
      const end = BigInt(`0x${head[2]}`);
      // Anything but a plain file path ([heap], [vdso], anonymous, "(deleted)") is never ours.
      const path = head[4]!.startsWith('/') && !head[4]!.endsWith(' (deleted)') ? head[4]! : '';
      // Unknown fields stay at -1: a mapping whose dirtiness was not read is left alone.
      current = { start, length: Number(end - start), path, perms: head[3]!, residentKb: 0, dirty: -1, anonymous: -1 };
      continue;
    }
    if (!current) continue;
    const field = /^(Rss|Private_Dirty|Anonymous):\s+(\d+) kB$/.exec(line);
    if (!field) continue;
    const kb = Number(field[2]);
    if (field[1] === 'Rss') current.residentKb = kb;
    else if (field[1] === 'Private_Dirty') current.dirty = kb;
    else current.anonymous = kb;
  }
  finish();
  return found;
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
    for (const mapping of cleanMappings(readFileSync('/proc/self/smaps', 'utf8'), executable)) {
      if (madvise(mapping.start, mapping.length, MADV_DONTNEED) === 0) released += mapping.residentKb;
    }
    return released;
  };
  return loaded;
}
