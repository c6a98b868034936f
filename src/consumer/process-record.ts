/**
 * One record's whole trip: decode → match → deliver to every matching subscription (each in its lane) →
 * dead-letter what failed. Resolves `done` only when every delivery got a 2xx or its dead letter was
 * acknowledged (or the record was poison and its dead letter acknowledged, or it matched nothing);
 * `aborted` when shutdown or revocation interrupted it — then the record must not be committed.
 * Never rejects for a delivery, decode or dead-letter failure.
 */
import type { Clock } from '../clock.js';
import { isConnectorError, ErrorCode } from '../errors.js';
import { isRegistryFramed, type DecodeResult } from '../events/decode-record.js';
import type { RecordCoordinates, TiledeskEvent } from '../events/event.js';
import { deliver, type DeliverDeps, type DeliveryOutcome } from '../delivery/deliver.js';
import {
  buildDeadLetterRecord,
  type DeadLetterInfo,
  type InboundRecord,
} from '../dead-letter/dead-letter-record.js';
import type { DeadLetterWriter } from '../dead-letter/dead-letter-producer.js';
import type { Logger } from '../logger.js';
import { eventFamily, statusClass, type Metrics } from '../metrics/metrics.js';
import type { Subscription, SubscriptionIndex } from '../subscriptions/types.js';
import type { Lanes } from './lanes.js';
import type { Outages } from './outages.js';

export type RecordResult = 'done' | 'aborted';

export interface PipelineDeps {
  readonly decode: (value: Buffer | null, at: RecordCoordinates) => Promise<DecodeResult>;
  /** The current snapshot, or null while it is too stale to use (the caller waits). */
  readonly subscriptions: () => SubscriptionIndex | null;
  readonly deliverDeps: DeliverDeps;
  /** Delivery lanes: (record key, subscription). */
  readonly lanes: Lanes;
  /** Intake lanes: record key. Decoding and matching run in record order per key, so a record whose
   * decode waits (schema lookup, outage) is never overtaken by a later record with the same key. */
  readonly keyLanes: Lanes;
  readonly deadLetters: DeadLetterWriter;
  readonly outages: Outages;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Poll interval while a dependency of ours is down. */
  readonly outageRetryMs?: number;
}

export async function processRecord(
  rec: InboundRecord,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<RecordResult> {
  const key = rec.key === null ? null : rec.key.toString('latin1');
  // Only the intake (decode, match, queueing the deliveries) holds the key lane; the deliveries then run
  // in their own (key, subscription) lanes, queued in record order.
  const intake = await d.keyLanes.run(key, () => intakeRecord(rec, key, d, signal));
  if (intake === 'done' || intake === 'aborted') return intake;
  const results = await Promise.all(intake);
  return results.every((r) => r === 'done') ? 'done' : 'aborted';
}

async function intakeRecord(
  rec: InboundRecord,
  key: string | null,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<RecordResult | Promise<RecordResult>[]> {
  const decoded = await decodeWithOutageRetry(rec, d, signal);
  if (decoded === null) return 'aborted';
  if (!decoded.ok) {
    d.metrics.eventsPoison.inc({ reason: decoded.reason });
    return (await deadLetter(rec, { reason: decoded.reason, error: decoded.message }, d, signal))
      ? 'done'
      : 'aborted';
  }
  const event = decoded.event;
  d.metrics.eventsConsumed.inc({ event_family: eventFamily(event.event) });
  const index = await snapshotWhenUsable(d, signal);
  if (index === null) return 'aborted';
  const subs = index.match(event.event, event.idProject);
  if (subs.length === 0) {
    d.metrics.eventsUnmatched.inc({ event_family: eventFamily(event.event) });
    return 'done';
  }
  return subs.map((sub) =>
    d.lanes.run(key === null ? null : `${sub.id}\u0000${key}`, () => deliverOne(rec, event, sub, d, signal)),
  );
}

async function deliverOne(
  rec: InboundRecord,
  event: TiledeskEvent,
  sub: Subscription,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<RecordResult> {
  if (signal.aborted) return 'aborted';
  d.metrics.inFlightDeliveries.inc();
  let outcome: DeliveryOutcome;
  try {
    outcome = await deliver(event, sub, d.deliverDeps, signal);
  } finally {
    d.metrics.inFlightDeliveries.dec();
  }
  if (outcome.kind === 'aborted') return 'aborted';
  d.metrics.attemptsPerDelivery.observe({ outcome: outcome.kind }, outcome.attempts);
  if (outcome.kind === 'delivered') {
    d.metrics.deliveries.inc({ outcome: 'delivered', status_class: statusClass(outcome.status) });
    d.metrics.endToEndLatency.observe(Math.max(0, outcome.lastAttemptAt - event.timestamp) / 1000);
    return 'done';
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
  const written = await deadLetter(rec, info, d, signal);
  if (written) {
    d.metrics.deliveries.inc({ outcome: 'dead_lettered', status_class: statusClass(outcome.lastStatus) });
  }
  return written ? 'done' : 'aborted';
}

async function deadLetter(
  rec: InboundRecord,
  info: DeadLetterInfo,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<boolean> {
  const ok = await d.deadLetters.write(buildDeadLetterRecord(rec, info), signal);
  if (ok) {
    d.metrics.deadLetters.inc({ reason: info.reason });
    d.logger.warn(
      {
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

async function decodeWithOutageRetry(
  rec: InboundRecord,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<DecodeResult | null> {
  for (;;) {
    try {
      const result = await d.decode(rec.value, rec);
      // Only a registry-framed record proves the registry is back.
      if (rec.value !== null && isRegistryFramed(rec.value)) d.outages.set('schema_registry', false);
      return result;
    } catch (err) {
      if (!isConnectorError(err, ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE)) {
        // A decoder bug must not stop the partition: treat the record as undecodable, with the reason.
        return { ok: false, reason: 'undecodable', message: `decoder failed: ${(err as Error).message}` };
      }
      d.outages.set('schema_registry', true);
      d.logger.warn(
        { err, topic: rec.topic, partition: rec.partition, offset: rec.offset },
        'schema registry unavailable; will retry',
      );
      if (signal.aborted) return null;
      await d.clock.sleep(d.outageRetryMs ?? 1_000, signal);
      if (signal.aborted) return null;
    }
  }
}

async function snapshotWhenUsable(d: PipelineDeps, signal: AbortSignal): Promise<SubscriptionIndex | null> {
  for (;;) {
    const index = d.subscriptions();
    if (index !== null) return index;
    if (signal.aborted) return null;
    await d.clock.sleep(d.outageRetryMs ?? 1_000, signal);
  }
}
