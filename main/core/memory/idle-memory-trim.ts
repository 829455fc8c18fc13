/**
 * Gives memory back when the node is idle (issue #6: idle footprint). V8 keeps the young
 * generation it grew to — 16 MB and more after start-up or a burst of traffic — and the old
 * generation's half-empty pages until a memory-reducing collection, which a quiet process
 * rarely gets. Shortly after start-up, and after every busy spell, once the event loop has been
 * quiet for a whole period, this asks V8 for its last-resort collection, the one that shrinks the
 * heap (tens of milliseconds on a node's small heap: never while the node is busy).
 *
 * The program's code pages (clean-pages.ts) go right after a burst that grew the process, and
 * otherwise only once a whole idle look (30 s) after the collection was quiet too: a node that
 * gets a message every few seconds would otherwise map its code again for each one (+3–5 ms of
 * CPU and +3 ms of latency for a lone message after 12 s of quiet, measured with the collection's
 * schedule: issue #36 goal 2).
 */
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from 'pino';
import { cleanPageRelease, type ReleaseCleanPages } from './clean-pages.ts';
import { nativeMallocTrim, type NativeTrim } from './malloc-trim.ts';

type Collect = () => void;

/**
 * V8's collector, reached without starting node with --expose-gc: the flag is set just long
 * enough to create one context that has `gc`. Null where the engine refuses.
 */
export function memoryReducingCollector(): Collect | null {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    v8.setFlagsFromString('--no-expose-gc');
    if (typeof gc !== 'function') return null;
    return () => (gc as (options: object) => void)({ type: 'major', execution: 'sync', flavor: 'last-resort' });
  } catch {
    return null;
  }
}

export interface IdleMemoryTrimOptions {
  log: Logger;
  /** How often the process's CPU use is looked at; a period below IDLE_UTILIZATION is quiet. */
  checkEveryMs?: number;
  /**
   * How often it is looked at once memory was given back and nothing happened since (default
   * 30 s): an idle node wakes for this rarely (issue #36); work done meanwhile still counts,
   * since `activity` only grows.
   */
  idleCheckEveryMs?: number;
  /** A counter that moves with the node's work (group-commit jobs): a period it moved in is busy. */
  activity?: () => number;
  /** Caches to empty as well (SQLite's page cache: `PRAGMA shrink_memory`). */
  releaseCaches?: () => void;
  /** For tests: the share of a core used since the previous call, the resident size (privateResident), and the collector. */
  utilization?: () => number;
  resident?: () => number;
  collect?: Collect | null;
  /** After the collection: malloc's free pages back to the system (malloc-trim.ts); null: none. */
  nativeTrim?: NativeTrim | null;
  /** The executable's clean pages unmapped (clean-pages.ts), after a burst or a quiet idle look; null: none. */
  releaseCleanPages?: ReleaseCleanPages | null;
}

/**
 * A quiet period: no work counted by `activity`, and under 5 % of a core used (start-up's last
 * lazy compilations and timers stay under it; a peer sending even a few events a second moves
 * `activity`). CPU time rather than the event loop's utilization: reading that loads
 * perf_hooks, a megabyte of an idle node's memory.
 */
const IDLE_UTILIZATION = 0.05;
/**
 * How many quiet periods in a row a collection waits for. After an exchange that grew the
 * process by more than PROMPT_GROWTH_BYTES since the last collection (a burst of traffic leaves
 * V8's heap at 150 MB and more, most of it garbage), one quiet period is enough: the node gives
 * it back a second or two after the burst. Otherwise (a message now and then) it waits for
 * QUIET_PERIODS, so that sporadic traffic does not pay a full collection per message.
 */
const QUIET_PERIODS = 10;
const PROMPT_GROWTH_BYTES = 16 * 1024 * 1024;

export class IdleMemoryTrim {
  private readonly log: Logger;
  private readonly checkEveryMs: number;
  private readonly idleCheckEveryMs: number;
  private readonly utilization: () => number;
  private readonly collect: Collect | null;
  private readonly releaseCaches: (() => void) | undefined;
  private readonly nativeTrim: (() => NativeTrim | null) | undefined;
  private readonly releaseCleanPages: () => ReleaseCleanPages | null;
  private readonly activity: () => number;
  private lastActivity = 0;
  private timers: NodeJS.Timeout[] = [];
  /** Whether anything happened since the last collection (then quiet periods lead to one). */
  private busySinceTrim = true;
  private quietPeriods = 0;
  /** Whether the code pages were given back and no work ran since. */
  private codePagesOut = false;
  /** Resident size after the last collection (growth beyond it makes the next one prompt). */
  private residentAfterTrim = 0;
  private readonly resident: () => number;
  /** Collections made (for tests and the log). */
  trims = 0;

