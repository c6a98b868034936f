import { describe, expect, it } from '@jest/globals';
import type { EncodedBatch } from '../../../src/delivery-log/log-sql.js';
import {
  ENCODER_KEEP_BYTES,
  LoggedEvents,
  PendingAttempts,
  RecentKeys,
  type PendingOptions,
} from '../../../src/delivery-log/pending.js';
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
  (key: string, at = T0, value: Buffer = Buffer.from('{"n":1}')) =>
  (): MessageRow => ({
    loggedAt: at,
    messageKey: key,
    event: {
      id: `ev-${key}`,
      event: 'request.create',
      idProject: 'P1',
      timestamp: at,
      payload: value,
      encoding: 'json',
    },
    record: { topic: 't', partition: 0, offset: '1', timestamp: String(at), key: null, value, headers: {} },
  });

/** The rows of a binary COPY input, each a list of its fields (null for SQL null). */
function rowsOf(input: Buffer | null): (Buffer | null)[][] {
  if (input === null) return [];
  expect(input.subarray(0, 11).toString('latin1')).toBe('PGCOPY\n\xff\r\n\0');
  const rows: (Buffer | null)[][] = [];
  let at = 19;
  for (let fields = input.readInt16BE(at); fields !== -1; fields = input.readInt16BE(at)) {
    at += 2;
    const row: (Buffer | null)[] = [];
    for (let f = 0; f < fields; f++) {
      const n = input.readInt32BE(at);
      at += 4;
      row.push(n < 0 ? null : input.subarray(at, at + n));
      at += Math.max(0, n);
    }
    rows.push(row);
  }
  expect(at + 2).toBe(input.length);
  return rows;
}

/** The message_key of each attempt row, and of each event row (new and unsure), in a sealed batch. */
function keysOf(e: EncodedBatch): { attempts: string[]; messages: string[]; unsure: string[] } {
  const key = (r: (Buffer | null)[], i: number): string => r[i]!.toString();
  return {
    attempts: rowsOf(e.attempts).map((r) => key(r, 2)),
    messages: rowsOf(e.messages).map((r) => key(r, 1)),
    unsure: rowsOf(e.unsure).map((r) => key(r, 1)),
  };
}

const options = (o: Partial<PendingOptions> = {}): PendingOptions => ({
  maxPending: 100,
  batch: 10,
  instance: 'h:1:abc',
  keys: 100,
  ...o,
});

