/**
 * One delivery = one (event, subscription) pair, attempted until it is delivered (2xx), permanently failed
 * (other 4xx, 3xx, refused target, unusable subscription) or out of attempts, or until its next attempt is
 * further away than the in-process budget (`policy.inProcessMaxMs`) or its subscription's circuit breaker is
 * open: then the outcome is `park` with the due time, and the caller writes it to the parked-delivery store. The body, its X-Hub
 * signatures and the webhook-id are computed once per delivery (the body when the first attempt gets its
 * slots) from the event and the subscription alone, so any instance sends the same bytes; only
 * webhook-timestamp/-signature and X-Webhook-Attempt change per attempt. The outcome is a value, never an
 * exception, never a rejection. An abort (shutdown, revoked partition) ends the waits (slots, backoff)
 * early with `aborted`, and no attempt starts after it: such a delivery is not done and its record is not
 * committed.
 */
import type { Clock } from '../clock.js';
import type { InboundRecord, TiledeskEvent } from '../events/event.js';
import type { Subscription } from '../subscriptions/types.js';
import type { TransportResult, WebhookTransport } from '../transport/types.js';
import { classifyAttempt, type AttemptOutcome, type FailureReason } from './classify.js';
import { buildEnvelope } from './envelope.js';
import { buildAttemptHeaders } from './headers.js';
import type { PreparedSubscription, PreparedSubscriptions } from './prepared-subscription.js';
import { decideNext, maxAttempts, type RetryPolicy } from './retry-policy.js';
import type { OriginSlots } from './origin-slots.js';
import type { Semaphore } from './semaphore.js';
import { signHub, type HubSignatures } from './signing.js';
import { webhookId } from './webhook-id.js';

/**
 * `subscription_invalid`: the subscription cannot be turned into a request at all (e.g. a row written by
 * another tool with `created_at = 'infinity'`, which has no ISO date for Tiledesk's hook). Permanent, no
 * attempt: retrying cannot help, and it must not hold its record's other deliveries.
 */
export type DeliveryReason =
  | FailureReason
  | 'retries_exhausted'
  | 'subscription_invalid'
  | 'subscription_deleted'
  | 'subscription_disabled';

export interface DeliveryReport {
  readonly webhookId: string;
  readonly attempts: number;
  readonly lastStatus?: number;
  readonly lastError?: string;
  readonly firstAttemptAt: number;
  readonly lastAttemptAt: number;
}

export type DeliveryOutcome =
  | ({ readonly kind: 'delivered'; readonly status: number } & DeliveryReport)
  | ({ readonly kind: 'failed'; readonly reason: DeliveryReason } & DeliveryReport)
  | ({ readonly kind: 'aborted' } & DeliveryReport)
  | ({
      readonly kind: 'park';
      /** retry: the next attempt is far; circuit: the breaker refused an attempt (none was made for it). */
      readonly reason: 'retry' | 'circuit';
      /** Epoch ms of the next attempt. */
      readonly dueAt: number;
    } & DeliveryReport);

/** Per-subscription circuit breakers (src/parking/circuit-breaker.ts). */
export interface BreakerGate {
  admit(
    id: string,
  ):
    | { readonly kind: 'attempt'; readonly probe: boolean }
    | { readonly kind: 'park'; readonly untilMs: number };
  record(id: string, ok: boolean, probe: boolean): void;
}

/** Where a delivery starts: a parked one goes on with its attempt count and first-attempt time. */
export interface DeliverStart {
  /** Number of the first attempt of this run (1 for a new delivery). */
  readonly attempt: number;
  readonly firstAttemptAt?: number;
  readonly lastStatus?: number;
  readonly lastError?: string;
  /** One attempt at most, never a sleep: a failure with attempts left is `park` (the parked runner). */
  readonly single?: boolean;
  /** Where the delivery comes from, handed to `onAttempt` (the delivery log); not used by the delivery. */
  readonly origin?: DeliveryOrigin;
}

