/**
 * Writes dead-letter records with an idempotent producer and acks=all, and does not give up: a write that
 * fails is retried with capped backoff until it is acknowledged or the caller aborts (shutdown). The record
 * it belongs to stays uncommitted meanwhile, so a broken dead-letter path loses nothing; it only stalls.
 */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { DeadLetterRecord } from './dead-letter-record.js';

export interface DeadLetterWriter {
  /** Resolves true once the broker acknowledged the record, false if aborted first. */
  write(record: DeadLetterRecord, signal?: AbortSignal): Promise<boolean>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface DeadLetterProducerOptions {
  readonly topic: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly onFailure?: (err: unknown) => void;
  readonly maxBackoffMs?: number;
}

export function createDeadLetterProducer(kafka: Kafka, o: DeadLetterProducerOptions): DeadLetterWriter {
  const producer: Producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 5,
    allowAutoTopicCreation: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const log = o.logger.child({ component: 'dead-letter' });
  const maxBackoff = o.maxBackoffMs ?? 30_000;
  return {
    start: () => producer.connect(),
    stop: () => producer.disconnect(),
    async write(record, signal) {
      for (let attempt = 1; ; attempt++) {
        try {
          await producer.send({ topic: o.topic, acks: -1, messages: [{ key: record.key, value: record.value, headers: record.headers }] });
          return true;
        } catch (err) {
          o.onFailure?.(err);
          log.error({ err, attempt, topic: o.topic }, 'dead-letter write failed; retrying');
          if (signal?.aborted) return false;
          await o.clock.sleep(Math.min(500 * 2 ** Math.min(attempt - 1, 10), maxBackoff), signal);
          if (signal?.aborted) return false;
        }
      }
    },
  };
}
