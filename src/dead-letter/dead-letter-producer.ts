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
    async write(original, signal) {
      let record = original;
      for (let attempt = 1; ; attempt++) {
        try {
          await producer.send({
            topic: o.topic,
            acks: -1,
            messages: [{ key: record.key, value: record.value, headers: record.headers }],
          });
          return true;
        } catch (err) {
          o.onFailure?.(err);
          if (isTooLarge(err) && record.value !== null) {
            // Permanent for this record: retrying the same bytes would stall its partition for ever. The
            // dead letter keeps every header (and the original's topic/partition/offset to find it by).
            log.error(
              { err, bytes: record.value.length, topic: o.topic },
              'dead letter too large for the topic; writing it without its value',
            );
            record = withoutValue(record);
            continue;
          }
          log.error({ err, attempt, topic: o.topic }, 'dead-letter write failed; retrying');
          if (signal?.aborted) return false;
          await o.clock.sleep(Math.min(500 * 2 ** Math.min(attempt - 1, 10), maxBackoff), signal);
          if (signal?.aborted) return false;
        }
      }
    },
  };
}

/** kafkajs reports MESSAGE_TOO_LARGE directly or wrapped by its retrier. */
function isTooLarge(err: unknown): boolean {
  for (let e = err as { type?: string; originalError?: unknown; cause?: unknown } | undefined; e;) {
    if (e.type === 'MESSAGE_TOO_LARGE' || e.type === 'RECORD_LIST_TOO_LARGE') return true;
    e = (e.originalError ?? e.cause) as typeof e;
  }
  return false;
}

export function withoutValue(r: DeadLetterRecord): DeadLetterRecord {
  return {
    key: r.key,
    value: null,
    headers: { ...r.headers, 'dlq-value-omitted': String(r.value?.length ?? 0) },
  };
}