/** The record a delivery is of, and why this run attempts it (`manual`: a resend through the API or CLI). */
export interface DeliveryOrigin {
  readonly record: InboundRecord;
  readonly trigger: 'scheduled' | 'manual';
}

/** What `onAttempt` gets besides the outcome: the delivery the attempt belongs to. */
export interface AttemptContext {
  readonly event: TiledeskEvent;
  readonly webhookId: string;
  /** Epoch ms when the attempt was sent (after its slots were held). */
  readonly sentAt: number;
  readonly origin: DeliveryOrigin | undefined;
  /** A retryable failure with no attempt left: the delivery ends as `retries_exhausted`. */
  readonly exhausted: boolean;
}

export interface DeliverDeps {
  readonly transport: WebhookTransport;
  readonly prepared: PreparedSubscriptions;
  readonly policy: RetryPolicy;
  readonly clock: Clock;
  readonly random: () => number;
  readonly slots: Semaphore;
  /** Per-receiver limit taken before a global slot (isolation); none = only the global limit. */
  readonly originSlots?: OriginSlots;
  readonly userAgent: string;
  readonly legacySecretHeader: boolean;
  /** Circuit breakers per subscription; none = every attempt is made. */
  readonly breakers?: BreakerGate;
  /** Observes every attempt (metrics, logs, endpoint health); must not throw. */
  readonly onAttempt?: (
    outcome: AttemptOutcome,
    result: TransportResult,
    attempt: number,
    sub: Subscription,
    context: AttemptContext,
  ) => void;
}

