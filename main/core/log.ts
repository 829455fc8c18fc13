/**
 * Structured logging: one JSON event per line (pino) to stderr and DIR/logs/node.log.
 * Secrets are redacted by field name wherever they appear; code must still never log
 * keys or tokens on purpose.
 *
 * Issue #14, item 9 — a hostile peer must not be able to fill the disk through the log:
 * - the file rotates by size (pino-roll): `node.N.log`, at most `files` of `maxBytes` each,
 *   and `node.log` is a link to the one being written;
 * - lines a peer can cause are rate-limited per peer and cause (`warnLimited`), with a periodic
 *   "suppressed N similar lines" summary;
 * - a failed write (disk full) is reported on stderr and in the node status (`logWarnings`),
 *   and lines are dropped, never buffered without bound, never crash the process.
 */
import { EventEmitter } from 'node:events';
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const REDACTED_FIELDS = [
  'token', '*.token', 'seed', '*.seed', 'secret_key', '*.secret_key', 'authorization', '*.authorization',
  'headers.authorization', 'req.headers.authorization', 'link', '*.link', 'login_url',
];

/** Defaults a home node can live with: 5 files of 10 MB, at most 50 MB of logs. */
export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;
export const DEFAULT_LOG_FILES = 5;

export interface LogOptions {
  level?: string;
  file?: string;
  stderr?: boolean;
  /** Size at which the file is rotated (bytes). NodeConfig `logMaxBytes`. */
  maxBytes?: number;
  /** How many files are kept, the one being written included. NodeConfig `logFiles`. */
  files?: number;
}

/** What went wrong writing the log, for the node status. */
class LogHealth {
  private problem: string | null = null;
  private lastReportAt = 0;
  dropped = 0;
  report: (fields: Record<string, unknown>, message: string) => void = () => {};

  get warnings(): string[] {
    return this.problem ? [this.problem] : [];
  }

  failed(file: string, error: NodeJS.ErrnoException): void {
    const full = error.code === 'ENOSPC' || error.code === 'EDQUOT';
    this.problem = full
      ? `disk full: log lines to ${file} are being dropped (${error.code}); free some space`
      : `cannot write the log file ${file} (${error.code ?? error.message}); log lines are being dropped`;
    const now = Date.now();
    if (now - this.lastReportAt < 60_000) return;
    this.lastReportAt = now;
    // Later, not from inside the write that failed (it may be pino's own write).
    const fields = { event: 'log_write_failed', file, code: error.code ?? null, error: error.message };
    setImmediate(() => this.report(fields, this.problem ?? 'log write failed'));
  }

  recovered(): void {
    if (!this.problem) return;
    this.problem = null;
    setImmediate(() => this.report({ event: 'log_write_recovered', dropped: this.dropped }, 'log file writes work again'));
  }
}

const healthOf = new WeakMap<Logger, LogHealth>();

/** Problems writing the log (e.g. disk full), for `GET /status` `warnings`. */
export function logWarnings(log: Logger): string[] {
  return healthOf.get(log)?.warnings ?? [];
}

/** What we use of the sonic-boom stream pino-roll builds. */
interface RollStream extends EventEmitter {
  fd: number;
  file: string | null;
  write(line: string): boolean;
  flushSync(): void;
}

const pinoRoll = createRequire(import.meta.url)('pino-roll') as (options: Record<string, unknown>) => Promise<RollStream>;
const openFiles = new Set<RollingFile>();
let exitHookInstalled = false;

/**
 * The log file: written synchronously from the first line (a line logged just before the
 * process exits is kept), then handed to pino-roll's stream once it has opened the same file.
 * pino-roll numbers files `node.N.log` and continues with the highest number present, so the
 * synchronous phase appends to the file it will pick.
 */
class RollingFile extends EventEmitter implements DestinationStream {
  private fd: number | null;
  private roll: RollStream | null = null;
  private readonly base: string;
  private readonly file: string;
  private readonly health: LogHealth;
  /** How many numbered files are kept. */
  private readonly files: number;

