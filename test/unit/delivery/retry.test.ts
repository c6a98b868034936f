import { describe, expect, it } from '@jest/globals';
import { classifyAttempt, type AttemptOutcome } from '../../../src/delivery/classify.js';
import { parseRetryAfter } from '../../../src/delivery/retry-after.js';
import {
  decideNext,
  inProcessPolicy,
  maxAttempts,
  nextDelayMs,
  retrySchedule,
  type RetryPolicy,
} from '../../../src/delivery/retry-policy.js';
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
  // The default schedule: 5s,5m,30m,2h,5h,10h,10h.
  const policy: RetryPolicy = {
    schedule: [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000],
    jitter: 0.2,
    retryAfterMaxMs: 120_000,
    inProcessMaxMs: 10_000,
  };
  const retryable: AttemptOutcome = { kind: 'retryable', reason: 'http_5xx', status: 503 };
  const zero = (): number => 0;
  const one = (): number => 1;

  it('gives schedule.length + 1 attempts', () => {
    expect(maxAttempts(policy)).toBe(8);
    expect(maxAttempts({ ...policy, schedule: [] })).toBe(1);
  });

  // attempt just made → schedule[attempt - 1], jittered over [80%, 100%] with jitter 0.2.
  it.each(policy.schedule.map((ms, i) => [i + 1, ms * 0.8, ms] as const))(
    'after attempt %i waits between %i and %i ms',
    (attempt, low, high) => {
      expect(nextDelayMs(attempt, retryable, policy, one)).toBe(low);
      expect(nextDelayMs(attempt, retryable, policy, zero)).toBe(high);
      const mid = nextDelayMs(attempt, retryable, policy, () => 0.5)!;
      expect(mid).toBe(Math.round(high * 0.9));
    },
  );

  it('stays within the jitter bounds for any random() in [0, 1), and never later than the schedule', () => {
    let seed = 7;
    const lcg = (): number => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
    for (let i = 0; i < 1_000; i++) {
      const d = nextDelayMs(2, retryable, { ...policy, jitter: 0.5 }, lcg)!;
      expect(d).toBeGreaterThanOrEqual(150_000);
      expect(d).toBeLessThanOrEqual(300_000);
    }
    expect(nextDelayMs(1, retryable, { ...policy, jitter: 0 }, one)).toBe(5_000);
  });

  it('numbers attempts from 1 and rejects attempt numbers below it', () => {
    const p = { ...policy, schedule: [10, 20], jitter: 0 };
    expect(nextDelayMs(1, retryable, p, zero)).toBe(10);
    expect(nextDelayMs(2, retryable, p, zero)).toBe(20);
    expect(nextDelayMs(3, retryable, p, zero)).toBeNull();
    expect(() => nextDelayMs(0, retryable, p, zero)).toThrow(RangeError);
    expect(() => nextDelayMs(1.5, retryable, p, zero)).toThrow(RangeError);
  });

  it('returns null after the last attempt, and at once for an empty schedule', () => {
    expect(nextDelayMs(7, retryable, policy, one)).not.toBeNull();
    expect(nextDelayMs(8, retryable, policy, one)).toBeNull();
    expect(nextDelayMs(9, retryable, policy, one)).toBeNull();
    expect(nextDelayMs(1, retryable, { ...policy, schedule: [] }, one)).toBeNull();
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
    expect(nextDelayMs(1, withRetryAfter(3_600_000), policy, zero)).toBe(120_000);
    expect(nextDelayMs(8, withRetryAfter(1_000), policy, one)).toBeNull();
  });

  it('never lets Retry-After shorten the wait: 0, a past date or a short value wait the schedule', () => {
    // Retry-After: 0 and a past HTTP date both parse to 0 ms.
    expect(parseRetryAfter('0', NOW)).toBe(0);
    expect(parseRetryAfter('Sun, 01 Mar 2026 11:00:00 GMT', NOW)).toBe(0);
    policy.schedule.forEach((ms, i) => {
      expect(nextDelayMs(i + 1, withRetryAfter(0), policy, zero)).toBe(ms);
      expect(nextDelayMs(i + 1, withRetryAfter(ms * 0.8 - 1), policy, one)).toBe(ms * 0.8);
    });
    // A step longer than the Retry-After cap is kept: the cap bounds Retry-After, not the schedule.
    expect(nextDelayMs(3, withRetryAfter(3_600_000), policy, zero)).toBe(1_800_000);
    // A whole schedule of `Retry-After: 0` answers still waits as long as plain 503s.
    const sum = (o: AttemptOutcome): number =>
      [1, 2, 3, 4, 5, 6, 7].reduce((t, a) => t + nextDelayMs(a, o, policy, one)!, 0);
    expect(sum(classifyAttempt(response(429, { 'retry-after': '0' }), NOW))).toBe(sum(retryable));
  });

  it('combined with classification: an invalid Retry-After falls back to the schedule', () => {
    const outcome = classifyAttempt(response(503, { 'retry-after': '-1' }), NOW);
    expect(nextDelayMs(1, outcome, policy, zero)).toBe(5_000);
  });
});

