/**
 * One matched delivery of a record, in process: a concurrent subscription's at once (or spilled to the
 * store when its in-process backlog is full), an ordered one's in its (subscription, key) lane, parked
 * behind its lane when the lane has a parked delivery. A delivery that must wait (a far retry, an open
 * breaker) is parked; while the store is down it stays in process instead. Resolves `done` when delivered,
 * its dead letter acknowledged or durably parked; `aborted` when the signal interrupted it.
 */
import type { Clock } from '../clock.js';
import type { InboundRecord, TiledeskEvent } from '../events/event.js';
import { deliver, type DeliverDeps, type DeliverStart, type DeliveryOutcome } from '../delivery/deliver.js';
import { webhookId } from '../delivery/webhook-id.js';
import { settleDelivery, type SettleDeps } from '../dead-letter/settle.js';
import { parkRequestFromOutcome } from '../parking/park-request.js';
import type { Parking } from '../parking/parking.js';
import type { ParkRequest, ParkedReason } from '../parking/types.js';
import type { Subscription } from '../subscriptions/types.js';
import type { Lanes } from './lanes.js';

export type RecordResult = 'done' | 'aborted';

export interface StartDeliveryDeps extends SettleDeps {
  readonly deliverDeps: DeliverDeps;
  /** Delivery lanes of ordered subscriptions: (subscription, record key). */
  readonly lanes: Lanes;
  /** Parks what must wait (far retries, behind a parked lane, spills, open breakers). */
  readonly parking: Parking;
  readonly clock: Clock;
}

export function startDelivery(
  rec: InboundRecord,
  key: string | null,
  event: TiledeskEvent,
  sub: Subscription,
  d: StartDeliveryDeps,
  signal: AbortSignal,
): Promise<RecordResult> {
  if (sub.ordering !== 'ordered' || key === null) return deliverConcurrent(rec, event, sub, d, signal);
  const lane = `${sub.id}\u0000${key}`;
  if (d.parking.enterLane(lane)) {
    return d.lanes.run(lane, () => deliverInLane(rec, event, sub, lane, d, signal));
  }
  return spillOrdered(rec, event, sub, lane, d, signal);
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
  d: StartDeliveryDeps,
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
  d: StartDeliveryDeps,
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
  d: StartDeliveryDeps,
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
  d: StartDeliveryDeps,
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
  d: StartDeliveryDeps,
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
  d: StartDeliveryDeps,
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
    const req = parkRequestFromOutcome(rec, event, sub.id, lane, outcome);
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
  d: StartDeliveryDeps,
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
