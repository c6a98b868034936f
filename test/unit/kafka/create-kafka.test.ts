/**
 * The kafkajs client settings that decide recovery: how fast it reconnects after a broker outage, and what
 * becomes of kafkajs's own report of an out-of-range position (a warning and a metric).
 */
import { describe, expect, it } from '@jest/globals';
import { Writable } from 'node:stream';
import { logLevel } from 'kafkajs';
import pino from 'pino';
import { Registry } from 'prom-client';
import { kafkaConfig, kafkaLogCreator } from '../../../src/kafka/create-kafka.js';
import { createMetrics } from '../../../src/metrics/metrics.js';

const settings = {
  KAFKA_BROKERS: ['127.0.0.1:9092'],
  KAFKA_CLIENT_ID: 'test',
  KAFKA_SSL: false,
  KAFKA_SSL_CA_FILE: '',
  KAFKA_SSL_CERT_FILE: '',
  KAFKA_SSL_KEY_FILE: '',
  KAFKA_SASL_MECHANISM: '',
  KAFKA_SASL_USERNAME: '',
  KAFKA_SASL_PASSWORD: '',
} as const;

function capture(): { logger: pino.Logger; lines: () => Record<string, unknown>[] } {
  const out: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out.push(chunk.toString('utf8'));
      cb();
    },
  });
  return {
    logger: pino({ level: 'debug' }, sink),
    lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('kafkaConfig', () => {
  it('reconnects at most 1 s apart, so a broker back from an outage is used within a second', () => {
    const retry = kafkaConfig(settings, pino({ level: 'silent' })).retry!;
    expect(retry.maxRetryTime).toBeLessThanOrEqual(1_000);
    expect(retry.initialRetryTime).toBeLessThanOrEqual(300);
  });

  it('rides out a ~1 min outage before giving up (a consumer that gives up rejoins as a new member)', () => {
    const {
      initialRetryTime = 0,
      maxRetryTime = 0,
      retries = 0,
    } = kafkaConfig(settings, pino({ level: 'silent' })).retry!;
    let total = 0;
    for (let i = 0, wait = initialRetryTime; i < retries; i++, wait = Math.min(wait * 2, maxRetryTime)) {
      total += wait;
    }
    expect(total).toBeGreaterThanOrEqual(55_000);
  });
});

describe('kafkaLogCreator', () => {
  it("turns kafkajs's out-of-range reset into a warning and counts it", async () => {
    const { logger, lines } = capture();
    const metrics = createMetrics(new Registry(), { defaultMetrics: false });
    const log = kafkaLogCreator(logger, metrics)();
    log({
      namespace: 'ConsumerGroup',
      level: logLevel.ERROR,
      label: 'ERROR',
      log: {
        timestamp: '',
        message: 'Offset out of range, resetting to default offset',
        topic: 't',
        partition: 3,
        groupId: 'g',
      },
    });
    const [line] = lines();
    expect(line).toMatchObject({ level: 40, topic: 't', partition: 3, groupId: 'g' });
    expect(String(line!.msg)).toMatch(/earliest retained offset/);
    const values = (await metrics.offsetResets.get()).values;
    expect(values.find((v) => v.labels.reason === 'out_of_range')?.value).toBe(1);
  });
});