describe('decideNext', () => {
  const policy: RetryPolicy = {
    schedule: [5_000, 300_000],
    jitter: 0.2,
    retryAfterMaxMs: 120_000,
    inProcessMaxMs: 10_000,
  };
  const retryable: AttemptOutcome = { kind: 'retryable', reason: 'timeout' };
  const zero = (): number => 0;

  it('ends a delivered or permanently failed delivery', () => {
    expect(decideNext(1, { kind: 'delivered', status: 204 }, policy, zero)).toEqual({
      kind: 'final',
      reason: 'delivered',
    });
    expect(decideNext(1, { kind: 'permanent', reason: 'http_4xx', status: 404 }, policy, zero)).toEqual({
      kind: 'final',
      reason: 'permanent',
    });
  });

  it('ends a retryable failure after the last attempt as retries_exhausted', () => {
    expect(decideNext(3, retryable, policy, zero)).toEqual({ kind: 'final', reason: 'retries_exhausted' });
    expect(decideNext(1, retryable, { ...policy, schedule: [] }, zero)).toEqual({
      kind: 'final',
      reason: 'retries_exhausted',
    });
  });

  it('sleeps a wait up to inProcessMaxMs, parks a longer one', () => {
    expect(decideNext(1, retryable, policy, zero)).toEqual({ kind: 'sleep', delayMs: 5_000 });
    expect(decideNext(2, retryable, policy, zero)).toEqual({ kind: 'park', delayMs: 300_000 });
    // The boundary: exactly inProcessMaxMs sleeps, one more parks.
    expect(decideNext(1, retryable, { ...policy, inProcessMaxMs: 5_000 }, zero).kind).toBe('sleep');
    expect(decideNext(1, retryable, { ...policy, inProcessMaxMs: 4_999 }, zero).kind).toBe('park');
  });

  it('parks when Retry-After lengthens a short wait past inProcessMaxMs', () => {
    const outcome: AttemptOutcome = {
      kind: 'retryable',
      reason: 'http_429',
      status: 429,
      retryAfterMs: 60_000,
    };
    expect(decideNext(1, outcome, policy, zero)).toEqual({ kind: 'park', delayMs: 60_000 });
  });
});

describe('retrySchedule', () => {
  it('lists the waits before attempts 2..maxAttempts, without jitter', () => {
    const p: RetryPolicy = { schedule: [10, 20, 30], jitter: 0.5, retryAfterMaxMs: 0, inProcessMaxMs: 0 };
    expect(retrySchedule(p)).toEqual([10, 20, 30]);
    expect(retrySchedule({ ...p, schedule: [] })).toEqual([]);
  });

  it('is the upper bound of nextDelayMs for every attempt', () => {
    const p: RetryPolicy = {
      schedule: [300, 900, 2_700],
      jitter: 0.3,
      retryAfterMaxMs: 0,
      inProcessMaxMs: 0,
    };
    const retryable: AttemptOutcome = { kind: 'retryable', reason: 'timeout' };
    retrySchedule(p).forEach((d, i) => expect(nextDelayMs(i + 1, retryable, p, () => 0)).toBe(d));
  });
});

describe('inProcessPolicy', () => {
  const p: RetryPolicy = {
    schedule: [5_000, 10_000, 300_000, 1_000],
    jitter: 0.2,
    retryAfterMaxMs: 0,
    inProcessMaxMs: 10_000,
  };

  it('keeps the leading waits of at most inProcessMaxMs, up to the first longer one', () => {
    expect(inProcessPolicy(p).schedule).toEqual([5_000, 10_000]);
    expect(maxAttempts(inProcessPolicy(p))).toBe(3);
    expect(inProcessPolicy({ ...p, inProcessMaxMs: 1_000 }).schedule).toEqual([]);
  });

  it('returns a schedule that never parks unchanged', () => {
    const short = { ...p, schedule: [1, 2] };
    expect(inProcessPolicy(short)).toBe(short);
  });
});
