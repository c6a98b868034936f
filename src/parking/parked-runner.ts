/**
 * Runs parked deliveries, on every instance: claims due rows (SKIP LOCKED, leased to this instance), makes
 * one attempt each through the same slots, breakers and transport as the consumer's deliveries, and writes
 * the result back in batches: delivered; parked again at its next schedule step (or when the breaker's
 * cool-down ends); or, out of attempts or permanently refused, dead-lettered exactly as the consumer does
 * (the original record and the `dlq-*` headers) and then marked dead.
 *
 * A claim's attempt must end inside its lease, so no other instance can attempt the same delivery at the
 * same time: an attempt that has not started `DELIVERY_TIMEOUT_MS` + a margin before the lease ends is not
 * started (the row goes back, due now). Postgres unavailable: the runner pauses and tries again with
 * backoff; results not yet written are kept and written when it is back (meanwhile a lease may run out and
 * another instance attempt the delivery again: a duplicate, never a loss).
 *
 * About 430 lines: claim, attempt, result batching and the outage backoff share the lease arithmetic and
 * the pending results; they are only correct together.
 */
import { setMaxListeners } from 'node:events';
import type { Clock } from '../clock.js';
import { ErrorCode } from '../errors.js';
import { deliver, type DeliverDeps, type DeliveryOutcome } from '../delivery/deliver.js';
import { settleDelivery, writeDeadLetter, type SettleDeps } from '../dead-letter/settle.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Subscription } from '../subscriptions/types.js';
import type { ClaimedDelivery, DeliveryStore, FinishUpdate } from './types.js';

export interface ParkedRunnerOptions {
  readonly store: DeliveryStore;
  /** This instance's name in leases (host + pid + random). */
  readonly owner: string;
  readonly deliverDeps: DeliverDeps;
  readonly settle: SettleDeps;
  /** An enabled subscription by id from the snapshot; undefined when it has none (not loaded yet). */
  readonly subscription: (id: string) => Subscription | undefined;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly logger: Logger;
  readonly pollIntervalMs: number;
  readonly claimBatch: number;
  readonly leaseMs: number;
  readonly deliveryTimeoutMs: number;
  /** Parked deliveries attempted at once by this instance (they share DELIVERY_CONCURRENCY's slots). */
  readonly maxInFlight: number;
  readonly retentionMs: number;
  /**
   * Subscriptions whose rows not to claim now (their circuit refuses attempts until its cool-down ends):
   * claiming them would only park them again, thousands of rows per cool-down.
   */
  readonly skip?: () => readonly string[];
  readonly statsIntervalMs?: number;
  readonly pruneIntervalMs?: number;
}

/** Margin between the end of an attempt started at the latest moment and the end of its lease. */
export const LEASE_MARGIN_MS = 2_000;
/** Retry wait of a delivery whose dead letter could not be written (the topic unavailable). */
export const DEAD_LETTER_RETRY_MS = 30_000;
/** Longest pause between two claims while Postgres is unavailable. */
export const MAX_OUTAGE_BACKOFF_MS = 30_000;

export class ParkedRunner {
  private readonly log: Logger;
  private stopping = false;
  private readonly stopped = new AbortController();
  private loopDone: Promise<void> | null = null;
  private inFlight = 0;
  private readonly running = new Set<Promise<void>>();
  private wake: (() => void) | null = null;
  private pending: FinishUpdate[] = [];
  private flushing: Promise<void> | null = null;
  private flushTimer: NodeJS.Timeout | undefined;
  private statsTimer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private storeDown = false;

  constructor(private readonly o: ParkedRunnerOptions) {
    this.log = o.logger.child({ component: 'parked-runner' });
    // Every running claim listens to it (up to maxInFlight): by design, not a leak.
    setMaxListeners(0, this.stopped.signal);
  }

  start(): void {
    this.loopDone = this.loop();
    const statsMs = this.o.statsIntervalMs ?? 15_000;
    this.statsTimer = setInterval(() => void this.refreshStats(), statsMs);
    this.statsTimer.unref();
    void this.refreshStats();
    const pruneMs = this.o.pruneIntervalMs ?? 60_000;
    this.pruneTimer = setInterval(() => void this.prune(), pruneMs);
    this.pruneTimer.unref();
  }

