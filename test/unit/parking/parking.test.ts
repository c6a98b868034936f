import { describe, expect, it } from '@jest/globals';
import { Registry } from 'prom-client';
import { createLogger } from '../../../src/logger.js';
import { createMetrics } from '../../../src/metrics/metrics.js';
import { Parking, SPILL_HOLD_MS } from '../../../src/parking/parking.js';
import type { DeliveryStore, ParkRequest } from '../../../src/parking/types.js';
import { memoryDeliveryStore } from '../../support/memory-delivery-store.js';
import { manualClock } from '../../support/manual-clock.js';
import { inboundRecord, tiledeskEvent } from '../../support/record.js';

function setup(store: DeliveryStore, clock = manualClock(1_000_000)) {
  const registry = new Registry();
  const metrics = createMetrics(registry, { defaultMetrics: false });
  let dueNow = 0;
  const parking = new Parking({
    store,
    clock,
    metrics,
    logger: createLogger('silent'),
    subscriptionMaxPending: 2,
    laneMaxPending: 2,
    laneRecheckMs: 1_000,
    onDueNow: () => dueNow++,
  });
  return { parking, registry, clock, dueNowCount: () => dueNow };
}

const req = (over: Partial<ParkRequest> = {}): ParkRequest =>
  ({
    record: inboundRecord(),
    event: tiledeskEvent(),
    subscriptionId: 's1',
    webhookId: 'msg_1',
    lane: null,
    reason: 'retry',
    attempts: 2,
    dueAt: 2_000_000,
    ...over,
  }) as ParkRequest;

const metric = async (registry: Registry, name: string, labels: Record<string, string> = {}) => {
  const m = await registry.getSingleMetric(name)?.get();
  return (m?.values ?? [])
    .filter((v) =>
      Object.entries(labels).every(([k, x]) => String((v.labels as Record<string, unknown>)[k]) === x),
    )
    .reduce((s, v) => s + v.value, 0);
};