/** Seals what is open and returns every queued batch's keys, oldest first, removing them. */
function drain(p: PendingAttempts): ReturnType<typeof keysOf>[] {
  p.seal();
  const out: ReturnType<typeof keysOf>[] = [];
  for (let b = p.peek(); b !== undefined; b = p.peek()) {
    out.push(keysOf(b.seal()));
    p.remove();
  }
  return out;
}

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
    const p = new PendingAttempts(options({ maxPending: 3, batch: 2 }));
    expect([1, 2, 3, 4, 5].map((i) => p.offer(attempt(`k${i}`), message(`k${i}`)))).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(p.size).toBe(3);
    p.remove(); // the full batch k1, k2
    expect(p.size).toBe(1);
    expect(p.offer(attempt('k6'), message('k6'))).toBe(true);
    expect(drain(p).map((b) => b.attempts)).toEqual([['k3', 'k6']]);
    expect(p.size).toBe(0);
  });

  it('seals a batch when full, hands batches out oldest first and keeps one until removed', () => {
    const p = new PendingAttempts(options({ maxPending: 1_000, batch: 10 }));
    for (let i = 0; i < 25; i++) p.offer(attempt(`k${i}`), message(`k${i}`));
    expect(p.hasFull).toBe(true);
    const first = p.peek()!;
    // A failed write retries the batch as it is: the same bytes on every seal.
    const bytes = Buffer.from(first.seal().attempts);
    expect(p.peek()).toBe(first);
    expect(first.seal().attempts.equals(bytes)).toBe(true);
    expect(keysOf(first.seal()).attempts).toEqual(Array.from({ length: 10 }, (_, i) => `k${i}`));
    p.remove();
    expect(keysOf(p.peek()!.seal()).attempts[0]).toBe('k10');
    p.remove();
    // Five left in the open batch, out only when flushed.
    expect(p.hasFull).toBe(false);
    expect(p.peek()).toBeUndefined();
    expect(p.size).toBe(5);
    expect(drain(p).map((b) => b.attempts.length)).toEqual([5]);
  });

  it('reuses the memory of written batches and keeps every row intact across reuse', () => {
    const p = new PendingAttempts(options({ maxPending: 10_000, batch: 90 }));
    const held = p.capacity;
    let next = 0;
    let expected = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 100; i++) p.offer(attempt(`k${next}`), message(`k${next++}`), {});
      for (let b = p.peek(); b !== undefined; b = p.peek()) {
        const keys = keysOf(b.seal());
        for (const k of keys.attempts) expect(k).toBe(`k${expected++}`);
        expect(keys.messages).toEqual(keys.attempts);
        p.remove();
      }
    }
    expect(p.size).toBe(next - expected);
    expect(p.capacity).toBe(held);
  });

  it('lets go of a batch grown past the bound, and of one whose write failed', () => {
    const p = new PendingAttempts(options({ maxPending: 100, batch: 2 }));
    const held = p.capacity;
    p.offer(attempt('big'), message('big', T0, Buffer.alloc(ENCODER_KEEP_BYTES + 1, 'x')), {});
    expect(p.capacity).toBeGreaterThan(ENCODER_KEEP_BYTES);
    const keys = drain(p);
    expect(keys).toEqual([{ attempts: ['big'], messages: ['big'], unsure: [] }]);
    expect(p.capacity).toBeLessThanOrEqual(held);
    p.offer(attempt('a'), message('a'));
    p.offer(attempt('b'), message('b'));
    const failed = p.peek()!;
    failed.failed = true;
    p.remove();
    // Not taken back: the open batch and the spares are other objects.
    for (let i = 0; i < 10; i++) {
      p.offer(attempt(`c${i}`), message(`c${i}`));
      expect(p.peek() ?? null).not.toBe(failed);
      p.remove();
    }
  });

  it('a sealed batch takes no rows', () => {
    const p = new PendingAttempts(options({ batch: 1 }));
    p.offer(attempt('a'), message('a'));
    const b = p.peek()!;
    expect(() => b.add(attempt('b'), undefined, false, Buffer.from('i'))).toThrow(/sealed/);
  });

  it('records the UTC days of its attempts: the partitions a write needs', () => {
    const p = new PendingAttempts(options({ batch: 5 }));
    for (const at of [T0, T0 + 1, T0 + DAY, T0 + 2, T0 + DAY + 5]) {
      p.offer(attempt(`k${at}`, at), message('x', at));
    }
    expect(p.peek()!.days).toEqual([T0, T0 + DAY]);
  });

  it('a dropped attempt leaves no message behind: the next accepted one carries it', () => {
    const p = new PendingAttempts(options({ maxPending: 1, batch: 1 }));
    p.offer(attempt('a'), message('a'), {});
    const e = {};
    expect(p.offer(attempt('b'), message('b'), e)).toBe(false);
    p.remove();
    p.offer(attempt('b'), message('b'), e);
    expect(drain(p)).toEqual([{ attempts: ['b'], messages: ['b'], unsure: [] }]);
  });

  it('encodes a message row only for the attempts that carry one', () => {
    const p = new PendingAttempts(options({ batch: 100 }));
    let built = 0;
    const counted = (key: string) => () => {
      built++;
      return message(key)();
    };
    const e = {};
    p.offer(attempt('a', T0, 1), counted('a'), e);
    p.offer(attempt('a', T0, 1), counted('a'), e);
    p.offer(attempt('a', T0 + 1, 2), counted('a'), e);
    p.offer(attempt('z', T0, 2), counted('z'));
    expect(built).toBe(2);
    expect(drain(p)).toEqual([{ attempts: ['a', 'a', 'a', 'z'], messages: ['a'], unsure: ['z'] }]);
  });

  it('clear drops everything queued and says how much', () => {
    const p = new PendingAttempts(options({ batch: 4 }));
    for (let i = 0; i < 10; i++) p.offer(attempt(`k${i}`), message(`k${i}`));
    // A batch being written when a stop gives up: dropped, never filled again.
    const inFlight = p.peek();
    expect(p.clear()).toBe(10);
    expect(p.size).toBe(0);
    expect(p.peek()).toBeUndefined();
    expect(drain(p)).toEqual([]);
    for (let i = 0; i < 12; i++) {
      p.offer(attempt(`n${i}`), message(`n${i}`));
      expect(p.peek() ?? null).not.toBe(inFlight);
      if (p.hasFull) p.remove();
    }
  });
});

