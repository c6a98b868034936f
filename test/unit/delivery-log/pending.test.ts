import { describe, expect, it } from '@jest/globals';
import { PendingAttempts, RecentKeys } from '../../../src/delivery-log/pending.js';
import type { AttemptRow, MessageRow } from '../../../src/delivery-log/rows.js';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-01T12:00:00Z');

function attempt(key: string, at = T0, n = 1): AttemptRow {
  return {
    attemptedAt: at,
    webhookId: `msg_${key}`,
    messageKey: key,
    subscriptionId: 's1',
    idProject: 'P1',
    subscriptionGlobal: false,
    eventName: 'request.create',
    target: 'https://example.com/',
    attempt: n,
    trigger: 'scheduled',
    result: 'delivered',
    reason: null,
    statusCode: 200,
    durationMs: 3,
    error: null,
    responseExcerpt: null,
    instance: 'h:1:abc',
  };
}

const message =
  (key: string, at = T0) =>
  (): MessageRow =>
    ({ loggedAt: at, messageKey: key }) as unknown as MessageRow;

describe('RecentKeys', () => {
  it('remembers at least the last max / 2 keys and at most max', () => {
    const k = new RecentKeys<number>(4);
    for (let i = 0; i < 10; i++) k.set(`k${i}`, i);
    // Generations of two: {k8, k9} and {k6, k7}.
    expect([5, 6, 7, 8, 9].map((i) => k.get(`k${i}`))).toEqual([undefined, 6, 7, 8, 9]);
    k.set('k9', 90); // an update in place does not start a generation
    expect(k.get('k8')).toBe(8);
    expect(k.get('k9')).toBe(90);
    expect(() => new RecentKeys(0)).toThrow(RangeError);
  });
});

describe('PendingAttempts', () => {
  it('never holds more than maxPending: past it, offers are refused', () => {
    const p = new PendingAttempts(3, 100);
    expect([1, 2, 3, 4, 5].map((i) => p.offer(attempt(`k${i}`), message(`k${i}`)))).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(p.size).toBe(3);
    p.remove(2);
    expect(p.offer(attempt('k6'), message('k6'))).toBe(true);
    expect(p.peek(10).map((e) => e.attempt.messageKey)).toEqual(['k3', 'k6']);
  });

  it('hands out batches oldest first and keeps them until removed (a failed write retries them)', () => {
    const p = new PendingAttempts(1_000, 100);
    for (let i = 0; i < 25; i++) p.offer(attempt(`k${i}`), message(`k${i}`));
    const first = p.peek(10);
    expect(first.map((e) => e.attempt.messageKey)).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`));
    expect(p.peek(10)).toEqual(first);
    p.remove(10);
    expect(p.peek(10)[0]!.attempt.messageKey).toBe('k10');
    p.remove(100);
    expect(p.size).toBe(0);
    expect(p.peek(10)).toEqual([]);
  });

  it('keeps FIFO order across its internal compaction', () => {
    const p = new PendingAttempts(10_000, 10);
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) p.offer(attempt(`k${next++}`), message('x'));
      const batch = p.peek(90);
      for (const e of batch) expect(e.attempt.messageKey).toBe(`k${expected++}`);
      p.remove(batch.length);
    }
    expect(p.size).toBe(next - expected);
  });

  it('attaches an event message to its first accepted attempt only, once per UTC day', () => {
    const p = new PendingAttempts(100, 100);
    let built = 0;
    const counted =
      (key: string, at = T0) =>
      () => {
        built++;
        return message(key, at)();
      };
    p.offer(attempt('a', T0, 1), counted('a'));
    p.offer(attempt('a', T0 + 1_000, 2), counted('a'));
    p.offer(attempt('b', T0), counted('b'));
    // The next UTC day: its partition gets the message again (retention drops days whole).
    p.offer(attempt('a', T0 + DAY, 3), counted('a', T0 + DAY));
    expect(p.peek(10).map((e) => e.message !== undefined)).toEqual([true, false, true, true]);
    expect(built).toBe(3);
  });

  it('a dropped attempt leaves no message behind: the next accepted one carries it', () => {
    const p = new PendingAttempts(1, 100);
    p.offer(attempt('a'), message('a'));
    expect(p.offer(attempt('b'), message('b'))).toBe(false);
    p.remove(1);
    p.offer(attempt('b'), message('b'));
    expect(p.peek(1)[0]!.message).toBeDefined();
  });

  it('knows an event object it logged without the key cache: fan-out and in-process retries log it once', () => {
    // A key cache of one entry, which the first attempts below do not even use.
    const p = new PendingAttempts(100, 1);
    const e1 = {};
    const e2 = {};
    p.offer(attempt('a', T0, 1), message('a'), e1); // first scheduled attempt of a new object: logged
    p.offer(attempt('b', T0, 1), message('b'), e2);
    p.offer(attempt('a', T0, 1), message('a'), e1); // another subscription's delivery of the same event
    p.offer(attempt('a', T0 + 1_000, 2), message('a'), e1); // its in-process retry
    p.offer(attempt('b', T0 + DAY, 2), message('b', T0 + DAY), e2); // the next UTC day: logged again
    expect(p.peek(10).map((e) => e.message !== undefined)).toEqual([true, true, false, false, true]);
  });

  it('asks the key cache for attempts whose event object is new but not a first scheduled attempt', () => {
    const p = new PendingAttempts(100, 100);
    // The parked runner rebuilds events from rows: a new object per claim, attempt 2 and later.
    p.offer(attempt('a', T0, 2), message('a'), {});
    p.offer(attempt('a', T0, 3), message('a'), {});
    // A manual re-send of a first attempt is not taken for a new event either.
    p.offer({ ...attempt('a', T0, 1), trigger: 'manual' }, message('a'), {});
    // A first scheduled attempt of a new object is logged as a new event: a record consumed again after a
    // rebalance logs its event once more (readers take any copy).
    p.offer(attempt('a', T0, 1), message('a'), {});
    // Its key is not remembered (the in-process path touches no key memory): the runner's first retry of
    // that delivery queues the event's row again, unsure (written only if its day has none); its next
    // retries none.
    p.offer(attempt('b', T0, 1), message('b'), {});
    p.offer(attempt('b', T0, 2), message('b'), {});
    p.offer(attempt('b', T0, 3), message('b'), {});
    expect(p.peek(10).map((e) => [e.message !== undefined, e.unsure === true])).toEqual([
      [true, true],
      [false, false],
      [false, false],
      [true, false],
      [true, false],
      [true, true],
      [false, false],
    ]);
  });

  it('forgets keys past its bound (two generations of max / 2)', () => {
    const p = new PendingAttempts(100, 2);
    for (const k of ['a', 'b', 'c', 'a']) p.offer(attempt(k), message(k));
    expect(p.peek(10).map((e) => e.message !== undefined)).toEqual([true, true, true, true]);
  });
});