  constructor(options: IdleMemoryTrimOptions) {
    this.log = options.log;
    this.checkEveryMs = options.checkEveryMs ?? 1_000;
    this.idleCheckEveryMs = options.idleCheckEveryMs ?? 30_000;
    this.collect = options.collect === undefined ? memoryReducingCollector() : options.collect;
    this.utilization = options.utilization ?? cpuShareSinceLastCall();
    this.releaseCaches = options.releaseCaches;
    // Loaded at the first trim, not at start-up (cold start).
    this.nativeTrim = options.nativeTrim === undefined ? nativeMallocTrim : () => options.nativeTrim ?? null;
    this.releaseCleanPages = options.releaseCleanPages === undefined ? cleanPageRelease : () => options.releaseCleanPages ?? null;
    this.activity = options.activity ?? (() => 0);
    this.resident = options.resident ?? privateResident;
  }

  start(): void {
    if (!this.collect) {
      this.log.info({ event: 'memory_trim_unavailable' }, 'idle memory trimming is not available in this runtime');
      return;
    }
    // The first look comes a period after start-up (whose garbage is the largest), and collects
    // only if the node is quiet by then: a collection pauses the event loop for tens of milliseconds.
    this.utilization();
    this.lastActivity = this.activity();
    this.stopped = false;
    this.schedule();
  }

  private stopped = false;

  /** The next look: soon while something may need giving back, rarely once all was given back. */
  private schedule(): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.timers = this.timers.filter((t) => t !== timer);
      this.check();
      this.schedule();
    }, this.busySinceTrim ? this.checkEveryMs : this.idleCheckEveryMs);
    timer.unref();
    this.timers.push(timer);
  }

  /** One period's look: busy marks the node for a collection, quiet after busy collects. */
  check(): void {
    const activity = this.activity();
    const worked = activity !== this.lastActivity;
    this.lastActivity = activity;
    if (this.utilization() > IDLE_UTILIZATION || worked) {
      this.busySinceTrim = true;
      this.quietPeriods = 0;
      this.codePagesOut = false;
      return;
    }
    if (!this.busySinceTrim) {
      // A whole idle look quiet after the collection: the code pages too.
      if (!this.codePagesOut && this.collect) this.releaseCode();
      return;
    }
    this.quietPeriods++;
    const grown = this.resident() - this.residentAfterTrim > PROMPT_GROWTH_BYTES;
    if (grown || this.quietPeriods >= QUIET_PERIODS) this.trim(grown);
  }

  /** Unmaps the program's clean code pages (clean-pages.ts); they come back as code runs. */
  private releaseCode(): void {
    this.codePagesOut = true;
    const started = Date.now();
    let releasedKb: number;
    try {
      releasedKb = this.releaseCleanPages()?.() ?? 0;
    } catch (error) {
      this.log.warn({ event: 'memory_trim_code_pages_failed', error: (error as Error).message }, 'could not give back the program\'s code pages');
      return;
    }
    this.log.debug({ event: 'code_pages_released', ms: Date.now() - started, mb: Math.round(releasedKb / 102.4) / 10 }, 'gave the program\'s idle code pages back');
  }

  private trim(afterBurst: boolean): void {
    if (!this.collect) return;
    const before = process.memoryUsage();
    const started = Date.now();
    try {
      this.releaseCaches?.();
    } catch (error) {
      this.log.warn({ event: 'memory_trim_cache_failed', error: (error as Error).message }, 'could not empty a cache');
    }
    this.collect();
    // What V8 and SQLite just freed is still held by malloc: give it back too.
    this.nativeTrim?.()?.();
    const after = process.memoryUsage();
    this.busySinceTrim = false;
    this.quietPeriods = 0;
    this.residentAfterTrim = this.resident();
    this.trims++;
    const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;
    this.log.debug(
      { event: 'memory_trimmed', ms: Date.now() - started, rss_mb_before: mb(before.rss), rss_mb_after: mb(after.rss), heap_mb_before: mb(before.heapTotal), heap_mb_after: mb(after.heapTotal) },
      'gave idle memory back',
    );
    // After a burst, the code pages at once (last: the collection and malloc_trim ran code of their own).
    if (afterBurst) this.releaseCode();
  }

  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }
}

/**
 * The process's own resident memory (RssAnon on Linux): what a burst grows. Pages of the
 * executable mapped again as code runs are not growth (they were given back on purpose and come
 * back with any work); elsewhere the whole resident size.
 */
function privateResident(): number {
  if (process.platform === 'linux') {
    try {
      const kb = /RssAnon:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1];
      if (kb !== undefined) return Number(kb) * 1024;
    } catch {
      // no /proc: the resident size
    }
  }
  return process.memoryUsage.rss();
}

/** The share of one core this process used (all threads) since the previous call. */
function cpuShareSinceLastCall(): () => number {
  let lastCpu = process.cpuUsage();
  let lastAt = process.hrtime.bigint();
  return () => {
    const cpu = process.cpuUsage(lastCpu);
    const now = process.hrtime.bigint();
    const wallMicros = Number(now - lastAt) / 1000;
    lastCpu = process.cpuUsage();
    lastAt = now;
    return wallMicros > 0 ? (cpu.user + cpu.system) / wallMicros : 0;
  };
}
