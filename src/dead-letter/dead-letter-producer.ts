/**
 * Writes dead-letter records with acks=all and does not give up: a write that fails is retried with capped
 * backoff until it is acknowledged or the caller aborts (shutdown, revocation). The record it belongs to
 * stays uncommitted meanwhile, so a broken dead-letter path loses nothing; it only stalls.
 *
 * Not idempotent, on purpose. kafkajs's idempotent producer rolls a partition's sequence number back when a
 * produce request fails, even when the broker appended the batch before the failure reached us (a timeout,
 * a reset connection): the next write to that partition, often a concurrent dead letter waiting on the
 * same broker lock, reuses the sequence, the broker answers it as a duplicate of the appended batch, and
 * that dead letter is acknowledged but never written while its record is committed (a loss; shown by
 * test/integration/dead-letter-producer.test.ts; the rollback is in kafkajs's sendMessages.js, added
 * with an open question on failed requests in https://github.com/tulios/kafkajs/pull/1050, the fix of
 * https://github.com/tulios/kafkajs/issues/1005 for concurrent idempotent sends). Without
 * idempotence the same fault writes the first dead letter twice: a duplicate, which is harmless
 * (replay and DLQ consumers dedupe by webhook-id; the README says so). Dead letters are independent
 * records, so reordering by retries does not matter either. In flight: up to 64 requests per connection,
 * so a burst of dead letters (a receiver answering 404 to everything) pipelines instead of queueing behind
 * a few round-trips and running into the attempt timeout: 2,000 concurrent 1 KiB writes on the test broker
 * took 1.9-3.3 s with 5 in flight (4 runs), 1.3-2.4 s with 64 (2 runs), 0.8-1.6 s unbounded (4 runs), on a
 * shared 2-core machine; 64 keeps a bound on what one connection holds while a broker stalls.
 *
 * Each attempt is bounded: kafkajs retries at most twice within about a second, and an attempt with no
 * answer after DEAD_LETTER_ATTEMPT_TIMEOUT_MS is given up (and counted) by us, so a broken path shows in
 * `dead_letter_publish_failures_total` within seconds, not after kafkajs's minutes of backoff; an abort
 * ends a write at once, even inside a send (a send left behind may still land: a duplicate).
 */
import { Partitioners, type Kafka, type Producer } from 'kafkajs';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import type { DeadLetterRecord } from './dead-letter-record.js';

/** Longest wait for one attempt's acknowledgement (also the broker's ack timeout for the request). */
export const DEAD_LETTER_ATTEMPT_TIMEOUT_MS = 5_000;

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
    idempotent: false,
    maxInFlightRequests: 64,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
    allowAutoTopicCreation: true,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const log = o.logger.child({ component: 'dead-letter' });
  const maxBackoff = o.maxBackoffMs ?? 30_000;

  /** One send, raced with the attempt timeout and the abort: 'sent', 'aborted', or it throws. */
  async function sendOnce(record: DeadLetterRecord, signal?: AbortSignal): Promise<'sent' | 'aborted'> {
    const sending = producer.send({
      topic: o.topic,
      acks: -1,
      timeout: DEAD_LETTER_ATTEMPT_TIMEOUT_MS,
      messages: [{ key: record.key, value: record.value, headers: record.headers }],
    });
    sending.catch(() => undefined); // a send left behind (timeout, abort) must not be an unhandled rejection
    const done = new AbortController();
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([
        sending.then(() => 'sent' as const),
        o.clock.sleep(DEAD_LETTER_ATTEMPT_TIMEOUT_MS, done.signal).then(() => {
          if (done.signal.aborted) return 'aborted' as const; // the race is already over
          throw new Error(`dead-letter write not acknowledged within ${DEAD_LETTER_ATTEMPT_TIMEOUT_MS} ms`);
        }),
        new Promise<'aborted'>((resolve) => {
          if (signal === undefined) return;
          onAbort = () => resolve('aborted');
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      done.abort();
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  return {
    start: () => producer.connect(),
    stop: () => producer.disconnect(),
    async write(original, signal) {
      let record = original;
      for (let attempt = 1; ; attempt++) {
        if (signal?.aborted) return false;
        try {
          if ((await sendOnce(record, signal)) === 'aborted') return false;
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