export async function deliver(
  event: TiledeskEvent,
  sub: Subscription,
  d: DeliverDeps,
  signal?: AbortSignal,
  start: DeliverStart = { attempt: 1 },
): Promise<DeliveryOutcome> {
  const msgId = webhookId(event.id, sub.id);
  const firstAttemptAt = start.firstAttemptAt ?? d.clock.now();
  let prepared: PreparedSubscription;
  try {
    prepared = d.prepared.get(sub);
  } catch (err) {
    // One bad row fails its own delivery (dead-lettered with the reason), never the whole record.
    return {
      kind: 'failed',
      reason: 'subscription_invalid',
      webhookId: msgId,
      attempts: 0,
      lastError: `subscription cannot be prepared: ${(err as Error).message}`,
      firstAttemptAt,
      lastAttemptAt: firstAttemptAt,
    };
  }
  // Built when the first attempt has its slots, not before: a delivery queued behind the concurrency
  // limits holds only the event, not a body and signatures (memory: thousands of deliveries can queue).
  let body: Buffer | undefined;
  let hub: HubSignatures | undefined;
  let lastStatus: number | undefined = start.lastStatus;
  let lastError: string | undefined = start.lastError;
  let lastAttemptAt = firstAttemptAt;
  /** Aborted before attempt `attempt` was sent: the report covers the attempts made so far. */
  const abortedBefore = (attempt: number): DeliveryOutcome => ({
    kind: 'aborted',
    webhookId: msgId,
    attempts: attempt - 1,
    lastStatus,
    lastError,
    firstAttemptAt,
    lastAttemptAt,
  });
  /** The breaker refused attempt `attempt`: parked until the breaker's cool-down ends, no attempt made. */
  const refused = (attempt: number, untilMs: number): DeliveryOutcome => ({
    kind: 'park',
    reason: 'circuit',
    dueAt: untilMs,
    webhookId: msgId,
    attempts: attempt - 1,
    lastStatus,
    lastError,
    firstAttemptAt,
    lastAttemptAt,
  });
  for (let attempt = start.attempt; ; attempt++) {
    // An open breaker parks the delivery before it waits for slots: a hung receiver's deliveries do not
    // queue for its origin's slots one timeout after another. Asked again once the slots are held (the
    // breaker may have opened meanwhile); a probe admission is this attempt's, so it is not asked twice.
    let probe = false;
    if (d.breakers) {
      const gate = d.breakers.admit(sub.id);
      if (gate.kind === 'park') return refused(attempt, gate.untilMs);
      probe = gate.probe;
    }
    // Both waits end early on an abort, and the signal is checked once both slots are held: a revoked or
    // shutting-down delivery must not make one more attempt after waiting (its record is not committed,
    // the next owner delivers it).
    const giveBack = (): void => {
      // A probe not made counts as a failed one: the breaker stays open for another cool-down.
      if (probe) d.breakers?.record(sub.id, false, true);
    };
    const forOrigin = d.originSlots?.acquire(prepared.origin, signal);
    if (forOrigin && !(await forOrigin)) {
      giveBack();
      return abortedBefore(attempt);
    }
    const acquiring = d.slots.acquire(signal);
    if (acquiring && !(await acquiring)) {
      d.originSlots?.release(prepared.origin);
      giveBack();
      return abortedBefore(attempt);
    }
    if (signal?.aborted) {
      d.slots.release();
      d.originSlots?.release(prepared.origin);
      giveBack();
      return abortedBefore(attempt);
    }
    if (d.breakers && !probe && (forOrigin !== undefined || acquiring !== undefined)) {
      const gate = d.breakers.admit(sub.id);
      if (gate.kind === 'park') {
        d.slots.release();
        d.originSlots?.release(prepared.origin);
        return refused(attempt, gate.untilMs);
      }
      probe = gate.probe;
    }
    let result: TransportResult;
    let sentAt = 0;
    try {
      if (body === undefined || hub === undefined) {
        // Bytes built once: the HMACs and the socket use the same buffer on every attempt.
        body = buildEnvelope(prepared, event);
        hub = signHub(prepared.hubKey, body);
      }
      const headers = buildAttemptHeaders({
        prepared,
        event: event.event,
        msgId,
        body,
        hub,
        attempt,
        sentAtMs: (sentAt = d.clock.now()),
        userAgent: d.userAgent,
        legacySecretHeader: d.legacySecretHeader,
      });
      // The transport reports failures as values; one that throws anyway (a bug) fails this attempt like a
      // network error instead of rejecting the delivery and with it the whole record.
      try {
        result = await d.transport.send({ url: sub.target, headers, body });
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        result = { kind: 'error', code: 'TRANSPORT_FAILED', message, durationMs: 0 };
      }
    } finally {
      d.slots.release();
      d.originSlots?.release(prepared.origin);
    }
    const now = d.clock.now();
    lastAttemptAt = now;
    const outcome = classifyAttempt(result, now);
    // The breaker counts an endpoint that answers as up: only retryable failures (5xx, 429, timeouts,
    // network errors) count against it, a permanent 4xx does not.
    d.breakers?.record(sub.id, outcome.kind !== 'retryable', probe);
    d.onAttempt?.(outcome, result, attempt, sub, {
      event,
      webhookId: msgId,
      sentAt,
      origin: start.origin,
      exhausted: outcome.kind === 'retryable' && attempt >= maxAttempts(d.policy),
    });
    const report = (): DeliveryReport => ({
      webhookId: msgId,
      attempts: attempt,
      lastStatus,
      lastError,
      firstAttemptAt,
      lastAttemptAt: now,
    });
    if (outcome.kind === 'delivered') {
      return { kind: 'delivered', status: outcome.status, ...report(), lastStatus: outcome.status };
    }
    lastStatus = outcome.status;
    lastError = outcome.error ?? (outcome.status !== undefined ? `HTTP ${outcome.status}` : outcome.reason);
    const next = decideNext(attempt, outcome, d.policy, d.random);
    if (next.kind === 'final') {
      const reason = outcome.kind === 'permanent' ? outcome.reason : 'retries_exhausted';
      return { kind: 'failed', reason, ...report() };
    }
    if (next.kind === 'park' || start.single === true) {
      return { kind: 'park', reason: 'retry', dueAt: now + next.delayMs, ...report() };
    }
    if (signal?.aborted) return { kind: 'aborted', ...report() };
    await d.clock.sleep(next.delayMs, signal);
    if (signal?.aborted) return { kind: 'aborted', ...report() };
  }
}
