/**
 * The log file, rotated by size (pino-roll): `node.N.log`, at most `files` of `maxBytes` each, and
 * `node.log` a link to the one being written (docs/SECURITY.md, item 9).
 */
import { EventEmitter } from 'node:events';
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, renameSync, symlinkSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { DestinationStream } from 'pino';
import pinoRollModule from 'pino-roll';
import type { LogHealth } from './health.ts';

/** What we use of the sonic-boom stream pino-roll builds. */
interface RollStream extends EventEmitter {
  fd: number;
  file: string | null;
  write(line: string): boolean;
  flushSync(): void;
}

const pinoRoll = pinoRollModule as (options: Record<string, unknown>) => Promise<RollStream>;
const openFiles = new Set<RollingFile>();
let exitHookInstalled = false;

/**
 * The log file: written synchronously from the first line (a line logged just before the
 * process exits is kept), then handed to pino-roll's stream once it has opened the same file.
 * pino-roll numbers files `node.N.log` and continues with the highest number present, so the
 * synchronous phase appends to the file it will pick.
 */
export class RollingFile extends EventEmitter implements DestinationStream {
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
