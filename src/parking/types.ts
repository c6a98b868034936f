/**
 * The parked-delivery store's contract (README "Parked deliveries"). A delivery is parked when its next
 * attempt is further away than the in-process budget (`retry`), when its ordered lane already has a parked
 * delivery (`behind`), when its subscription's in-memory backlog is full (`spill`) or when its
 * subscription's circuit breaker is open (`circuit`). Once `park` resolved, the row is durable and the
 * source record counts as done for that delivery. Implemented on Postgres by `pg-delivery-store.ts`.
 */
import type { InboundRecord, TiledeskEvent } from '../events/event.js';

/** `manual`: parked by a person (resend, recover, test through the API or the CLI): its next attempt is theirs. */
export type ParkedReason = 'retry' | 'behind' | 'spill' | 'circuit' | 'manual';
export type DeliveryState = 'parked' | 'delivered' | 'dead';

export interface ParkRequest {
  readonly record: InboundRecord;
  readonly event: TiledeskEvent;
  readonly subscriptionId: string;
  readonly webhookId: string;
  /** Ordered subscriptions: subscription id + NUL + record key; null = no order. */
  readonly lane: string | null;
  readonly reason: ParkedReason;
  /** Attempts made so far (0 for behind/spill/circuit before any attempt). */
  readonly attempts: number;
  /** Epoch ms of the next attempt. */
  readonly dueAt: number;
  readonly firstAttemptAt?: number;
  readonly lastAttemptAt?: number;
  readonly lastStatus?: number;
  readonly lastError?: string;
}

/** A parked delivery claimed by this instance: everything needed to attempt it and to dead-letter it. */
export interface ClaimedDelivery {
  readonly id: string;
  /** This claim's number (the row's claim count): a finish applies only to the claim it belongs to. */
  readonly claim: number;
  readonly subscriptionId: string;
  readonly webhookId: string;
  readonly lane: string | null;
  readonly attempts: number;
  readonly dueAt: number;
  /** The previous claim's lease ran out without a result (its instance died or hung). */
  readonly leaseExpired: boolean;
  /** Why it is parked: `manual` makes its attempt a manual one in the delivery log. */
  readonly parkedReason: ParkedReason;
  /** The subscription row no longer exists. */
  readonly subscriptionDeleted: boolean;
  /** Why its subscription was disabled by its endpoint health (`gone`, `failing`); null when enabled. */
  readonly subscriptionDisabled: string | null;
  readonly firstAttemptAt: number | null;
  readonly lastStatus: number | null;
  readonly lastError: string | null;
  readonly event: TiledeskEvent;
  readonly record: InboundRecord;
}

export type FinishUpdate =
  | {
      readonly kind: 'delivered';
      readonly id: string;
      readonly claim: number;
      readonly attempts: number;
      readonly status: number;
      readonly firstAttemptAt: number;
      readonly lastAttemptAt: number;
    }
  | {
      /** Parked again: a failed attempt with a later one scheduled, or no attempt (breaker open, lease short). */
      readonly kind: 'reschedule';
      readonly id: string;
      readonly claim: number;
      readonly attempts: number;
      readonly dueAt: number;
      readonly reason?: ParkedReason;
      readonly firstAttemptAt?: number;
      readonly lastAttemptAt?: number;
      readonly lastStatus?: number;
      readonly lastError?: string;
    }
  | {
      /** Its dead letter was acknowledged. */
      readonly kind: 'dead';
      readonly id: string;
      readonly claim: number;
      readonly attempts: number;
      readonly reason: string;
      readonly firstAttemptAt?: number;
      readonly lastAttemptAt?: number;
      readonly lastStatus?: number;
      readonly lastError?: string;
    };

export interface StoreStats {
  readonly byState: Readonly<Record<DeliveryState, number>>;
  /** Parked, due, not leased: waiting for a runner. */
  readonly dueBacklog: number;
  /** Age in seconds of the oldest due, unleased row (0 when none). */
  readonly oldestDueAgeSeconds: number;
}

export interface DeliveryStore {
  /** Writes the rows durably (batched with concurrent calls). Rejects when Postgres is unavailable. */
  park(requests: readonly ParkRequest[]): Promise<void>;
  /**
   * Claims up to `limit` due rows: of enabled or deleted subscriptions or of ones disabled by their endpoint
   * health (an operator-disabled one's rows wait), for an
   * ordered lane only its head (lowest seq) and only when no other row of the lane is leased. Each claimed
   * row is leased to `owner` for `leaseMs`.
   */
  claim(
    owner: string,
    limit: number,
    leaseMs: number,
    /** Not these subscriptions' rows (their circuit refuses attempts here until its cool-down ends). */
    skipSubscriptions?: readonly string[],
  ): Promise<ClaimedDelivery[]>;
  /**
   * Applies results of claims held by `owner`, each only to the claim it belongs to (`claim`): a row whose
   * lease was taken over, even by this same owner in a later claim, is left alone.
   */
  finish(owner: string, updates: readonly FinishUpdate[]): Promise<void>;
  /**
   * Lanes with a parked row among the given partitions (an instance taking over partitions), each with
   * its head: the lowest seq (record offset) parked.
   */
  parkedLanes(
    partitions: readonly { topic: string; partition: number }[],
  ): Promise<{ readonly lane: string; readonly head: number }[]>;
  /**
   * An ordered lane's spilled rows, parked with a hold while earlier deliveries of the lane still ran in
   * process, become due now (those earlier ones are delivered or parked: the lane's order is safe).
   */
  releaseSpilled(lane: string): Promise<void>;
  /** The lane's head (lowest parked seq), or null when nothing of it is parked. */
  laneHead(lane: string): Promise<number | null>;
  /** Deletes finished rows older than `olderThanMs` and events with no delivery left; returns rows deleted. */
  prune(olderThanMs: number, batch: number): Promise<number>;
  stats(): Promise<StoreStats>;
}