  /** Something became due (a local park with due time now): look at once instead of at the next poll. */
  nudge(): void {
    this.wake?.();
  }

  /** Stops claiming, gives back what has not started, waits for the attempts running, writes the results. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearInterval(this.statsTimer);
    clearInterval(this.pruneTimer);
    this.stopped.abort();
    this.wake?.();
    await this.loopDone;
    await Promise.allSettled([...this.running]);
    clearTimeout(this.flushTimer);
    await this.flush();
  }

  private async loop(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      const room = this.o.maxInFlight - this.inFlight;
      if (room <= 0) {
        await this.pause(this.o.pollIntervalMs);
        continue;
      }
      const limit = Math.min(room, this.o.claimBatch);
      // Before the claim: its leases start when the statement does, so this errs on the early side.
      const claimedAt = this.o.clock.now();
      let claimed: ClaimedDelivery[];
      try {
        claimed = await this.o.store.claim(this.o.owner, limit, this.o.leaseMs, this.o.skip?.() ?? []);
      } catch (err) {
        failures++;
        if (!this.storeDown) {
          this.log.warn(
            { code: ErrorCode.DELIVERY_STORE_UNAVAILABLE, err },
            'parked deliveries paused: the store is unavailable',
          );
        }
        this.storeDown = true;
        await this.pause(
          Math.min(MAX_OUTAGE_BACKOFF_MS, this.o.pollIntervalMs * 2 ** Math.min(failures, 10)),
        );
        continue;
      }
      if (this.storeDown) this.log.info('parked deliveries resumed: the store answers again');
      this.storeDown = false;
      failures = 0;
      if (claimed.length > 0) this.o.metrics.parkedClaims.inc(claimed.length);
      for (const c of claimed) {
        if (c.leaseExpired) this.o.metrics.leaseExpiries.inc();
        this.inFlight++;
        const work = this.run(c, claimedAt).finally(() => {
          this.inFlight--;
          this.running.delete(work);
        });
        this.running.add(work);
      }
      if (claimed.length < limit) await this.pause(this.o.pollIntervalMs);
    }
  }

  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      const wake = (): void => done();
      this.wake = wake;
      function done(): void {
        clearTimeout(t);
        resolve();
      }
    }).finally(() => {
      this.wake = null;
    });
  }

  /**
   * A signal that aborts at `at` (epoch ms) or when the runner stops. Our own timer, not
   * AbortSignal.any(AbortSignal.timeout()): a timeout signal only weakly held can be collected before it
   * fires (nodejs/node#48951), and the claim would wait past its lease.
   */
  private abortAt(at: number, disposers: (() => void)[]): AbortSignal {
    const ac = new AbortController();
    const abort = (): void => ac.abort();
    const timer = setTimeout(abort, Math.max(0, at - this.o.clock.now()));
    this.stopped.signal.addEventListener('abort', abort, { once: true });
    disposers.push(() => {
      clearTimeout(timer);
      this.stopped.signal.removeEventListener('abort', abort);
    });
    return ac.signal;
  }

  private async run(c: ClaimedDelivery, claimedAt: number): Promise<void> {
    const disposers: (() => void)[] = [];
    try {
      this.finish(await this.attempt(c, claimedAt, disposers));
    } catch (err) {
      // A bug must not lose the row: give it back, due in a poll interval.
      this.log.error({ err, deliveryId: c.id }, 'parked delivery failed unexpectedly; parked again');
      this.finish({
        kind: 'reschedule',
        id: c.id,
        claim: c.claim,
        attempts: c.attempts,
        dueAt: this.o.clock.now() + this.o.pollIntervalMs,
      });
    } finally {
      for (const dispose of disposers) dispose();
    }
  }

