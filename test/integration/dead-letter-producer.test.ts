/**
 * Issue 16 items 2 and 8: the dead-letter writer on the real broker, with the service's own kafkajs
 * settings (kafkaConfig). The property that matters: every dead letter whose write was acknowledged is in
 * the topic, also when a produce answer is lost after the broker appended it and other writes run at the
 * same time (kafkajs's idempotent producer rolls its sequence back then, and the next write reuses it and
 * is answered as a duplicate: acknowledged, never written). And a broken dead-letter path is noticed in
 * seconds (failure count) and an abort ends a write at once.
 */
import { afterAll, describe, expect, it } from '@jest/globals';
import { Kafka } from 'kafkajs';
import { systemClock } from '../../src/clock.js';
import { loadConfig } from '../../src/config.js';
import {
  createDeadLetterProducer,
  type DeadLetterWriter,
} from '../../src/dead-letter/dead-letter-producer.js';
import type { DeadLetterRecord } from '../../src/dead-letter/dead-letter-record.js';
import { kafkaConfig } from '../../src/kafka/create-kafka.js';
import { createLogger } from '../../src/logger.js';
import { KAFKA_BROKERS } from '../support/env.js';
import { faultySockets, type FaultySockets } from '../support/kafka-faults.js';
import { createTopic, readAll, uniqueName } from '../support/kafka.js';
import { waitFor } from '../support/wait.js';

const logger = createLogger('silent');
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

function serviceKafka(brokers: string, extra: Partial<ConstructorParameters<typeof Kafka>[0]> = {}): Kafka {
  return new Kafka({ ...kafkaConfig(loadConfig({ KAFKA_BROKERS: brokers }), logger), ...extra });
}

function writer(kafka: Kafka, topic: string, onFailure?: () => void): DeadLetterWriter {
  const w = createDeadLetterProducer(kafka, { topic, clock: systemClock, logger, onFailure });
  cleanups.push(() => w.stop());
  return w;
}

const letter = (id: string): DeadLetterRecord => ({
  key: Buffer.from(id),
  value: Buffer.from(`value of ${id}`),
  headers: { 'dlq-reason': 'http_4xx', 'dlq-webhook-id': `msg_${id}` },
});

/** The dead letters in `topic` now, by their webhook-id header. */
async function writtenIds(topic: string): Promise<string[]> {
  const records = await readAll(topic); // up to the end offsets as they are now
  return records.map((r) => r.headers['dlq-webhook-id']!);
}

async function faults(): Promise<FaultySockets> {
  const f = await faultySockets();
  cleanups.push(() => f.close());
  return f;
}

/**
 * A started writer to a new topic on the shared broker, its connections through faulty sockets (path
 * 'ok' for now), with one dead letter already acknowledged; `failures()` counts its failed writes.
 */
async function writerBehindFaults(
  prefix: string,
): Promise<{ topic: string; f: FaultySockets; w: DeadLetterWriter; failures: () => number }> {
  const topic = uniqueName(prefix);
  await createTopic(topic, 1);
  const f = await faults();
  let failures = 0;
  const w = writer(serviceKafka(KAFKA_BROKERS, { socketFactory: f.socketFactory }), topic, () => failures++);
  await w.start();
  expect(await w.write(letter('before'))).toBe(true);
  return { topic, f, w, failures: () => failures };
}

describe('dead-letter producer', () => {
  it('a produce answer lost after the append, with concurrent writes: every acknowledged dead letter is in the topic', async () => {
    const topic = uniqueName('dlq-lost-answer');
    await createTopic(topic, 1);
    const f = await faults();
    const w = writer(serviceKafka(KAFKA_BROKERS, { socketFactory: f.socketFactory }), topic);
    await w.start();
    expect(await w.write(letter('warm-up'))).toBe(true); // metadata and producer id in place

    f.loseNextProduceAnswer();
    const ids = ['a', 'b', 'c'];
    const acked = await Promise.all(ids.map((id) => w.write(letter(id))));
    expect(f.lostAnswers).toBe(1); // the fault happened: the first write's answer was lost
    expect(acked).toEqual([true, true, true]);

    const written = await writtenIds(topic);
    for (const id of ['warm-up', ...ids]) expect(written).toContain(`msg_${id}`);
  });

  it('400 concurrent writes over 3 partitions: each acknowledged one is readable', async () => {
    const topic = uniqueName('dlq-concurrent');
    await createTopic(topic, 3);
    const w = writer(serviceKafka(KAFKA_BROKERS), topic);
    await w.start();
    const ids = Array.from({ length: 400 }, (_, i) => `c${i}`);
    const acked = await Promise.all(ids.map((id) => w.write(letter(id))));
    expect(acked.every(Boolean)).toBe(true);
    expect(new Set(await writtenIds(topic))).toEqual(new Set(ids.map((id) => `msg_${id}`)));
  });

  it('broker connections refused after start: a failed write is counted within seconds, an abort ends it at once', async () => {
    const { f, w, failures } = await writerBehindFaults('dlq-refused');
    await f.setPath('refused');
    const controller = new AbortController();
    const started = Date.now();
    const writing = w.write(letter('x'), controller.signal);
    await waitFor(() => failures() >= 1, {
      timeoutMs: 20_000,
      message: 'a failed dead-letter write counted',
    });
    const firstFailureMs = Date.now() - started;
    controller.abort();
    const abortedAt = Date.now();
    await expect(writing).resolves.toBe(false);
    expect(Date.now() - abortedAt).toBeLessThan(500);
    expect(firstFailureMs).toBeLessThan(10_000);
  });

  it('a broker that accepts connections and never answers: failures counted within seconds, an abort ends a send at once', async () => {
    const { topic, f, w, failures } = await writerBehindFaults('dlq-hung');
    await f.setPath('hung');
    const started = Date.now();
    const first = w.write(letter('y'));
    await waitFor(() => failures() >= 1, {
      timeoutMs: 20_000,
      message: 'a failed dead-letter write counted',
    });
    expect(Date.now() - started).toBeLessThan(15_000);
    // A second write, aborted while kafkajs waits for an answer that never comes.
    const controller = new AbortController();
    const sentBefore = f.bytesToHungBroker;
    const second = w.write(letter('z'), controller.signal);
    await waitFor(() => f.bytesToHungBroker > sentBefore, {
      timeoutMs: 10_000,
      message: 'a request to the hung broker',
    });
    controller.abort();
    const abortedAt = Date.now();
    await expect(second).resolves.toBe(false);
    expect(Date.now() - abortedAt).toBeLessThan(500);
    // The path comes back: the first write (never aborted) is acknowledged and readable.
    await f.setPath('ok');
    await expect(first).resolves.toBe(true);
    expect(await writtenIds(topic)).toContain('msg_y');
  });
});
