import { describe, expect, it } from '@jest/globals';
import { classifyAttempt, type AttemptOutcome } from '../../../src/delivery/classify.js';
import { parseRetryAfter } from '../../../src/delivery/retry-after.js';
import { nextDelayMs, retrySchedule, type RetryPolicy } from '../../../src/delivery/retry-policy.js';
import type { TransportResult } from '../../../src/transport/types.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

const response = (status: number, headers: Record<string, string> = {}): TransportResult => ({
  kind: 'response',
  status,
  headers,
  durationMs: 12,
});
const failure = (code: string, message = 'boom'): TransportResult => ({
  kind: 'error',
  code,
  message,
  durationMs: 3,
});

describe('classifyAttempt: HTTP statuses', () => {
  // [status, kind, reason]
  const table: [number, AttemptOutcome['kind'], string | undefined][] = [
    [200, 'delivered', undefined],
    [201, 'delivered', undefined],
    [202, 'delivered', undefined],
    [204, 'delivered', undefined],
    [299, 'delivered', undefined],
    [301, 'permanent', 'http_3xx'],
    [302, 'permanent', 'http_3xx'],
    [304, 'permanent', 'http_3xx'],
    [307, 'permanent', 'http_3xx'],
    [308, 'permanent', 'http_3xx'],
    [400, 'permanent', 'http_4xx'],
    [401, 'permanent', 'http_4xx'],
    [403, 'permanent', 'http_4xx'],
    [404, 'permanent', 'http_4xx'],
    [410, 'permanent', 'http_4xx'],
    [413, 'permanent', 'http_4xx'],
    [422, 'permanent', 'http_4xx'],
    [408, 'retryable', 'http_408'],
    [425, 'retryable', 'http_425'],
    [429, 'retryable', 'http_429'],
    [500, 'retryable', 'http_5xx'],
    [502, 'retryable', 'http_5xx'],
    [503, 'retryable', 'http_5xx'],
    [504, 'retryable', 'http_5xx'],
    [599, 'retryable', 'http_5xx'],
  ];

  it.each(table)('%i → %s %s', (status, kind, reason) => {
    const outcome = classifyAttempt(response(status), NOW);
    expect(outcome.kind).toBe(kind);
    expect(outcome).toMatchObject({ status });
    if (reason === undefined) expect(outcome).not.toHaveProperty('reason');
    else expect(outcome).toMatchObject({ reason });
  });

  it('never treats a 3xx with a Location as success (redirects are not followed)', () => {
    expect(classifyAttempt(response(302, { location: 'https://elsewhere.example/' }), NOW).kind).toBe(
      'permanent',
    );
  });

  it('reads Retry-After on retryable statuses', () => {
    expect(classifyAttempt(response(429, { 'retry-after': '30' }), NOW)).toEqual({
      kind: 'retryable',
      reason: 'http_429',
      status: 429,
      retryAfterMs: 30_000,
    });
    expect(classifyAttempt(response(503, { 'retry-after': '2' }), NOW)).toMatchObject({
      retryAfterMs: 2_000,
    });
  });
});

describe('classifyAttempt: transport errors', () => {
  const table: [string, AttemptOutcome['kind'], string][] = [
    ['TIMEOUT', 'retryable', 'timeout'],
    ['ECONNREFUSED', 'retryable', 'network'],
    ['ECONNRESET', 'retryable', 'network'],
    ['ENOTFOUND', 'retryable', 'network'],
    ['EAI_AGAIN', 'retryable', 'network'],
    ['TARGET_FORBIDDEN', 'permanent', 'ssrf'],
    ['INVALID_URL', 'permanent', 'invalid_target'],
  ];

  it.each(table)('%s → %s %s', (code, kind, reason) => {
    const outcome = classifyAttempt(failure(code, `${code} happened`), NOW);
    expect(outcome).toMatchObject({ kind, reason });
    expect(outcome).not.toHaveProperty('status');
    expect((outcome as { error?: string }).error).toContain(`${code} happened`);
  });

  it('names the code of a network error in its error text', () => {
    expect(classifyAttempt(failure('ECONNREFUSED', 'connect refused'), NOW)).toMatchObject({
      error: 'ECONNREFUSED: connect refused',
    });
  });
});

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('120', NOW)).toBe(120_000);
    expect(parseRetryAfter(' 7 ', NOW)).toBe(7_000);
  });

  it('reads an HTTP-date against the given clock', () => {
    expect(parseRetryAfter('Sun, 01 Mar 2026 12:00:45 GMT', NOW)).toBe(45_000);
    expect(parseRetryAfter('Sunday, 01-Mar-26 12:01:00 GMT', NOW)).toBe(60_000);
    expect(parseRetryAfter('Sun Mar  1 12:00:10 2026', Date.parse('Sun Mar  1 12:00:00 2026'))).toBe(10_000);
  });

  it('turns a date in the past into "now", never a negative delay', () => {
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', NOW)).toBe(0);
  });

  it('ignores an absent value', () => {
    expect(parseRetryAfter(undefined, NOW)).toBeUndefined();
  });

  // Neither delay-seconds nor an HTTP-date (RFC 9110 §10.2.3): ignored, so the normal backoff applies.
  it.each(['', 'soon', '12abc', '1e3', '0x10', '1.5', '-1', '-30', '2.0'])('ignores invalid %p', (v) => {
    expect(parseRetryAfter(v, NOW)).toBeUndefined();
  });
});

