/**
 * One node per data directory (docs/ARCHITECTURE.md §What outside tools rely on; docs/SECURITY.md item 18). Two nodes on
 * one directory would both deliver every message and overwrite each other's node.json.
 *
 * The lock is a directory DIR/node.lock holding owner.json (pid, host, start time, a random
 * nonce). It comes into being whole: it is built under a unique temporary name and renamed
 * to node.lock, which fails when a lock is already there, so a lock always names its owner.
 *
 * When is a lock stale (may be taken over)?
 *   - holder on THIS host: only when it is no longer running (SIGKILL, crash, power loss). A
 *     live holder is never stale, however long it has not refreshed the lock — a node suspended
 *     with Ctrl-Z (SIGSTOP) or with a blocked event loop keeps its directory. "No longer
 *     running" must survive pid reuse: after a power loss a boot-time service or a container
 *     often gets the very pid its dead predecessor had, or another process has it. So owner.json
 *     also records the boot id and the process's start time (Linux: /proc/sys/kernel/random/boot_id
 *     and field 22 of /proc/<pid>/stat), and the holder is gone when its pid is our own (and not
 *     a lock this process holds), is not alive, or is alive but in another boot or with another
 *     start time — a different process. Where /proc is missing (macOS, Windows) only the pid
 *     rules apply, so a reused pid of another live process still keeps the lock (one clear line
 *     names it; SECURITY.md item 18);
 *   - holder on ANOTHER host (a shared folder): when its mtime, which the holder refreshes every
 *     few seconds, is older than the staleness window (STALE_MS by default).
 * Taking over is atomic: only the starter that creates DIR/node.lock.takeover (O_EXCL) may move
 * a stale lock aside; it judges the lock again under that mutex and checks that what it moved is
 * the very lock it judged stale (same inode and owner.json). Other starters racing it are refused or win the plain create — never two holders.
 *
 * The holder checks every few seconds that node.lock is still its own (same inode and nonce);
 * if not, `onLost` is told — the node then stops serving (node.ts).
 */
import nodeFs from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { DataDirPaths } from './data-dir.ts';
import { isProcessAlive } from './util/process-alive.ts';

/** A lock from another host not refreshed for this long is stale (its holder died there). */
export const STALE_MS = 30_000;
const OWNER_FILE = 'owner.json';

export interface LockOwner {
  pid: number;
  host: string;
  started_at: number;
  nonce?: string;
  /** This boot of the host (Linux); a holder from another boot is gone. */
  boot_id?: string;
  /** The holder process's start time since boot in clock ticks (Linux); tells a reused pid apart. */
  proc_start?: string;
}

/** The id of this boot of the machine, or undefined where the platform has none we can read. */
export function bootId(): string | undefined {
  try {
    const id = nodeFs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    return /^[0-9a-f-]{16,64}$/.test(id) ? id : undefined;
  } catch {
    return undefined;
  }
}

/** When process `pid` started (clock ticks since boot, /proc/<pid>/stat field 22), or undefined. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = nodeFs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 is "(comm)", which may itself hold spaces and parentheses: count after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const start = fields[19];
    return start !== undefined && /^\d+$/.test(start) ? start : undefined;
  } catch {
    return undefined;
  }
}

/** Nonces of the locks this process holds now (two in-process nodes on one directory are refused). */
const heldHere = new Set<string>();

/**
 * Whether the process that wrote `holder` (on this host) is gone: its pid is ours but the lock is
 * not one we hold, its pid is not alive, or a process with that pid runs but is another one.
 */
function holderIsGone(holder: Partial<LockOwner> & { pid: number }): boolean {
  if (holder.pid === process.pid) return !heldHere.has(holder.nonce ?? '');
  if (!isProcessAlive(holder.pid)) return true;
  const boot = bootId();
  if (holder.boot_id !== undefined && boot !== undefined && holder.boot_id !== boot) return true;
  const start = holder.proc_start !== undefined ? processStartTime(holder.pid) : undefined;
  return start !== undefined && start !== holder.proc_start;
}

/** Why a node refuses to start on a data directory: one clear line, with a `code` for the UI. */
export class StartupRefusedError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'StartupRefusedError';
    this.code = code;
  }
}

export interface DataDirLock {
  /** Gives the lock up (idempotent; leaves alone a lock that is no longer this holder's). */
  release(): void;
}

