/**
 * What one attempt's result means. Only 2xx is success; 3xx is a failure (redirects are never followed);
 * network errors, timeouts, 408, 425, 429 and 5xx are retryable; other 4xx and refused targets are permanent.
 */
import type { TransportResult } from '../transport/types.js';
import { parseRetryAfter } from './retry-after.js';

export type FailureReason =
  | 'http_3xx'
  | 'http_4xx'
  | 'http_5xx'
  | 'http_429'
  | 'http_408'
  | 'http_425'
  | 'timeout'
  | 'network'
  | 'ssrf'
  | 'invalid_target'
  | 'http_1xx';

export type AttemptOutcome =
  | { readonly kind: 'delivered'; readonly status: number }
  | {
      readonly kind: 'retryable';
      readonly reason: FailureReason;
      readonly status?: number;
      readonly error?: string;
      readonly retryAfterMs?: number;
    }
  | {
      readonly kind: 'permanent';
      readonly reason: FailureReason;
      readonly status?: number;
      readonly error?: string;
    };

const RETRYABLE_STATUS = new Map<number, FailureReason>([
  [408, 'http_408'],
  [425, 'http_425'],
  [429, 'http_429'],
]);

export function classifyAttempt(r: TransportResult, nowMs: number): AttemptOutcome {
  if (r.kind === 'error') {
    if (r.code === 'TARGET_FORBIDDEN') return { kind: 'permanent', reason: 'ssrf', error: r.message };
    // A bad URL or a request the client refuses to send (e.g. a header with CR/LF) fails the same way on every attempt.
    if (r.code === 'INVALID_URL' || r.code === 'INVALID_REQUEST') {
      return { kind: 'permanent', reason: 'invalid_target', error: r.message };
    }
    if (r.code === 'TIMEOUT') return { kind: 'retryable', reason: 'timeout', error: r.message };
    return { kind: 'retryable', reason: 'network', error: `${r.code}: ${r.message}` };
  }
  const s = r.status;
  if (s >= 200 && s < 300) return { kind: 'delivered', status: s };
  const retryAfterMs = parseRetryAfter(r.headers['retry-after'], nowMs);
  const special = RETRYABLE_STATUS.get(s);
  if (special) return { kind: 'retryable', reason: special, status: s, retryAfterMs };
  if (s >= 500) return { kind: 'retryable', reason: 'http_5xx', status: s, retryAfterMs };
  if (s >= 300 && s < 400) return { kind: 'permanent', reason: 'http_3xx', status: s };
  if (s >= 400) return { kind: 'permanent', reason: 'http_4xx', status: s };
  return { kind: 'retryable', reason: 'http_1xx', status: s };
}