describe('nextDelayMs', () => {
  const policy: RetryPolicy = {
    maxAttempts: 6,
    initialDelayMs: 1_000,
    multiplier: 4,
    maxDelayMs: 60_000,
    retryAfterMaxMs: 120_000,
  };
  const retryable: AttemptOutcome = { kind: 'retryable', reason: 'http_5xx', status: 503 };
  const zero = (): number => 0;
  const one = (): number => 1;

  // attempt just made → [delay with random()=0, delay with random()=1]: equal jitter over [50%, 100%].
  const table: [number, number, number][] = [
    [1, 500, 1_000],
    [2, 2_000, 4_000],
    [3, 8_000, 16_000],
    [4, 30_000, 60_000], // 64 s capped at 60 s
    [5, 30_000, 60_000],
  ];

  it.each(table)('after attempt %i waits between %i and %i ms', (attempt, low, high) => {
    expect(nextDelayMs(attempt, retryable, policy, zero)).toBe(low);
    expect(nextDelayMs(attempt, retryable, policy, one)).toBe(high);
    const mid = nextDelayMs(attempt, retryable, policy, () => 0.5)!;
    expect(mid).toBeGreaterThanOrEqual(low);
    expect(mid).toBeLessThanOrEqual(high);
  });

  it('never exceeds the cap, even with a large multiplier and many attempts', () => {
    const p = { ...policy, maxAttempts: 50, multiplier: 20 };
    for (let a = 1; a < 50; a++) expect(nextDelayMs(a, retryable, p, one)).toBeLessThanOrEqual(p.maxDelayMs);
  });

  it('returns null after the last attempt', () => {
    expect(nextDelayMs(6, retryable, policy, one)).toBeNull();
    expect(nextDelayMs(7, retryable, policy, one)).toBeNull();
    expect(nextDelayMs(1, retryable, { ...policy, maxAttempts: 1 }, one)).toBeNull();
  });

  it('returns null for delivered and permanent outcomes', () => {
    expect(nextDelayMs(1, { kind: 'delivered', status: 200 }, policy, one)).toBeNull();
    expect(nextDelayMs(1, { kind: 'permanent', reason: 'http_4xx', status: 404 }, policy, one)).toBeNull();
    expect(nextDelayMs(1, { kind: 'permanent', reason: 'ssrf' }, policy, one)).toBeNull();
  });

  const withRetryAfter = (ms: number): AttemptOutcome => ({
    kind: 'retryable',
    reason: 'http_429',
    status: 429,
    retryAfterMs: ms,
  });

  it('lets Retry-After lengthen the wait, capped by retryAfterMaxMs', () => {
    expect(nextDelayMs(1, withRetryAfter(30_000), policy, zero)).toBe(30_000);
    expect(nextDelayMs(1, withRetryAfter(3_600_000), policy, one)).toBe(120_000);
    expect(nextDelayMs(6, withRetryAfter(1_000), policy, one)).toBeNull();
  });

  it('never lets Retry-After shorten the backoff: 0, a past date or a short value wait the backoff', () => {
    // Retry-After: 0 and a past HTTP date both parse to 0 ms.
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', NOW)).toBe(0);
    for (const [attempt, low, high] of table) {
      expect(nextDelayMs(attempt, withRetryAfter(0), policy, zero)).toBe(low);
      expect(nextDelayMs(attempt, withRetryAfter(0), policy, one)).toBe(high);
      expect(nextDelayMs(attempt, withRetryAfter(low - 1), policy, zero)).toBe(low);
    }
    // A whole schedule of `Retry-After: 0` answers still waits as long as plain 503s.
    const sum = (o: AttemptOutcome): number =>
      [1, 2, 3, 4, 5].reduce((t, a) => t + nextDelayMs(a, o, policy, one)!, 0);
    expect(sum(classifyAttempt(response(429, { 'retry-after': '0' }), NOW))).toBe(sum(retryable));
  });

  it('combined with classification: an invalid Retry-After falls back to the backoff', () => {
    const outcome = classifyAttempt(response(503, { 'retry-after': '-1' }), NOW);
    expect(nextDelayMs(1, outcome, policy, one)).toBe(1_000);
  });
});

describe('retrySchedule', () => {
  it('lists the delays before attempts 2..maxAttempts, without jitter, capped', () => {
    expect(
      retrySchedule({
        maxAttempts: 6,
        initialDelayMs: 1_000,
        multiplier: 4,
        maxDelayMs: 60_000,
        retryAfterMaxMs: 0,
      }),
    ).toEqual([1_000, 4_000, 16_000, 60_000, 60_000]);
  });

  it('is empty for a single attempt and constant for multiplier 1', () => {
    expect(
      retrySchedule({
        maxAttempts: 1,
        initialDelayMs: 1_000,
        multiplier: 2,
        maxDelayMs: 5_000,
        retryAfterMaxMs: 0,
      }),
    ).toEqual([]);
    expect(
      retrySchedule({
        maxAttempts: 4,
        initialDelayMs: 250,
        multiplier: 1,
        maxDelayMs: 5_000,
        retryAfterMaxMs: 0,
      }),
    ).toEqual([250, 250, 250]);
  });

  it('is the upper bound of nextDelayMs for every attempt', () => {
    const p: RetryPolicy = {
      maxAttempts: 8,
      initialDelayMs: 300,
      multiplier: 3,
      maxDelayMs: 20_000,
      retryAfterMaxMs: 0,
    };
    const retryable: AttemptOutcome = { kind: 'retryable', reason: 'timeout' };
    retrySchedule(p).forEach((d, i) => expect(nextDelayMs(i + 1, retryable, p, () => 1)).toBe(d));
  });
});