describe('LoggedEvents', () => {
  it('attaches an event message to its first accepted attempt only, once per UTC day', () => {
    const l = new LoggedEvents(100);
    expect([
      l.rowFor(attempt('a', T0, 1)),
      l.rowFor(attempt('a', T0 + 1_000, 2)),
      l.rowFor(attempt('b', T0)),
      // The next UTC day: its partition gets the message again (retention drops days whole).
      l.rowFor(attempt('a', T0 + DAY, 3)),
    ]).toEqual(['unsure', 'none', 'unsure', 'unsure']);
  });

  it('knows an event object it logged without the key cache: fan-out and in-process retries log it once', () => {
    // A key cache of one entry, which the first attempts below do not even use.
    const l = new LoggedEvents(1);
    const e1 = {};
    const e2 = {};
    expect([
      l.rowFor(attempt('a', T0, 1), e1), // first scheduled attempt of a new object: logged
      l.rowFor(attempt('b', T0, 1), e2),
      l.rowFor(attempt('a', T0, 1), e1), // another subscription's delivery of the same event
      l.rowFor(attempt('a', T0 + 1_000, 2), e1), // its in-process retry
      l.rowFor(attempt('b', T0 + DAY, 2), e2), // the next UTC day: logged again
    ]).toEqual(['new', 'new', 'none', 'none', 'unsure']);
  });

  it('asks the key cache for attempts whose event object is new but not a first scheduled attempt', () => {
    const l = new LoggedEvents(100);
    expect([
      // The parked runner rebuilds events from rows: a new object per claim, attempt 2 and later.
      l.rowFor(attempt('a', T0, 2), {}),
      l.rowFor(attempt('a', T0, 3), {}),
      // A manual re-send of a first attempt is not taken for a new event either.
      l.rowFor({ ...attempt('a', T0, 1), trigger: 'manual' }, {}),
      // A first scheduled attempt of a new object is logged as a new event: a record consumed again after a
      // rebalance logs its event once more (readers take any copy).
      l.rowFor(attempt('a', T0, 1), {}),
      // Its key is not remembered (the in-process path touches no key memory): the runner's first retry of
      // that delivery queues the event's row again, unsure (written only if its day has none); its next
      // retries none.
      l.rowFor(attempt('b', T0, 1), {}),
      l.rowFor(attempt('b', T0, 2), {}),
      l.rowFor(attempt('b', T0, 3), {}),
    ]).toEqual(['unsure', 'none', 'none', 'new', 'new', 'unsure', 'none']);
  });

  it('forgets keys past its bound (two generations of max / 2)', () => {
    const l = new LoggedEvents(2);
    expect(['a', 'b', 'c', 'a'].map((k) => l.rowFor(attempt(k)))).toEqual([
      'unsure',
      'unsure',
      'unsure',
      'unsure',
    ]);
  });
});
