/**
 * A DeliveryStore in memory, for unit tests of the pure core that parks (the real one is tested against
 * Postgres in test/integration/pg-delivery-store.test.ts). `down` makes every call reject, as an
 * unreachable Postgres does.
 */
import type { DeliveryStore, ParkRequest } from '../../src/parking/types.js';

export interface MemoryDeliveryStore extends DeliveryStore {
  readonly parked: ParkRequest[];
  /** Parked lanes with their head (lowest parked seq). */
  readonly lanes: Map<string, number>;
  readonly released: string[];
  readonly calls: { parkedLanes: number; laneHead: number };
  down: boolean;
}

export function memoryDeliveryStore(
  o: { down?: boolean; lanes?: Record<string, number> } = {},
): MemoryDeliveryStore {
  const unavailable = (): Error => new Error('connect ECONNREFUSED 127.0.0.1:5432');
  const store: MemoryDeliveryStore = {
    parked: [],
    lanes: new Map(Object.entries(o.lanes ?? {})),
    released: [],
    calls: { parkedLanes: 0, laneHead: 0 },
    down: o.down ?? false,
    async park(reqs) {
      if (store.down) throw unavailable();
      store.parked.push(...reqs);
      for (const r of reqs) {
        if (r.lane === null) continue;
        store.lanes.set(r.lane, Math.min(store.lanes.get(r.lane) ?? Infinity, Number(r.record.offset)));
      }
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
      return [...store.lanes].map(([lane, head]) => ({ lane, head }));
    },
    async releaseSpilled(lane) {
      if (store.down) throw unavailable();
      store.released.push(lane);
    },
    async laneHead(lane) {
      store.calls.laneHead++;
      if (store.down) throw unavailable();
      return store.lanes.get(lane) ?? null;
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
