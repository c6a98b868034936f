/**
 * A DeliveryStore in memory, for unit tests of the pure core that parks (the real one is tested against
 * Postgres in test/integration/pg-delivery-store.test.ts). `down` makes every call reject, as an
 * unreachable Postgres does.
 */
import type { DeliveryStore, ParkRequest } from '../../src/parking/types.js';

export interface MemoryDeliveryStore extends DeliveryStore {
  readonly parked: ParkRequest[];
  readonly lanes: Set<string>;
  readonly released: string[];
  readonly calls: { parkedLanes: number; laneHasParked: number };
  down: boolean;
}

export function memoryDeliveryStore(o: { down?: boolean; lanes?: string[] } = {}): MemoryDeliveryStore {
  const unavailable = (): Error => new Error('connect ECONNREFUSED 127.0.0.1:5432');
  const store: MemoryDeliveryStore = {
    parked: [],
    lanes: new Set(o.lanes ?? []),
    released: [],
    calls: { parkedLanes: 0, laneHasParked: 0 },
    down: o.down ?? false,
    async park(reqs) {
      if (store.down) throw unavailable();
      store.parked.push(...reqs);
      for (const r of reqs) if (r.lane !== null) store.lanes.add(r.lane);
    },
    async claim() {
      if (store.down) throw unavailable();
      return [];
    },
    async finish() {
      if (store.down) throw unavailable();
    },
    async parkedLanes() {
      store.calls.parkedLanes++;
      if (store.down) throw unavailable();
      return [...store.lanes];
    },
    async releaseSpilled(lane) {
      if (store.down) throw unavailable();
      store.released.push(lane);
    },
    async laneHasParked(lane) {
      store.calls.laneHasParked++;
      if (store.down) throw unavailable();
      return store.lanes.has(lane);
    },
    async prune() {
      return 0;
    },
    async stats() {
      return {
        byState: { parked: store.parked.length, delivered: 0, dead: 0 },
        dueBacklog: 0,
        oldestDueAgeSeconds: 0,
      };
    },
  };
  return store;
}
