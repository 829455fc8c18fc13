/**
 * Structured logging: one JSON event per line (pino) to stderr and DIR/logs/node.log.
 * Secrets are redacted by field name at a line's top level and one level down (pino's paths
 * reach no deeper): a safety net only; code must never log keys, tokens or passphrases.
 *
 * Issue #14, item 9 — a hostile peer must not be able to fill the disk through the log:
 * - the file rotates by size (pino-roll): `node.N.log`, at most `files` of `maxBytes` each,
 *   and `node.log` is a link to the one being written (rotation.ts);
 * - lines a peer can cause are rate-limited per peer and cause (`warnLimited`), with a periodic
 *   "suppressed N similar lines" summary (rate-limit.ts);
 * - a failed write (disk full) is reported on stderr and in the node status (`logWarnings`),
 *   and lines are dropped, never buffered without bound, never crash the process (health.ts).
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { LogHealth, watchHealth } from './health.ts';
import { RollingFile } from './rotation.ts';
import { escapedJson } from '../util/untrusted-text.ts';

export type { Logger };

export const REDACTED_FIELDS = [
  'token', '*.token', 'seed', '*.seed', 'secret_key', '*.secret_key', 'authorization', '*.authorization',
  'headers.authorization', 'req.headers.authorization', 'link', '*.link', 'login_url',
  'passphrase', '*.passphrase', 'cookie', '*.cookie', 'headers.cookie', 'challenge', '*.challenge', 'https_link', '*.https_link',
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
    {
      level, base: { pid: process.pid }, redact: { paths: REDACTED_FIELDS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime,
      // Every line as written: bidi overrides and isolates, line separators and C1 controls (which
      // JSON leaves raw) escaped as \uXXXX, whatever field of whatever line holds them, so that
      // text a peer or a stranger chose cannot reorder or hide what an owner reads in a terminal
      // (before, each caller had to clean its own fields: a member sign-in's localpart was not).
      hooks: { streamWrite: escapedJson },
    },
    pino.multistream(streams),
  );
  watchHealth(logger, health);
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
