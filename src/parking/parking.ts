/**
 * The consumer side of parked deliveries: writes a delivery to the store when it parks, and keeps what the
 * hot path needs to decide without a query per event — which ordered lanes have a parked delivery (loaded
 * once per partition assignment, then kept up to date by this instance's own parks) and how many
 * deliveries each subscription and each ordered lane has in process (the spill bounds).
 *
 * A lane this instance believes parked is checked against the store before a delivery is parked behind
 * it (the runner, on any instance, may have drained it meanwhile); a lane it believes clear never is:
 * only the partition's owner parks into a lane, and a new owner loads the partition's parked lanes first.
 */
import type { Clock } from '../clock.js';
import { ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { DeliveryStore, ParkRequest } from './types.js';

/**
 * How long an ordered lane's spilled deliveries are held if nothing releases them (the instance died
 * while earlier deliveries of the lane ran in process; their records are redelivered to the partition's
 * next owner, which parks them, with lower seq, ahead of the held ones within this time).
 */
export const SPILL_HOLD_MS = 10 * 60_000;

export interface ParkingOptions {
  readonly store: DeliveryStore;
  readonly clock: Clock;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** Concurrent subscription: deliveries of one partition in process before new ones spill to the store. */
  readonly subscriptionMaxPending: number;
  /** Ordered lane: deliveries queued before new ones spill (in order) to the store. */
  readonly laneMaxPending: number;
  /** A parked lane confirmed within this long is trusted without asking the store again. */
  readonly laneRecheckMs: number;
  /** Called after rows due now were parked (spill, behind): the local runner looks at once. */
  readonly onDueNow?: () => void;
}

export class Parking {
  /**
   * Per partition (topic NUL partition): lanes believed parked, with their head (lowest parked seq, i.e.
   * record offset) and when that was last confirmed.
   */
  private readonly parkedLanes = new Map<string, Map<string, { head: number; at: number }>>();
  private readonly lanesLoaded = new WeakMap<AbortSignal, Promise<void>>();
  private readonly pendingBySub = new Map<string, number>();
  private readonly pendingByLane = new Map<string, number>();
  /** Ordered lanes spilling, with their spill writes under way. */
  private readonly spilling = new Map<string, Set<Promise<boolean>>>();
  private readonly log: Logger;

  constructor(private readonly o: ParkingOptions) {
    this.log = o.logger.child({ component: 'parking' });
  }

  /**
   * Durably parks the delivery. True once written; false when the store is unavailable (Postgres down):
   * the caller then keeps the delivery in process.
   */
  async park(req: ParkRequest): Promise<boolean> {
    try {
      await this.o.store.park([req]);
    } catch (err) {
      this.o.metrics.parkFailures.inc();
      this.log.warn(
        {
          code: ErrorCode.DELIVERY_STORE_UNAVAILABLE,
          err,
          subscriptionId: req.subscriptionId,
          webhookId: req.webhookId,
          reason: req.reason,
        },
        'cannot park the delivery (store unavailable); keeping it in process',
      );
      return false;
    }
    this.o.metrics.parks.inc({ reason: req.reason });
    if (req.lane !== null) this.markParked(req.lane, req.record, Number(req.record.offset));
    if (req.dueAt <= this.o.clock.now()) this.o.onDueNow?.();
    return true;
  }

  /**
   * Whether the ordered lane has a parked delivery ahead of the record at `at` (a lower seq), so this one
   * must park behind it; spilled deliveries after it do not count. Loads the partition's parked lanes on
   * first use after an assignment (`partitionSignal` is per assignment). Throws when the store is
   * unavailable (the caller must not send ahead of a lane it cannot check).
   */
  async laneParked(
    lane: string,
    at: { topic: string; partition: number; offset: string },
    partitionSignal: AbortSignal,
  ): Promise<boolean> {
    const seq = Number(at.offset);
    let loading = this.lanesLoaded.get(partitionSignal);
    if (loading === undefined) {
      loading = this.loadLanes(at);
      this.lanesLoaded.set(partitionSignal, loading);
      // Revoked: forget its lanes (memory stays bounded by the partitions owned); reloaded if it comes back.
      partitionSignal.addEventListener('abort', () => this.parkedLanes.delete(tpKey(at)), { once: true });
      // A failed load is tried again by the next delivery of the partition.
      loading.catch(() => this.lanesLoaded.delete(partitionSignal));
    }
    await loading;
    const lanes = this.parkedLanes.get(tpKey(at));
    const known = lanes?.get(lane);
    // Only this instance parks into its partitions' lanes, and it loaded them: nothing known ahead is
    // nothing ahead.
    if (lanes === undefined || known === undefined || known.head >= seq) return false;
    if (this.o.clock.now() - known.at < this.o.laneRecheckMs) return true;
    // Maybe drained meanwhile (by a runner on any instance): ask.
    const head = await this.o.store.laneHead(lane);
    if (head === null) {
      lanes.delete(lane);
      return false;
    }
    lanes.set(lane, { head, at: this.o.clock.now() });
    return head < seq;
  }

  private async loadLanes(at: { topic: string; partition: number }): Promise<void> {
    const lanes = await this.o.store.parkedLanes([at]);
    for (const { lane, head } of lanes) this.markParked(lane, at, head);
    if (lanes.length > 0) {
      this.log.info({ ...at, lanes: lanes.length }, 'ordered lanes with parked deliveries');
    }
  }

  private markParked(lane: string, at: { topic: string; partition: number }, seq: number): void {
    const key = tpKey(at);
    let lanes = this.parkedLanes.get(key);
    if (lanes === undefined) {
      lanes = new Map();
      this.parkedLanes.set(key, lanes);
    }
    const head = Math.min(lanes.get(lane)?.head ?? Infinity, seq);
    lanes.set(lane, { head, at: this.o.clock.now() });
  }

  /**
   * Counts a delivery of a concurrent subscription in, per partition; false = that partition holds its
   * bound of this subscription's deliveries already (its receiver is slower than its events): spill it.
   * Per partition, because what a slow subscription must not do is fill a partition's window; a busy
   * instance whose deliveries queue for CPU or its own limits spreads over the partitions and spills none.
   */
  enterSubscription(subscriptionId: string, at: { topic: string; partition: number }): boolean {
    const key = `${subscriptionId}\u0000${tpKey(at)}`;
    const n = this.pendingBySub.get(key) ?? 0;
    if (n >= this.o.subscriptionMaxPending) return false;
    this.pendingBySub.set(key, n + 1);
    return true;
  }

  leaveSubscription(subscriptionId: string, at: { topic: string; partition: number }): void {
    const key = `${subscriptionId}\u0000${tpKey(at)}`;
    const n = (this.pendingBySub.get(key) ?? 1) - 1;
    if (n <= 0) this.pendingBySub.delete(key);
    else this.pendingBySub.set(key, n);
  }

  /**
   * Counts a delivery into an ordered lane's in-process queue; false = spill it instead (`spill`): the
   * queue is full, or the lane is spilling already (until its queue has drained).
   */
  enterLane(lane: string): boolean {
    if (this.spilling.has(lane)) return false;
    const n = this.pendingByLane.get(lane) ?? 0;
    if (n >= this.o.laneMaxPending) {
      this.spilling.set(lane, new Set());
      return false;
    }
    this.pendingByLane.set(lane, n + 1);
    return true;
  }

  /** Counts a delivery into the lane's in-process queue although it is full (its spill could not be written). */
  enterLaneAnyway(lane: string): void {
    this.pendingByLane.set(lane, (this.pendingByLane.get(lane) ?? 0) + 1);
  }

  /**
   * The lane's delivery left the in-process queue: delivered, dead-lettered or parked — or aborted (its
   * partition revoked, or shutdown): then its record goes to the partition's next owner, and the held
   * spilled rows must wait for that owner to park the earlier ones (it re-parks the held ones too, due
   * at once, as it reads them again); they are not released here.
   */
  leaveLane(lane: string, aborted = false): void {
    const n = (this.pendingByLane.get(lane) ?? 1) - 1;
    if (n > 0) {
      this.pendingByLane.set(lane, n);
      return;
    }
    this.pendingByLane.delete(lane);
    const writes = this.spilling.get(lane);
    if (writes === undefined) return;
    if (aborted) {
      this.spilling.delete(lane);
      return;
    }
    void this.release(lane, writes);
  }

  /**
   * Every earlier delivery of the lane is done or parked (lower seq): the held rows may go once every
   * spill write of the lane has landed. The lane stays spilling until then (new deliveries spill too,
   * and are waited for as well). Not released (store down): they are due after the hold.
   */
  private async release(lane: string, writes: Set<Promise<boolean>>): Promise<void> {
    while (writes.size > 0) await Promise.allSettled([...writes]);
    this.spilling.delete(lane);
    try {
      await this.o.store.releaseSpilled(lane);
      this.o.onDueNow?.();
    } catch (err) {
      this.log.warn({ err }, 'cannot release a spilled lane; it is due after its hold');
    }
  }

  /**
   * Parks a delivery of an ordered lane whose in-process queue is full, at once and not at its turn: held
   * (due after SPILL_HOLD_MS) so no runner takes it while earlier deliveries of the lane still run here;
   * released when they are done. True once written.
   */
  spill(req: ParkRequest): Promise<boolean> {
    const writes = req.lane === null ? undefined : this.spilling.get(req.lane);
    // Parked from now on, before the write lands: a later delivery of the lane must not go ahead of it
    // (if the write fails, that one queues on the lane and, at its turn, waits to park behind).
    if (req.lane !== null) this.markParked(req.lane, req.record, Number(req.record.offset));
    const parked = this.park({ ...req, dueAt: this.o.clock.now() + SPILL_HOLD_MS });
    if (writes !== undefined) {
      writes.add(parked);
      void parked.then(() => writes.delete(parked));
    }
    return parked;
  }
}

const tpKey = (at: { topic: string; partition: number }): string => `${at.topic}\u0000${at.partition}`;
