/**
 * One record's whole trip: decode → match → deliver to every matching subscription (an ordered one in its
 * (subscription, key) lane) → dead-letter what failed, park what must wait. Resolves `done` only when every
 * delivery got a 2xx, its dead letter was acknowledged, or it was durably parked (or the record was poison
 * and its dead letter acknowledged, or it matched nothing);
 * `aborted` when shutdown or revocation interrupted it — then the record must not be committed.
 * Never rejects for a delivery, decode or dead-letter failure.
 */
import type { Clock } from '../clock.js';
import { isConnectorError, ErrorCode } from '../errors.js';
import type { DecodeResult } from '../events/decode-record.js';
import type { InboundRecord, RecordCoordinates, TiledeskEvent } from '../events/event.js';
import { deliver, type DeliverDeps, type DeliverStart, type DeliveryOutcome } from '../delivery/deliver.js';
import { webhookId } from '../delivery/webhook-id.js';
import type { DeadLetterWriter } from '../dead-letter/dead-letter-producer.js';
import { settleDelivery, writeDeadLetter } from '../dead-letter/settle.js';
import type { Logger } from '../logger.js';
import { eventFamily, type Metrics } from '../metrics/metrics.js';
import type { Parking } from '../parking/parking.js';
import type { ParkRequest, ParkedReason } from '../parking/types.js';
import type { Subscription, SubscriptionIndex } from '../subscriptions/types.js';
import type { Lanes } from './lanes.js';
import type { FailureScope } from './outage-probe.js';
import type { Outages } from './outages.js';

export type RecordResult = 'done' | 'aborted';

export interface PipelineDeps {
  /** Synchronous for plain JSON; a promise when a schema registry is involved. */
  readonly decode: (value: Buffer | null, at: RecordCoordinates) => DecodeResult | Promise<DecodeResult>;
  /** The current snapshot, or null while it is too stale to use (the caller waits). */
  readonly subscriptions: () => SubscriptionIndex | null;
  readonly deliverDeps: DeliverDeps;
  /** Delivery lanes of ordered subscriptions: (subscription, record key). */
  readonly lanes: Lanes;
  /** Parks what must wait (far retries, behind a parked lane, spills, open breakers). */
  readonly parking: Parking;
  /** Intake lanes: record key. Decoding and matching run in record order per key, so a record whose
   * decode waits (schema lookup, outage) is never overtaken by a later record with the same key. */
  readonly keyLanes: Lanes;
  readonly deadLetters: DeadLetterWriter;
  readonly outages: Outages;
  /** Says whether a registry failure is an outage (and then declares it and probes until it ends). */
  readonly registryFailure: () => Promise<FailureScope>;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Poll interval while a dependency of ours is down. */
  readonly outageRetryMs?: number;
}

/** Longest wait between two tries of a record whose schema the registry will not give us (a scoped failure). */
export const SCOPED_REGISTRY_RETRY_MAX_MS = 60_000;

/** What intake produced: a final result, one promise (a dead letter being written), or one per delivery. */
type Intake = RecordResult | Promise<RecordResult> | Promise<RecordResult>[];

/**
 * The common case runs without an async step until the deliveries are queued: a JSON record decodes
 * synchronously and the snapshot is usable, so intake finishes in this call and needs no key lane (nothing
 * can overtake a synchronous step). Only an intake that has to wait (a schema lookup, an outage, a dead
 * letter being written) holds its key lane, so later records with that key queue behind it.
 */