  constructor(file: string, health: LogHealth, options: { maxBytes: number; files: number }) {
    super();
    this.file = file;
    this.files = Math.max(1, options.files);
    this.health = health;
    const dir = dirname(file);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    this.base = join(dir, basename(file).replace(/\.log$/, ''));
    this.adoptPlainFile();
    const current = `${this.base}.${highestNumber(dir, basename(this.base))}.log`;
    this.fd = openSync(current, 'a', 0o600);
    this.link(current);
    openFiles.add(this);
    installExitHook();
    pinoRoll({
      file: this.base, extension: '.log', size: `${Math.max(1, Math.floor(options.maxBytes / 1024))}k`,
      limit: { count: Math.max(1, options.files), removeOtherLogFiles: true },
      mode: 0o600, sync: false,
      // While the disk is full, lines wait here up to this much, then are dropped.
      maxLength: 4 * 1024 * 1024,
    }).then((stream) => {
      stream.on('error', (error: NodeJS.ErrnoException) => this.health.failed(this.file, error));
      stream.on('drop', () => this.health.dropped++);
      stream.on('write', () => this.health.recovered());
      stream.on('ready', () => {
        this.link(stream.file ?? current);
        this.prune();
      });
      const adopt = () => {
        if (this.fd !== null) closeSync(this.fd);
        this.fd = null;
        this.roll = stream;
      };
      if (stream.fd >= 0) adopt();
      else stream.once('ready', adopt);
    }, (error: Error) => {
      // Rotation could not start: keep appending to the file opened above.
      setImmediate(() => this.health.report({ event: 'log_rotation_unavailable', error: error.message }, 'log rotation could not start'));
    });
  }

  write(line: string): void {
    if (this.roll) {
      this.roll.write(line);
      return;
    }
    if (this.fd === null) return;
    try {
      writeSync(this.fd, line);
      this.health.recovered();
    } catch (error) {
      this.health.dropped++;
      this.health.failed(this.file, error as NodeJS.ErrnoException);
    }
  }

  flushSync(): void {
    // sonic-boom's flushSync retries a failed write forever: with the disk full, exiting would
    // hang. The lines it holds are lost either way.
    if (this.health.warnings.length > 0) return;
    try {
      this.roll?.flushSync();
    } catch (error) {
      this.health.failed(this.file, error as NodeJS.ErrnoException);
    }
  }

  /**
   * Keeps the newest `files` numbered files once the new one is open. pino-roll removes old files
   * too, but it lists the folder right after asking for the new file, before that file exists on
   * a slow disk, and then keeps one file too many for good (seen as a flaky test under load).
   */
  private prune(): void {
    try {
      for (const { name } of numberedFiles(dirname(this.file), basename(this.base)).slice(this.files)) {
        try {
          unlinkSync(join(dirname(this.file), name));
        } catch {
          // removed meanwhile (pino-roll's own cleanup), or not ours to remove
        }
      }
    } catch {
      // the folder could not be read: the next rotation tries again
    }
  }

  /** A plain `node.log` from before rotation becomes `node.0.log` (kept until rotation removes it). */
  private adoptPlainFile(): void {
    try {
      if (lstatSync(this.file).isFile()) renameSync(this.file, `${this.base}.0.log`);
    } catch {
      // Not there, or not ours to move: nothing to adopt.
    }
  }

  /** `node.log` → the file being written, so existing habits (`tail -f logs/node.log`) work. */
  private link(target: string): void {
    try {
      try {
        unlinkSync(this.file);
      } catch {
        // absent
      }
      symlinkSync(basename(target), this.file);
    } catch {
      // Symbolic links can be unavailable (Windows without the privilege): the numbered files remain.
    }
  }
}

/** The numbered log files of `stem` in `dir` (`stem.N.log`), newest (highest N) first. */
function numberedFiles(dir: string, stem: string): Array<{ name: string; number: number }> {
  const pattern = new RegExp(`^${stem.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.([0-9]+)\\.log$`);
  const found: Array<{ name: string; number: number }> = [];
  for (const name of readdirSync(dir)) {
    const match = pattern.exec(name);
    if (match) found.push({ name, number: Number(match[1]) });
  }
  return found.sort((a, b) => b.number - a.number);
}

function highestNumber(dir: string, stem: string): number {
  return Math.max(1, ...numberedFiles(dir, stem).map((f) => f.number));
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const file of openFiles) file.flushSync();
  });
}

