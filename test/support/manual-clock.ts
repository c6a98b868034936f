/** A clock that moves only when told to, for unit tests; sleepers wake when their deadline is passed. */
import type { Clock } from '../../src/clock.js';

export interface ManualClock extends Clock {
  /** Moves time forward, wakes the sleepers now due, and lets their continuations run. */
  advance(ms: number): Promise<void>;
  /** Sleepers not woken yet. */
  readonly sleeping: number;
}

export function manualClock(start = 1_000_000): ManualClock {
  let now = start;
  const sleepers: { until: number; wake: () => void }[] = [];
  return {
    now: () => now,
    sleep: (ms, signal) =>
      new Promise<void>((resolve) => {
        if (signal?.aborted) return resolve();
        const sleeper = { until: now + ms, wake: resolve };
        sleepers.push(sleeper);
        signal?.addEventListener(
          'abort',
          () => {
            const i = sleepers.indexOf(sleeper);
            if (i >= 0) sleepers.splice(i, 1);
            resolve();
          },
          { once: true },
        );
      }),
    get sleeping() {
      return sleepers.length;
    },
    async advance(ms) {
      now += ms;
      for (const s of sleepers.splice(0)) {
        if (s.until <= now) s.wake();
        else sleepers.push(s);
      }
      await new Promise((r) => setImmediate(r));
    },
  };
}