export interface LockOptions {
  /** Staleness window for a holder on another host, ms (NodeConfig.dataDirLockStaleMs). */
  staleMs?: number;
}

export function readLockOwner(lockPath: string): LockOwner | undefined {
  try {
    const owner = JSON.parse(nodeFs.readFileSync(join(lockPath, OWNER_FILE), 'utf8')) as Partial<LockOwner>;
    if (typeof owner.pid !== 'number' || typeof owner.host !== 'string') return undefined;
    return {
      pid: owner.pid,
      host: owner.host,
      started_at: Number(owner.started_at ?? 0),
      ...(typeof owner.nonce === 'string' ? { nonce: owner.nonce } : {}),
      ...(typeof owner.boot_id === 'string' ? { boot_id: owner.boot_id } : {}),
      ...(typeof owner.proc_start === 'string' ? { proc_start: owner.proc_start } : {}),
    };
  } catch {
    return undefined;
  }
}

const unique = () => `${process.pid}-${randomBytes(6).toString('hex')}`;
const code = (error: unknown) => (error as NodeJS.ErrnoException).code;

/** Creates node.lock naming `owner`; its inode, or null when a lock is already there. */
function createLock(lockPath: string, owner: LockOwner): number | null {
  const tmp = `${lockPath}.new-${unique()}`;
  nodeFs.mkdirSync(tmp, { mode: 0o700 });
  try {
    nodeFs.writeFileSync(join(tmp, OWNER_FILE), JSON.stringify(owner) + '\n', { mode: 0o600 });
    const ino = nodeFs.statSync(tmp).ino;
    // rename(2) onto a non-empty directory fails: the create is atomic.
    nodeFs.renameSync(tmp, lockPath);
    return ino;
  } catch (error) {
    nodeFs.rmSync(tmp, { recursive: true, force: true });
    if (['ENOTEMPTY', 'EEXIST', 'ENOTDIR', 'EISDIR'].includes(code(error) ?? '')) return null;
    // Windows refuses a rename onto an existing directory with EPERM/EACCES.
    if (['EPERM', 'EACCES'].includes(code(error) ?? '') && nodeFs.existsSync(lockPath)) return null;
    throw error;
  }
}

function isStale(holder: LockOwner | undefined, mtimeMs: number, staleMs: number): boolean {
  if (holder && holder.host === hostname()) return holderIsGone(holder);
  return Date.now() - mtimeMs > staleMs;
}

const sameOwner = (a: LockOwner | undefined, b: LockOwner | undefined) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * Moves `path` aside and deletes it if it is still the one judged stale (same inode and, for a
 * lock directory, same owner.json — an inode number can be reused at once); false if not.
 */
function removeIfSame(path: string, ino: number, owner?: LockOwner): boolean {
  const aside = `${path}.stale-${unique()}`;
  try {
    nodeFs.renameSync(path, aside);
  } catch {
    return false; // someone else moved or released it
  }
  if (nodeFs.statSync(aside).ino !== ino || (owner !== undefined && !sameOwner(readLockOwner(aside), owner))) {
    // Not what we judged stale: put it back (cannot happen while we hold the takeover mutex,
    // bar a stale lock's other-host holder releasing it right then).
    try {
      nodeFs.renameSync(aside, path);
    } catch {
      nodeFs.rmSync(aside, { recursive: true, force: true });
    }
    return false;
  }
  nodeFs.rmSync(aside, { recursive: true, force: true });
  return true;
}

/** Takes the takeover mutex (O_EXCL file); clears one left by a starter that died holding it. */
function takeMutex(mutex: string, owner: LockOwner, staleMs: number): boolean {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      nodeFs.writeFileSync(mutex, JSON.stringify(owner), { flag: 'wx', mode: 0o600 });
      return true;
    } catch (error) {
      if (code(error) !== 'EEXIST') throw error;
    }
    let stat: nodeFs.Stats;
    let holder: Partial<LockOwner>;
    try {
      stat = nodeFs.statSync(mutex);
      holder = JSON.parse(nodeFs.readFileSync(mutex, 'utf8')) as Partial<LockOwner>;
    } catch {
      continue;
    }
    // Taking the lock is synchronous, so a mutex naming this process's pid is a dead
    // predecessor's (its nonce is never one of the locks held here).
    const abandoned = holder.host === hostname() && typeof holder.pid === 'number'
      ? holderIsGone(holder as Partial<LockOwner> & { pid: number })
      : Date.now() - stat.mtimeMs > staleMs;
    if (!abandoned || !removeIfSame(mutex, stat.ino)) return false;
  }
  return false;
}