export function processRecord(
  rec: InboundRecord,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<RecordResult> {
  const key = rec.key === null ? null : rec.key.toString('latin1');
  if (d.keyLanes.isIdle(key)) {
    const intake = intakeRecord(rec, key, d, signal);
    if (!(intake instanceof Promise)) return settle(intake);
    d.keyLanes.hold(key, intake);
    return intake.then(settle);
  }
  return d.keyLanes.run(key, () => Promise.resolve(intakeRecord(rec, key, d, signal))).then(settle);
}

function settle(intake: Intake): Promise<RecordResult> {
  if (intake === 'done' || intake === 'aborted') return Promise.resolve(intake);
  if (!Array.isArray(intake)) return intake;
  if (intake.length === 1) return intake[0]!;
  return Promise.all(intake).then((results) => (results.every((r) => r === 'done') ? 'done' : 'aborted'));
}

function intakeRecord(
  rec: InboundRecord,
  key: string | null,
  d: PipelineDeps,
  signal: AbortSignal,
): Intake | Promise<Intake> {
  const decoded = decodeWithOutageRetry(rec, d, signal);
  return decoded instanceof Promise
    ? decoded.then((r) => afterDecode(rec, key, r, d, signal))
    : afterDecode(rec, key, decoded, d, signal);
}

function afterDecode(
  rec: InboundRecord,
  key: string | null,
  decoded: DecodeResult | null,
  d: PipelineDeps,
  signal: AbortSignal,
): Intake | Promise<Intake> {
  if (decoded === null) return 'aborted';
  if (!decoded.ok) {
    d.metrics.eventsPoison.inc({ reason: decoded.reason });
    return writeDeadLetter(rec, { reason: decoded.reason, error: decoded.message }, d, signal).then(
      (written) => (written ? 'done' : 'aborted'),
    );
  }
  const event = decoded.event;
  d.metrics.eventsConsumed.inc({ event_family: eventFamily(event.event) });
  const index = d.subscriptions();
  if (index !== null) return fanOut(rec, key, event, index, d, signal);
  return snapshotWhenUsable(d, signal).then((ix) =>
    ix === null ? 'aborted' : fanOut(rec, key, event, ix, d, signal),
  );
}

/**
 * Starts one delivery per matching subscription: a concurrent subscription's at once (or spilled to the
 * store when its in-process backlog is full), an ordered one's in its (subscription, key) lane.
 */
function fanOut(
  rec: InboundRecord,
  key: string | null,
  event: TiledeskEvent,
  index: SubscriptionIndex,
  d: PipelineDeps,
  signal: AbortSignal,
): Intake {
  const subs = index.match(event.event, event.idProject);
  if (subs.length === 0) {
    d.metrics.eventsUnmatched.inc({ event_family: eventFamily(event.event) });
    return 'done';
  }
  return subs.map((sub) => {
    if (sub.ordering !== 'ordered' || key === null) return deliverConcurrent(rec, event, sub, d, signal);
    const lane = `${sub.id}\u0000${key}`;
    if (d.parking.enterLane(lane)) {
      return d.lanes.run(lane, () => deliverInLane(rec, event, sub, lane, d, signal));
    }
    return spillOrdered(rec, event, sub, lane, d, signal);
  });
}

/**
 * An ordered lane whose in-process queue is full: parked now, held until the deliveries ahead of it in
 * process are done (so the partition never waits on a slow lane). The store down: it queues on the lane
 * after all, and at its turn parks behind the held ones or waits for the store (never goes ahead).
 */
async function spillOrdered(
  rec: InboundRecord,
  event: TiledeskEvent,
  sub: Subscription,
  lane: string,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<RecordResult> {
  if (await d.parking.spill(parkRequest(rec, event, sub, lane, 'spill', d))) return 'done';
  d.parking.enterLaneAnyway(lane);
  return d.lanes.run(lane, () => deliverInLane(rec, event, sub, lane, d, signal));
}

function parkRequest(
  rec: InboundRecord,
  event: TiledeskEvent,
  sub: Subscription,
  lane: string | null,
  reason: ParkedReason,
  d: PipelineDeps,
): ParkRequest {
  return {
    record: rec,
    event,
    subscriptionId: sub.id,
    webhookId: webhookId(event.id, sub.id),
    lane,
    reason,
    attempts: 0,
    dueAt: d.clock.now(),
  };
}

async function deliverConcurrent(
  rec: InboundRecord,
  event: TiledeskEvent,
  sub: Subscription,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<RecordResult> {
  if (!d.parking.enterSubscription(sub.id, rec)) return parkFresh(rec, event, sub, null, 'spill', d, signal);
  try {
    return await deliverOne(rec, event, sub, null, d, signal);
  } finally {
    d.parking.leaveSubscription(sub.id, rec);
  }
}

/** Runs at the lane's turn: every earlier delivery of the lane is delivered, dead-lettered or parked. */
async function deliverInLane(
  rec: InboundRecord,
  event: TiledeskEvent,
  sub: Subscription,
  lane: string,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<RecordResult> {
  let result: RecordResult = 'aborted';
  try {
    if (signal.aborted) return result;
    let behind: boolean;
    try {
      behind = await d.parking.laneParked(lane, rec, signal);
    } catch (err) {
      // The store cannot say whether the lane has a parked delivery: never send ahead of one.
      d.logger.warn({ err, subscriptionId: sub.id }, 'cannot check the ordered lane; parking behind');
      behind = true;
    }
    result = behind
      ? await parkFresh(rec, event, sub, lane, 'behind', d, signal)
      : await deliverOne(rec, event, sub, lane, d, signal);
    return result;
  } finally {
    d.parking.leaveLane(lane, result === 'aborted');
  }
}

/** Wait between two tries to park while the store is unavailable. */
export const PARK_RETRY_MS = 1_000;

/**
 * Parks a delivery before any attempt (behind a parked lane, spilled, breaker open at intake). A spill the
 * store cannot take is delivered in process instead; a delivery behind a parked lane waits for the store
 * (it must not go ahead of the lane), holding its record (back-pressure by the partition window).
 */
async function parkFresh(
  rec: InboundRecord,
  event: TiledeskEvent,
  sub: Subscription,
  lane: string | null,
  reason: ParkedReason,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<RecordResult> {
  const req = parkRequest(rec, event, sub, lane, reason, d);
  for (;;) {
    if (signal.aborted) return 'aborted';
    if (await d.parking.park(req)) return 'done';
    if (reason === 'spill') return deliverOne(rec, event, sub, lane, d, signal);
    await d.clock.sleep(PARK_RETRY_MS, signal);
  }
}

async function deliverOne(
  rec: InboundRecord,
  event: TiledeskEvent,
  sub: Subscription,
  lane: string | null,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<RecordResult> {
  const origin = { record: rec, trigger: 'scheduled' } as const;
  let start: DeliverStart = { attempt: 1, origin };
  for (;;) {
    if (signal.aborted) return 'aborted';
    d.metrics.inFlightDeliveries.inc();
    let outcome: DeliveryOutcome;
    try {
      outcome = await deliver(event, sub, d.deliverDeps, signal, start);
    } finally {
      d.metrics.inFlightDeliveries.dec();
    }
    if (outcome.kind === 'aborted') return 'aborted';
    if (outcome.kind !== 'park') {
      return (await settleDelivery(rec, event, sub, outcome, d, signal)) ? 'done' : 'aborted';
    }
    const req: ParkRequest = {
      record: rec,
      event,
      subscriptionId: sub.id,
      webhookId: outcome.webhookId,
      lane,
      reason: outcome.reason,
      attempts: outcome.attempts,
      dueAt: outcome.dueAt,
      firstAttemptAt: outcome.attempts > 0 ? outcome.firstAttemptAt : undefined,
      lastAttemptAt: outcome.attempts > 0 ? outcome.lastAttemptAt : undefined,
      lastStatus: outcome.lastStatus,
      lastError: outcome.lastError,
    };
    if (await d.parking.park(req)) return 'done';
    // The store is unavailable (our outage, not the receiver's): the delivery stays in process until its
    // due time, trying to park meanwhile, then is attempted here again. Nothing is dead-lettered for it.
    const waited = await parkOrWaitUntilDue(req, d, signal);
    if (waited !== 'due') return waited;
    start = {
      attempt: outcome.attempts + 1,
      firstAttemptAt: outcome.attempts > 0 ? outcome.firstAttemptAt : undefined,
      lastStatus: outcome.lastStatus,
      lastError: outcome.lastError,
      origin,
    };
  }
}

async function parkOrWaitUntilDue(
  req: ParkRequest,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<'done' | 'aborted' | 'due'> {
  for (;;) {
    const left = req.dueAt - d.clock.now();
    if (left <= 0) return 'due';
    await d.clock.sleep(Math.min(left, 5 * PARK_RETRY_MS), signal);
    if (signal.aborted) return 'aborted';
    if (req.dueAt - d.clock.now() <= 0) return 'due';
    if (await d.parking.park(req)) return 'done';
  }
}

/** The decode, synchronous when the decoder is (JSON); a registry outage is waited out, never dead-lettered. */
function decodeWithOutageRetry(
  rec: InboundRecord,
  d: PipelineDeps,
  signal: AbortSignal,
): DecodeResult | null | Promise<DecodeResult | null> {
  let result: DecodeResult | Promise<DecodeResult>;
  try {
    result = d.decode(rec.value, rec);
  } catch (err) {
    return afterDecodeError(err, rec, d, signal);
  }
  if (result instanceof Promise) {
    return result.catch((err: unknown) => afterDecodeError(err, rec, d, signal));
  }
  return result;
}

/**
 * A registry failure is never the record's fault (see schema-registry-decoder.ts): the record waits and is
 * tried again, never dead-lettered. An outage (the registry does not answer a probe either) is declared and
 * pauses everything until a probe succeeds; a scoped failure (the registry answers, but not for this schema:
 * a 401/403 for one subject) holds only this record, tried again with backoff up to a minute apart.
 */
async function afterDecodeError(
  err: unknown,
  rec: InboundRecord,
  d: PipelineDeps,
  signal: AbortSignal,
): Promise<DecodeResult | null> {
  const retryMs = d.outageRetryMs ?? 1_000;
  for (let scopedTries = 0; ;) {
    if (!isConnectorError(err, ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE)) {
      // A decoder bug must not stop the partition: treat the record as undecodable, with the reason.
      return { ok: false, reason: 'undecodable', message: `decoder failed: ${(err as Error).message}` };
    }
    const scope = await d.registryFailure();
    const at = { topic: rec.topic, partition: rec.partition, offset: rec.offset };
    let waitMs = retryMs;
    if (scope === 'outage') {
      scopedTries = 0;
      d.logger.warn({ err, ...at }, 'schema registry unavailable; will retry');
    } else {
      waitMs = Math.min(SCOPED_REGISTRY_RETRY_MAX_MS, retryMs * 2 ** scopedTries++);
      d.logger.error(
        { err, ...at, retryInMs: waitMs },
        "the schema registry answers, but not with this record's writer schema (no read access to its subject?); retrying this record only",
      );
    }
    if (signal.aborted) return null;
    await d.clock.sleep(waitMs, signal);
    if (signal.aborted) return null;
    try {
      return await d.decode(rec.value, rec);
    } catch (next) {
      err = next;
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
