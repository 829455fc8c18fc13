/**
 * Gives memory back when the node is idle (issue #6: idle footprint). V8 keeps the young
 * generation it grew to — 16 MB and more after start-up or a burst of traffic — and the old
 * generation's half-empty pages until a memory-reducing collection, which a quiet process
 * rarely gets. Shortly after start-up, and after every busy spell, once the event loop has been
 * quiet for a whole period, this asks V8 for its last-resort collection, the one that shrinks the
 * heap (tens of milliseconds on a node's small heap: never while the node is busy).
 */
import v8 from 'node:v8';
import vm from 'node:vm';
import type { Logger } from 'pino';

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
  /** First collection after start-up. */
  firstAfterMs?: number;
  /** How often the process's CPU use is looked at; a period below IDLE_UTILIZATION is quiet. */
  checkEveryMs?: number;
  /** A counter that moves with the node's work (group-commit jobs): a period it moved in is busy. */
  activity?: () => number;
  /** Caches to empty as well (SQLite's page cache: `PRAGMA shrink_memory`). */
  releaseCaches?: () => void;
  /** For tests: the share of a core used since the previous call, and the collector. */
  utilization?: () => number;
  collect?: Collect | null;
}

/**
 * A quiet period: no work counted by `activity`, and under 5 % of a core used (start-up's last
 * lazy compilations and timers stay under it; a peer sending even a few events a second moves
 * `activity`). CPU time rather than the event loop's utilization: reading that loads
 * perf_hooks, a megabyte of an idle node's memory.
 */
const IDLE_UTILIZATION = 0.05;

export class IdleMemoryTrim {
  private readonly log: Logger;
  private readonly firstAfterMs: number;
  private readonly checkEveryMs: number;
  private readonly utilization: () => number;
  private readonly collect: Collect | null;
  private readonly releaseCaches: (() => void) | undefined;
  private readonly activity: () => number;
  private lastActivity = 0;
  private timers: NodeJS.Timeout[] = [];
  /** Whether anything happened since the last collection (then the next quiet period collects). */
  private busySinceTrim = true;
  /** Collections made (for tests and the log). */
  trims = 0;

  constructor(options: IdleMemoryTrimOptions) {
    this.log = options.log;
    this.firstAfterMs = options.firstAfterMs ?? 1_000;
    this.checkEveryMs = options.checkEveryMs ?? 30_000;
    this.collect = options.collect === undefined ? memoryReducingCollector() : options.collect;
    this.utilization = options.utilization ?? cpuShareSinceLastCall();
    this.releaseCaches = options.releaseCaches;
    this.activity = options.activity ?? (() => 0);
  }

  start(): void {
    if (!this.collect) {
      this.log.info({ event: 'memory_trim_unavailable' }, 'idle memory trimming is not available in this runtime');
      return;
    }
    // The first look comes soon after start-up (whose garbage is the largest), and collects only
    // if the node is quiet by then: a collection pauses the event loop for tens of milliseconds.
    this.utilization();
    this.lastActivity = this.activity();
    this.timers.push(setTimeout(() => this.check(), this.firstAfterMs).unref());
    this.timers.push(setInterval(() => this.check(), this.checkEveryMs).unref());
  }

  /** One period's look: busy marks the node for a collection, quiet after busy collects. */
  check(): void {
    const activity = this.activity();
    const worked = activity !== this.lastActivity;
    this.lastActivity = activity;
    if (this.utilization() > IDLE_UTILIZATION || worked) {
      this.busySinceTrim = true;
      return;
    }
    if (this.busySinceTrim) this.trim();
  }

  private trim(): void {
    if (!this.collect) return;
    const before = process.memoryUsage();
    const started = Date.now();
    try {
      this.releaseCaches?.();
    } catch (error) {
      this.log.warn({ event: 'memory_trim_cache_failed', error: (error as Error).message }, 'could not empty a cache');
    }
    this.collect();
    const after = process.memoryUsage();
    this.busySinceTrim = false;
    this.trims++;
    const mb = (bytes: number) => Math.round(bytes / 104857.6) / 10;
    this.log.debug(
      { event: 'memory_trimmed', ms: Date.now() - started, rss_mb_before: mb(before.rss), rss_mb_after: mb(after.rss), heap_mb_before: mb(before.heapTotal), heap_mb_after: mb(after.heapTotal) },
      'gave idle memory back',
    );
  }

  stop(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers = [];
  }
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
