/**
 * Structured logging: one JSON event per line (pino) to stderr and DIR/logs/node.log.
 * Secrets are redacted by field name wherever they appear; code must still never log
 * keys or tokens on purpose.
 */
import { mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const REDACTED_FIELDS = [
  'token', '*.token', 'seed', '*.seed', 'secret_key', '*.secret_key', 'authorization', '*.authorization',
  'headers.authorization', 'req.headers.authorization', 'link', '*.link', 'login_url',
];

export interface LogOptions {
  level?: string;
  file?: string;
  stderr?: boolean;
}

export function createLogger(options: LogOptions = {}): Logger {
  const streams: Array<{ stream: DestinationStream; level: pino.Level }> = [];
  const level = (options.level ?? process.env.PARACORD_LOG_LEVEL ?? 'info') as pino.Level;
  if (options.stderr !== false) streams.push({ stream: pino.destination({ fd: 2, sync: true }), level });
  if (options.file) {
    // Opened here, not by the stream: a stream that opens its file asynchronously loses the lines
    // logged before the file is open if the process exits first (and throws on exit).
    mkdirSync(dirname(options.file), { recursive: true, mode: 0o700 });
    const fd = openSync(options.file, 'a', 0o600);
    streams.push({ stream: pino.destination({ fd, sync: false }), level });
  }
  if (streams.length === 0) return pino({ level: 'silent' });
  return pino(
    { level, base: { pid: process.pid }, redact: { paths: REDACTED_FIELDS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream(streams),
  );
}
