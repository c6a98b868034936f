import { describe, expect, it } from '@jest/globals';
import type { Kafka, Producer, ProducerConfig, ProducerRecord } from 'kafkajs';
import type { Clock } from '../../../src/clock.js';
import {
  createDeadLetterProducer,
  DEAD_LETTER_ATTEMPT_TIMEOUT_MS,
} from '../../../src/dead-letter/dead-letter-producer.js';
import type { DeadLetterRecord } from '../../../src/dead-letter/dead-letter-record.js';
import { createLogger } from '../../../src/logger.js';

const record: DeadLetterRecord = {
  key: Buffer.from('k'),
  value: Buffer.from('v'),
  headers: { 'dlq-reason': 'x' },
};

/** A kafkajs stand-in: records the producer's settings and answers each send from `answer`. */
function fakeKafka(answer: (r: ProducerRecord, n: number) => Promise<unknown>): {
  kafka: Kafka;
  config: () => ProducerConfig;
  sends: ProducerRecord[];
} {
  let config: ProducerConfig | undefined;
  const sends: ProducerRecord[] = [];
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    send: (r: ProducerRecord) => {
      sends.push(r);
      return answer(r, sends.length);
    },
  } as unknown as Producer;
  const kafka = {
    producer: (c: ProducerConfig) => {
      config = c;
      return producer;
    },
  } as unknown as Kafka;
  return { kafka, config: () => config!, sends };
}

/** Time that moves only when the test says; sleeps resolve when time reaches them (or on abort). */
class ManualClock implements Clock {
  private t = 0;
  private sleepers: { at: number; wake: () => void }[] = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      if (signal?.aborted) return resolve();
      const entry = { at: this.t + ms, wake: resolve };
      this.sleepers.push(entry);
      signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  }
  async advance(ms: number): Promise<void> {
    this.t += ms;
    for (const s of this.sleepers.filter((x) => x.at <= this.t)) s.wake();
    this.sleepers = this.sleepers.filter((x) => x.at > this.t);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
  }
}

const logger = createLogger('silent');
const never = (): Promise<never> => new Promise<never>(() => undefined);

describe('dead-letter producer settings', () => {
  it('is not idempotent (a lost answer must not make a later write a "duplicate"), acks=all, bounded retries', async () => {
    const f = fakeKafka(async () => [{ errorCode: 0 }]);
    const w = createDeadLetterProducer(f.kafka, { topic: 't.dlq', clock: new ManualClock(), logger });
    const c = f.config();
    expect(c.idempotent).toBe(false);
    expect(c.maxInFlightRequests).toBe(64);
    // kafkajs's own retries end within seconds; our loop retries for ever and counts each failure.
    expect(c.retry).toEqual({ retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 });
    expect(await w.write(record)).toBe(true);
    expect(f.sends[0]).toMatchObject({ topic: 't.dlq', acks: -1, timeout: DEAD_LETTER_ATTEMPT_TIMEOUT_MS });
  });
});

describe('dead-letter write', () => {
  it('counts an attempt that gets no answer within the attempt timeout as a failure, and tries again', async () => {
    const clock = new ManualClock();
    const failures: unknown[] = [];
    const f = fakeKafka((_r, n) => (n === 1 ? never() : Promise.resolve([])));
    const w = createDeadLetterProducer(f.kafka, {
      topic: 't.dlq',
      clock,
      logger,
      onFailure: (e) => failures.push(e),
    });
    let result: boolean | undefined;
    void w.write(record).then((r) => (result = r));
    await clock.advance(DEAD_LETTER_ATTEMPT_TIMEOUT_MS - 1);
    expect(failures).toHaveLength(0);
    await clock.advance(1);
    expect(failures).toHaveLength(1);
    expect(String(failures[0])).toContain('not acknowledged within');
    await clock.advance(500); // the first backoff
    expect(f.sends).toHaveLength(2);
    expect(result).toBe(true);
  });

  it('returns false as soon as it is aborted, even in the middle of a send that never ends', async () => {
    const clock = new ManualClock();
    const f = fakeKafka(never);
    const w = createDeadLetterProducer(f.kafka, { topic: 't.dlq', clock, logger });
    const controller = new AbortController();
    let result: boolean | undefined;
    void w.write(record, controller.signal).then((r) => (result = r));
    await clock.advance(10);
    expect(f.sends).toHaveLength(1);
    controller.abort();
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    expect(result).toBe(false);
  });

  it('a failed send is counted at once and retried after a backoff; an abort during the backoff ends the write', async () => {
    const clock = new ManualClock();
    const failures: unknown[] = [];
    const f = fakeKafka(() => Promise.reject(new Error('broker down')));
    const w = createDeadLetterProducer(f.kafka, {
      topic: 't.dlq',
      clock,
      logger,
      onFailure: (e) => failures.push(e),
    });
    const controller = new AbortController();
    let result: boolean | undefined;
    void w.write(record, controller.signal).then((r) => (result = r));
    await clock.advance(0);
    expect(failures).toHaveLength(1);
    await clock.advance(500);
    expect(failures).toHaveLength(2);
    controller.abort();
    for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r));
    expect(result).toBe(false);
  });
});
