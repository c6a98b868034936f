/**
 * What is parked for a delivery that came back `park` (a far retry, an open breaker): its attempts so far,
 * with attempt times only when an attempt was made (a breaker can refuse the first one). Shared by the
 * record path and replay, so a delivery parks the same way wherever it ran.
 */
import type { DeliveryOutcome } from '../delivery/deliver.js';
import type { InboundRecord, TiledeskEvent } from '../events/event.js';
import type { ParkRequest } from './types.js';

export function parkRequestFromOutcome(
  record: InboundRecord,
  event: TiledeskEvent,
  subscriptionId: string,
  lane: string | null,
  outcome: Extract<DeliveryOutcome, { kind: 'park' }>,
): ParkRequest {
  const attempted = outcome.attempts > 0;
  return {
    record,
    event,
    subscriptionId,
    webhookId: outcome.webhookId,
    lane,
    reason: outcome.reason,
    attempts: outcome.attempts,
    dueAt: outcome.dueAt,
    firstAttemptAt: attempted ? outcome.firstAttemptAt : undefined,
    lastAttemptAt: attempted ? outcome.lastAttemptAt : undefined,
    lastStatus: outcome.lastStatus,
    lastError: outcome.lastError,
  };
}
