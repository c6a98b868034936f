/**
 * A delivery's end, wherever it ran (the consumer's pipeline or the parked runner): delivered is counted;
 * failed is dead-lettered (the original record with the `dlq-*` headers) and counted once acknowledged.
 */
import type { InboundRecord, TiledeskEvent } from '../events/event.js';
import type { DeliveryOutcome } from '../delivery/deliver.js';
import type { Logger } from '../logger.js';
import { statusClass, type Metrics } from '../metrics/metrics.js';
import type { DeadLetterWriter } from './dead-letter-producer.js';
import { buildDeadLetterRecord, type DeadLetterInfo } from './dead-letter-record.js';
import { deadLetterCode } from './dead-letter-reasons.js';

export interface SettleDeps {
  readonly deadLetters: DeadLetterWriter;
  readonly metrics: Metrics;
  readonly logger: Logger;
}

/** True when the delivery is over for good (delivered, or its dead letter acknowledged). */
export async function settleDelivery(
  rec: InboundRecord,
  event: TiledeskEvent,
  sub: { readonly id: string; readonly target: string },
  outcome: Extract<DeliveryOutcome, { kind: 'delivered' | 'failed' }>,
  d: SettleDeps,
  signal?: AbortSignal,
): Promise<boolean> {
  d.metrics.attemptsPerDelivery.observe({ outcome: outcome.kind }, outcome.attempts);
  if (outcome.kind === 'delivered') {
    d.metrics.deliveries.inc({ outcome: 'delivered', status_class: statusClass(outcome.status) });
    d.metrics.endToEndLatency.observe(Math.max(0, outcome.lastAttemptAt - event.timestamp) / 1000);
    return true;
  }
  const info: DeadLetterInfo = {
    reason: outcome.reason,
    error: outcome.lastError,
    eventId: event.id,
    event: event.event,
    subscriptionId: sub.id,
    target: sub.target,
    webhookId: outcome.webhookId,
    attempts: outcome.attempts,
    lastStatus: outcome.lastStatus,
    firstAttemptAt: outcome.firstAttemptAt,
    lastAttemptAt: outcome.lastAttemptAt,
  };
  const written = await writeDeadLetter(rec, info, d, signal);
  if (written) {
    d.metrics.deliveries.inc({ outcome: 'dead_lettered', status_class: statusClass(outcome.lastStatus) });
  }
  return written;
}

/** Writes the dead letter; true once acknowledged (false: aborted or the topic unavailable until then). */
export async function writeDeadLetter(
  rec: InboundRecord,
  info: DeadLetterInfo,
  d: SettleDeps,
  signal?: AbortSignal,
): Promise<boolean> {
  const ok = await d.deadLetters.write(buildDeadLetterRecord(rec, info), signal);
  if (ok) {
    d.metrics.deadLetters.inc({ reason: info.reason });
    d.logger.warn(
      {
        code: deadLetterCode(info.reason),
        reason: info.reason,
        error: info.error,
        event: info.event,
        eventId: info.eventId,
        subscriptionId: info.subscriptionId,
        attempts: info.attempts,
        lastStatus: info.lastStatus,
        topic: rec.topic,
        partition: rec.partition,
        offset: rec.offset,
      },
      'dead-lettered',
    );
  }
  return ok;
}