describe('Parking', () => {
  it('parks durably, counts it by reason, and wakes the runner only for rows due now', async () => {
    const f = memoryDeliveryStore();
    const { parking, registry, clock, dueNowCount } = setup(f);
    expect(await parking.park(req())).toBe(true);
    expect(dueNowCount()).toBe(0);
    expect(await parking.park(req({ webhookId: 'msg_2', reason: 'spill', dueAt: clock.now() }))).toBe(true);
    expect(dueNowCount()).toBe(1);
    expect(f.parked.map((r) => r.webhookId)).toEqual(['msg_1', 'msg_2']);
    expect(await metric(registry, 'webhook_connector_parks_total', { reason: 'retry' })).toBe(1);
    expect(await metric(registry, 'webhook_connector_parks_total', { reason: 'spill' })).toBe(1);
  });

  it('says false (keep it in process) when the store is down, and counts the failure', async () => {
    const f = memoryDeliveryStore({ down: true });
    const { parking, registry } = setup(f);
    expect(await parking.park(req())).toBe(false);
    expect(await metric(registry, 'webhook_connector_park_failures_total')).toBe(1);
    expect(await metric(registry, 'webhook_connector_parks_total')).toBe(0);
  });

  it("loads a partition's parked lanes once per assignment, then answers from memory", async () => {
    const f = memoryDeliveryStore({ lanes: { 's1\u0000k1': 3 } });
    const { parking } = setup(f);
    const at = { topic: 't', partition: 0, offset: '10' };
    const assignment = new AbortController().signal;
    expect(await parking.laneParked('s1\u0000k1', at, assignment)).toBe(true);
    expect(await parking.laneParked('s1\u0000k2', at, assignment)).toBe(false);
    expect(await parking.laneParked('s1\u0000k2', at, assignment)).toBe(false);
    expect(f.calls.parkedLanes).toBe(1);
    // A new assignment (new partition signal) loads again: another instance may have parked meanwhile.
    f.lanes.set('s1\u0000k2', 3);
    expect(await parking.laneParked('s1\u0000k2', at, new AbortController().signal)).toBe(true);
    expect(f.calls.parkedLanes).toBe(2);
  });

  it('marks a lane parked when it parks into it, and checks the store again once the mark is old', async () => {
    const f = memoryDeliveryStore();
    const { parking, clock } = setup(f);
    const at = { topic: 't', partition: 0, offset: '10' };
    const signal = new AbortController().signal;
    const lane = 's1\u0000k';
    expect(await parking.laneParked(lane, at, signal)).toBe(false);
    await parking.park(req({ lane }));
    expect(await parking.laneParked(lane, at, signal)).toBe(true);
    expect(f.calls.laneHead).toBe(0);
    // The runner (any instance) drained the lane; after the recheck interval the store says so.
    f.lanes.delete(lane);
    await clock.advance(1_000);
    expect(await parking.laneParked(lane, at, signal)).toBe(false);
    expect(f.calls.laneHead).toBe(1);
    expect(await parking.laneParked(lane, at, signal)).toBe(false);
    expect(f.calls.laneHead).toBe(1);
  });

  it('throws when it cannot load the lanes (the caller must not send ahead), and loads again next time', async () => {
    const f = memoryDeliveryStore({ down: true });
    const { parking } = setup(f);
    const at = { topic: 't', partition: 0, offset: '10' };
    const signal = new AbortController().signal;
    await expect(parking.laneParked('l', at, signal)).rejects.toThrow('ECONNREFUSED');
    f.down = false;
    expect(await parking.laneParked('l', at, signal)).toBe(false);
    expect(f.calls.parkedLanes).toBe(2);
  });

  it('bounds what a subscription holds in process, per partition', () => {
    const { parking } = setup(memoryDeliveryStore());
    const p0 = { topic: 't', partition: 0 };
    const p1 = { topic: 't', partition: 1 };
    expect(parking.enterSubscription('s', p0)).toBe(true);
    expect(parking.enterSubscription('s', p0)).toBe(true);
    expect(parking.enterSubscription('s', p0)).toBe(false);
    // Per partition: the same subscription on another partition, and another subscription, are apart.
    expect(parking.enterSubscription('s', p1)).toBe(true);
    expect(parking.enterSubscription('other', p0)).toBe(true);
    parking.leaveSubscription('s', p0);
    expect(parking.enterSubscription('s', p0)).toBe(true);
  });

  it('spills an ordered lane past its bound, held, until its in-process queue drains; then releases it', async () => {
    const f = memoryDeliveryStore();
    const { parking, clock, dueNowCount } = setup(f);
    const lane = 's1\u0000k';
    expect(parking.enterLane(lane)).toBe(true);
    expect(parking.enterLane(lane)).toBe(true);
    expect(parking.enterLane(lane)).toBe(false); // full: spill
    expect(await parking.spill(req({ lane, reason: 'spill', dueAt: clock.now() }))).toBe(true);
    // Held: no runner may take it while the two ahead of it still run here.
    expect(f.parked[0]!.dueAt).toBe(clock.now() + SPILL_HOLD_MS);
    expect(dueNowCount()).toBe(0);
    parking.leaveLane(lane);
    expect(parking.enterLane(lane)).toBe(false); // still spilling: one ahead still runs
    expect(await parking.spill(req({ lane, webhookId: 'msg_2', reason: 'spill' }))).toBe(true);
    expect(f.released).toEqual([]);
    parking.leaveLane(lane);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setImmediate(r));
    expect(f.released).toEqual([lane]);
    expect(dueNowCount()).toBe(1);
    expect(parking.enterLane(lane)).toBe(true); // drained: in process again (and parks behind at its turn)
  });

  it('does not release a spilled lane whose in-process deliveries were aborted (revoked): the next owner orders it', async () => {
    const f = memoryDeliveryStore();
    const { parking, clock } = setup(f);
    const lane = 's1\u0000k';
    expect(parking.enterLane(lane)).toBe(true);
    expect(parking.enterLane(lane)).toBe(true);
    expect(parking.enterLane(lane)).toBe(false);
    expect(await parking.spill(req({ lane, reason: 'spill', dueAt: clock.now() }))).toBe(true);
    parking.leaveLane(lane, true);
    parking.leaveLane(lane, true);
    await new Promise((r) => setImmediate(r));
    expect(f.released).toEqual([]);
  });

  it("marks a spilled lane parked before its write lands, and forgets a revoked partition's lanes", async () => {
    const f = memoryDeliveryStore();
    const { parking } = setup(f);
    const at = { topic: 't', partition: 0, offset: '10' };
    const assignment = new AbortController();
    const lane = 's1\u0000k';
    expect(await parking.laneParked(lane, at, assignment.signal)).toBe(false);
    parking.enterLane(lane);
    parking.enterLane(lane);
    expect(parking.enterLane(lane)).toBe(false);
    f.down = true; // the write fails: the lane must still count as parked
    expect(await parking.spill(req({ lane, reason: 'spill' }))).toBe(false);
    f.down = false;
    expect(await parking.laneParked(lane, at, assignment.signal)).toBe(true);
    assignment.abort();
    f.lanes.clear();
    // Reassigned later: a new signal reloads from the store (where nothing is parked now).
    expect(await parking.laneParked(lane, at, new AbortController().signal)).toBe(false);
  });

  it('counts only parked deliveries ahead (lower seq): one queued before a spill is not parked behind it', async () => {
    const f = memoryDeliveryStore();
    const { parking } = setup(f);
    const signal = new AbortController().signal;
    const lane = 's1\u0000k';
    parking.enterLane(lane);
    parking.enterLane(lane);
    expect(parking.enterLane(lane)).toBe(false);
    // Record 16 spills (held) while records 3 and 4 still wait for their turn in the lane.
    expect(
      await parking.spill(req({ lane, reason: 'spill', record: { ...req().record, offset: '16' } })),
    ).toBe(true);
    expect(await parking.laneParked(lane, { topic: 't', partition: 0, offset: '3' }, signal)).toBe(false);
    expect(await parking.laneParked(lane, { topic: 't', partition: 0, offset: '17' }, signal)).toBe(true);
  });
});