export function createLogger(options: LogOptions = {}): Logger {
  const streams: Array<{ stream: DestinationStream; level: pino.Level }> = [];
  const level = (options.level ?? process.env.PARACORD_LOG_LEVEL ?? 'info') as pino.Level;
  const health = new LogHealth();
  if (options.stderr !== false) streams.push({ stream: pino.destination({ fd: 2, sync: true }), level });
  if (options.file) {
    streams.push({ stream: new RollingFile(options.file, health, { maxBytes: options.maxBytes ?? DEFAULT_LOG_MAX_BYTES, files: options.files ?? DEFAULT_LOG_FILES }), level });
  }
  if (streams.length === 0) return pino({ level: 'silent' });
  const logger = pino(
    { level, base: { pid: process.pid }, redact: { paths: REDACTED_FIELDS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream(streams),
  );
  healthOf.set(logger, health);
  health.report = options.stderr !== false
    ? (fields, message) => logger.error(fields, message)
    : (fields, message) => {
      try {
        process.stderr.write(`${JSON.stringify({ level: 50, time: new Date().toISOString(), pid: process.pid, ...fields, msg: message })}\n`);
      } catch {
        // stderr is gone too: the status still shows the warning.
      }
    };
  return logger;
}

/**
 * Rate-limited warnings for lines a peer can cause (catch-up, delivery and verification
 * failures, refused connections): per `key` (peer and cause), the first `perWindow` lines of
 * each window are logged; the rest are counted and summarized as one
 * `suppressed N similar lines` line when the window ends.
 */
export const LOG_WINDOW_MS = 60_000;
export const LOG_LINES_PER_WINDOW = 5;

interface Tally {
  started: number;
  logged: number;
  suppressed: number;
  event: unknown;
}

class LineLimiter {
  private readonly tallies: LRUCache<string, Tally>;
  private timer: NodeJS.Timeout | null = null;
  private readonly log: Logger;
  private readonly windowMs: number;
  private readonly perWindow: number;

  constructor(log: Logger, windowMs: number, perWindow: number) {
    this.log = log;
    this.windowMs = windowMs;
    this.perWindow = perWindow;
    this.tallies = new LRUCache<string, Tally>({
      max: 2_000,
      // A key pushed out with lines still untold is summarized, not forgotten.
      dispose: (tally, key, reason) => {
        if (reason === 'evict') this.summarize(key, tally);
      },
    });
  }

  warn(key: string, fields: Record<string, unknown>, message: string, now = Date.now(), level: 'warn' | 'info' = 'warn'): void {
    let tally = this.tallies.get(key);
    if (tally && now - tally.started >= this.windowMs) {
      this.summarize(key, tally);
      tally = undefined;
    }
    if (!tally) {
      tally = { started: now, logged: 0, suppressed: 0, event: fields.event };
      this.tallies.set(key, tally);
    }
    if (tally.logged < this.perWindow) {
      tally.logged++;
      this.log[level](fields, message);
      return;
    }
    tally.suppressed++;
    this.schedule();
  }

  private summarize(key: string, tally: Tally): void {
    if (tally.suppressed === 0) return;
    this.log.warn(
      { event: 'log_suppressed', key, suppressed_event: tally.event, suppressed: tally.suppressed, window_s: Math.round(this.windowMs / 1000) },
      `suppressed ${tally.suppressed} similar lines`,
    );
    tally.suppressed = 0;
  }

  /** Tells every count still untold (the node is stopping: nothing is lost from the log). */
  flush(): void {
    for (const [key, tally] of [...this.tallies.entries()]) this.summarize(key, tally);
  }

  /** Ends windows that saw suppressed lines even if their key goes quiet. */
  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      const now = Date.now();
      let pending = false;
      for (const [key, tally] of [...this.tallies.entries()]) {
        if (now - tally.started >= this.windowMs) {
          this.summarize(key, tally);
          this.tallies.delete(key);
        } else if (tally.suppressed > 0) pending = true;
      }
      if (pending) this.schedule();
    }, this.windowMs);
    this.timer.unref();
  }
}

const limiters = new WeakMap<Logger, LineLimiter>();

function limiterOf(log: Logger): LineLimiter {
  let limiter = limiters.get(log);
  if (!limiter) {
    limiter = new LineLimiter(log, LOG_WINDOW_MS, LOG_LINES_PER_WINDOW);
    limiters.set(log, limiter);
  }
  return limiter;
}

/**
 * `log.warn`, at most LOG_LINES_PER_WINDOW lines per `key` per window (see LineLimiter). Every
 * line a peer can cause once per event, request or answer goes through this (or infoLimited),
 * keyed by the peer and the cause (docs/SECURITY.md, item 9).
 */
export function warnLimited(log: Logger, key: string, fields: Record<string, unknown>, message: string): void {
  limiterOf(log).warn(key, fields, message);
}

/** `log.info` with the same limit as warnLimited (the suppressed-lines summary is a warning). */
export function infoLimited(log: Logger, key: string, fields: Record<string, unknown>, message: string): void {
  limiterOf(log).warn(key, fields, message, Date.now(), 'info');
}

/** Logs the suppressed-lines summaries still pending (when the node stops). */
export function flushLimited(log: Logger): void {
  limiters.get(log)?.flush();
}

/** A limiter with its own window, for tests and for callers that need another pace. */
export function lineLimiter(log: Logger, windowMs: number, perWindow: number): { warn(key: string, fields: Record<string, unknown>, message: string): void } {
  return new LineLimiter(log, windowMs, perWindow);
}