  private async attempt(
    c: ClaimedDelivery,
    claimedAt: number,
    disposers: (() => void)[],
  ): Promise<FinishUpdate> {
    const now = this.o.clock.now();
    // Every wait of this claim ends inside its lease: a dead letter's write, the slots, the attempt's start.
    const leaseEnd = claimedAt + this.o.leaseMs - LEASE_MARGIN_MS;
    const inLease = this.abortAt(leaseEnd, disposers);
    if (c.subscriptionDeleted) {
      return this.deadLetter(c, 'subscription_deleted', 'the subscription was deleted', inLease);
    }
    if (c.subscriptionDisabled !== null) {
      return this.deadLetter(
        c,
        'subscription_disabled',
        `the subscription was disabled (${c.subscriptionDisabled})`,
        inLease,
      );
    }
    const sub = this.o.subscription(c.subscriptionId);
    // Enabled in Postgres but not in this instance's snapshot yet (just created or re-enabled): soon.
    if (sub === undefined) {
      return {
        kind: 'reschedule',
        id: c.id,
        claim: c.claim,
        attempts: c.attempts,
        dueAt: now + this.o.pollIntervalMs,
      };
    }
    // No attempt may start later than this: it would outlive the lease.
    const latestStart = claimedAt + this.o.leaseMs - this.o.deliveryTimeoutMs - LEASE_MARGIN_MS;
    const lease = this.abortAt(latestStart, disposers);
    const outcome: DeliveryOutcome = await deliver(c.event, sub, this.o.deliverDeps, lease, {
      attempt: c.attempts + 1,
      firstAttemptAt: c.firstAttemptAt ?? undefined,
      lastStatus: c.lastStatus ?? undefined,
      lastError: c.lastError ?? undefined,
      single: true,
      origin: { record: c.record, trigger: c.parkedReason === 'manual' ? 'manual' : 'scheduled' },
    });
    switch (outcome.kind) {
      case 'aborted':
        return {
          kind: 'reschedule',
          id: c.id,
          claim: c.claim,
          attempts: outcome.attempts,
          dueAt: this.o.clock.now(),
        };
      case 'park':
        if (outcome.reason === 'circuit' && this.scheduleSpent(c)) {
          // The breaker refuses attempts for longer than the whole schedule: as many attempts as the
          // schedule allows could not have helped either (a probe per cool-down failed meanwhile).
          const failed = { ...outcome, kind: 'failed' as const, reason: 'retries_exhausted' as const };
          if (!(await settleDelivery(c.record, c.event, sub, failed, this.o.settle, inLease))) {
            return this.deadLetterLater(c, outcome.attempts);
          }
          return {
            kind: 'dead',
            id: c.id,
            claim: c.claim,
            attempts: outcome.attempts,
            reason: 'retries_exhausted',
            lastStatus: outcome.lastStatus,
            lastError: outcome.lastError,
          };
        }
        return {
          kind: 'reschedule',
          id: c.id,
          claim: c.claim,
          attempts: outcome.attempts,
          dueAt: outcome.dueAt,
          reason: outcome.reason,
          ...(outcome.attempts > c.attempts
            ? {
                firstAttemptAt: outcome.firstAttemptAt,
                lastAttemptAt: outcome.lastAttemptAt,
                lastStatus: outcome.lastStatus,
                lastError: outcome.lastError,
              }
            : {}),
        };
      case 'delivered':
        // Counting only: a delivered outcome writes nothing.
        await settleDelivery(c.record, c.event, sub, outcome, this.o.settle);
        return {
          kind: 'delivered',
          id: c.id,
          claim: c.claim,
          attempts: outcome.attempts,
          status: outcome.status,
          firstAttemptAt: outcome.firstAttemptAt,
          lastAttemptAt: outcome.lastAttemptAt,
        };
      case 'failed': {
        const written = await settleDelivery(c.record, c.event, sub, outcome, this.o.settle, inLease);
        if (!written) return this.deadLetterLater(c, outcome.attempts);
        return {
          kind: 'dead',
          id: c.id,
          claim: c.claim,
          attempts: outcome.attempts,
          reason: outcome.reason,
          firstAttemptAt: outcome.firstAttemptAt,
          lastAttemptAt: outcome.lastAttemptAt,
          lastStatus: outcome.lastStatus,
          lastError: outcome.lastError,
        };
      }
    }
  }

