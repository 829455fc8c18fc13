/**
 * Structured logging: one JSON event per line (pino) to stderr and DIR/logs/node.log.
 * Secrets are redacted by field name wherever they appear; code must still never log
 * keys or tokens on purpose.
 */
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
  if (options.file) streams.push({ stream: pino.destination({ dest: options.file, mkdir: true, sync: false, mode: 0o600 } as Parameters<typeof pino.destination>[0] & object), level });
  if (streams.length === 0) return pino({ level: 'silent' });
  return pino(
    { level, base: { pid: process.pid }, redact: { paths: REDACTED_FIELDS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime },
    pino.multistream(streams),
  );
}
