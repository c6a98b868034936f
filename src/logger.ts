/**
 * pino, object-first, with secrets and signatures redacted wherever they appear in a logged object. A line
 * that logs an error with a stable code (`err`) carries it as `code`, unless the line or its logger
 * already names one.
 */
import { pino, type Logger, type DestinationStream } from 'pino';
import { errorCodeOf } from './errors.js';

export type { Logger };

export const redactPaths = [
  'secret',
  '*.secret',
  '*.*.secret',
  'password',
  '*.password',
  'headers["webhook-signature"]',
  'headers["x-hub-signature"]',
  'headers["x-hub-signature-256"]',
  'headers["x-hook-secret"]',
  '*.headers["webhook-signature"]',
  '*.headers["x-hub-signature"]',
  '*.headers["x-hub-signature-256"]',
  '*.headers["x-hook-secret"]',
  'token',
  '*.token',
  'headers.authorization',
  '*.headers.authorization',
  'DATABASE_URL',
  'config.DATABASE_URL',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'tiledesk-webhook-connector' },
      redact: { paths: redactPaths, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin: (line, _level, logger) => {
        const code = errorCodeOf((line as { err?: unknown }).err);
        if (code === undefined || 'code' in logger.bindings()) return {};
        return { code };
      },
    },
    destination,
  );
}