  /** Its first attempt was longer ago than the whole retry schedule spans. */
  private scheduleSpent(c: ClaimedDelivery): boolean {
    if (c.firstAttemptAt === null) return false;
    const span = this.o.deliverDeps.policy.schedule.reduce((sum, ms) => sum + ms, 0);
    return this.o.clock.now() - c.firstAttemptAt >= span;
  }

  /** Dead-letters a parked delivery that is not attempted (its subscription is gone). */
  private async deadLetter(
    c: ClaimedDelivery,
    reason: string,
    error: string,
    signal: AbortSignal,
  ): Promise<FinishUpdate> {
    const written = await writeDeadLetter(
      c.record,
      {
        reason,
        error,
        eventId: c.event.id,
        event: c.event.event,
        subscriptionId: c.subscriptionId,
        webhookId: c.webhookId,
        attempts: c.attempts,
        lastStatus: c.lastStatus ?? undefined,
        firstAttemptAt: c.firstAttemptAt ?? undefined,
      },
      this.o.settle,
      signal,
    );
    if (!written) return this.deadLetterLater(c, c.attempts);
    return { kind: 'dead', id: c.id, claim: c.claim, attempts: c.attempts, reason, lastError: error };
  }

  private deadLetterLater(c: ClaimedDelivery, attempts: number): FinishUpdate {
    this.log.warn({ deliveryId: c.id }, 'dead letter not written; the parked delivery is tried again later');
    return {
      kind: 'reschedule',
      id: c.id,
      claim: c.claim,
      attempts,
      dueAt: this.o.clock.now() + DEAD_LETTER_RETRY_MS,
    };
  }

  private finish(update: FinishUpdate): void {
    this.pending.push(update);
    if (this.flushTimer === undefined && this.flushing === null) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        void this.flush();
      }, 5);
    }
  }

  /** Writes the results gathered so far in one batch; on failure keeps them and tries again later. */
  private async flush(): Promise<void> {
    if (this.flushing) await this.flushing;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.flushing = (async () => {
      try {
        await this.o.store.finish(this.o.owner, batch);
        // A finished lane head lets the next one of its lane be claimed: look at once.
        this.nudge();
      } catch (err) {
        this.log.warn({ err, results: batch.length }, 'cannot write parked-delivery results; will retry');
        this.pending = batch.concat(this.pending);
        if (!this.stopping) {
          clearTimeout(this.flushTimer);
          this.flushTimer = setTimeout(() => {
            this.flushTimer = undefined;
            void this.flush();
          }, 1_000);
        }
      }
    })();
    try {
      await this.flushing;
    } finally {
      this.flushing = null;
    }
    if (this.pending.length > 0 && this.flushTimer === undefined && !this.stopping) {
      this.flushTimer = setTimeout(() => {
        this.flushTimer = undefined;
        void this.flush();
      }, 5);
    }
  }

  private async refreshStats(): Promise<void> {
    try {
      const s = await this.o.store.stats();
      for (const [state, n] of Object.entries(s.byState)) this.o.metrics.parkedDeliveries.set({ state }, n);
      this.o.metrics.parkedDueBacklog.set(s.dueBacklog);
      this.o.metrics.parkedOldestDueAge.set(s.oldestDueAgeSeconds);
    } catch (err) {
      this.log.debug({ err }, 'parked-delivery stats unavailable');
    }
  }

  private async prune(): Promise<void> {
    try {
      let total = 0;
      for (;;) {
        const n = await this.o.store.prune(this.o.retentionMs, 5_000);
        total += n;
        if (n < 5_000 || this.stopping) break;
      }
      if (total > 0) this.log.info({ rows: total }, 'pruned finished parked deliveries');
    } catch (err) {
      this.log.debug({ err }, 'pruning parked deliveries failed; next time');
    }
  }
}
