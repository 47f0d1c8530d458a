// The process logger: pino JSON lines, level from LOG_LEVEL. Readable (pino-pretty)
// only for a person at a terminal in development; everything else gets JSON.
// Personal data never belongs in a log line: code logs subject ids, not names or
// emails, and the redaction below is a second fence for fields that must not leak.
import pino, { type Logger, type LoggerOptions } from 'pino';
import type { Config } from '../config.ts';

export const REDACTED_PATHS = [
  'email',
  '*.email',
  'name',
  'customer.name',
  'input.name',
  'variables',
  '*.variables',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
];

export function loggerOptions(config: Pick<Config, 'logLevel'>, base: Record<string, unknown>): LoggerOptions {
  return { level: config.logLevel, base, redact: { paths: REDACTED_PATHS, censor: '[redacted]' } };
}

export function createLogger(config: Pick<Config, 'logLevel' | 'nodeEnv'>, base: Record<string, unknown>): Logger {
  const options = loggerOptions(config, base);
  if (config.nodeEnv === 'development' && process.stdout.isTTY) {
    return pino({
      ...options,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l' } },
    });
  }
  // Asynchronous writes: a log line never blocks the event loop on a full pipe; pino
  // flushes what is buffered when the process exits.
  return pino(options, pino.destination({ dest: 1, sync: false }));
}