function inUse(paths: DataDirPaths, owner: LockOwner | undefined): StartupRefusedError {
  const who = owner
    ? owner.host === hostname() ? `pid ${owner.pid}` : `pid ${owner.pid} on ${owner.host}`
    : 'a process that is starting or stopping';
  return new StartupRefusedError(
    'data_dir_in_use',
    `another node is already running on ${paths.root} (${who}); stop it first, or give this one another --data directory`,
  );
}

function acquire(paths: DataDirPaths, owner: LockOwner, staleMs: number): number {
  const lockPath = paths.lock;
  for (let attempt = 0; attempt < 3; attempt++) {
    const ino = createLock(lockPath, owner);
    if (ino !== null) return ino;
    let stat: nodeFs.Stats;
    try {
      stat = nodeFs.statSync(lockPath);
    } catch (error) {
      if (code(error) === 'ENOENT') continue; // released meanwhile: try again
      throw error;
    }
    const holder = readLockOwner(lockPath);
    if (!isStale(holder, stat.mtimeMs, staleMs)) throw inUse(paths, holder);
    const mutex = `${lockPath}.takeover`;
    if (!takeMutex(mutex, owner, staleMs)) throw inUse(paths, undefined);
    try {
      // Under the mutex no one else takes over: judge again — another starter may have taken
      // the stale lock over between our look and our mutex (its lock can even reuse the inode).
      let now: nodeFs.Stats;
      try {
        now = nodeFs.statSync(lockPath);
      } catch (error) {
        if (code(error) !== 'ENOENT') throw error;
        const taken = createLock(lockPath, owner);
        if (taken !== null) return taken;
        continue;
      }
      const current = readLockOwner(lockPath);
      if (!isStale(current, now.mtimeMs, staleMs)) throw inUse(paths, current);
      if (!removeIfSame(lockPath, now.ino, current)) continue;
      const taken = createLock(lockPath, owner);
      if (taken !== null) return taken;
    } finally {
      nodeFs.rmSync(mutex, { force: true });
    }
  }
  throw inUse(paths, readLockOwner(lockPath));
}

/**
 * Takes the data directory's lock, or throws StartupRefusedError naming the running node's pid.
 * `onLost` is told (once) if the lock is taken away while held (its directory removed or
 * replaced), which means another node may now believe it owns the directory.
 */
export function lockDataDir(paths: DataDirPaths, onLost: (error: Error) => void = () => {}, options: LockOptions = {}): DataDirLock {
  const staleMs = options.staleMs ?? STALE_MS;
  const boot = bootId();
  const procStart = processStartTime(process.pid);
  const owner: LockOwner = {
    pid: process.pid,
    host: hostname(),
    started_at: Date.now(),
    nonce: randomBytes(16).toString('hex'),
    ...(boot !== undefined ? { boot_id: boot } : {}),
    ...(procStart !== undefined ? { proc_start: procStart } : {}),
  };
  const ino = acquire(paths, owner, staleMs);
  heldHere.add(owner.nonce!);
  const isMine = (): boolean => {
    try {
      return nodeFs.statSync(paths.lock).ino === ino && readLockOwner(paths.lock)?.nonce === owner.nonce;
    } catch {
      return false;
    }
  };
  let released = false;
  // Refreshing the mtime matters only to other hosts; checking ownership matters here.
  const timer = setInterval(() => {
    if (released) return;
    if (!isMine()) {
      released = true;
      heldHere.delete(owner.nonce!);
      clearInterval(timer);
      onLost(new Error(`the lock ${paths.lock} is no longer this node's (removed or taken over)`));
      return;
    }
    const now = new Date();
    try {
      nodeFs.utimesSync(paths.lock, now, now);
    } catch {
      // checked again on the next tick
    }
  }, Math.max(50, Math.min(5_000, Math.floor(staleMs / 6))));
  timer.unref();
  return {
    release() {
      if (released) return;
      released = true;
      heldHere.delete(owner.nonce!);
      clearInterval(timer);
      if (isMine()) removeIfSame(paths.lock, ino);
    },
  };
}
