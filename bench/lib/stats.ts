/**
 * The benchmark's arithmetic, pure and unit-tested (test/unit/bench/stats.test.ts), so the numbers in the
 * report can be trusted: percentiles, steady-state rates, ratios against ceilings, CPU per delivery.
 */

/**
 * Nearest-rank percentile: the smallest value such that at least p % of the values are ≤ it.
 * `sorted` must be ascending. p in [0, 100]; p = 0 gives the minimum. Empty input → null.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within [0, 100], got ${p}`);
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  return sorted[rank - 1]!;
}

/** Ascending copy as a Float64Array (numeric sort, not the default string sort). */
export function sortedCopy(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(values).sort();
}

/**
 * Steady-state throughput (events per second) from the ascending arrival times (ms) of one run:
 * the deliveries between the `lo` and `hi` fractions of the total, divided by the time between them.
 * Warm-up (connection set-up, JIT, group join) and the tail (the last partitions draining) are left out.
 * The window spans arrivals i = floor(lo·n) .. j = ceil(hi·n) − 1, i.e. j − i intervals.
 * Null when there are too few arrivals (< 10) or no elapsed time.
 */
export function steadyRate(sortedTimesMs: ArrayLike<number>, lo = 0.1, hi = 0.9): number | null {
  const n = sortedTimesMs.length;
  if (n < 10) return null;
  if (!(lo >= 0 && lo < hi && hi <= 1)) throw new RangeError(`need 0 ≤ lo < hi ≤ 1, got ${lo}, ${hi}`);
  const i = Math.floor(lo * n);
  const j = Math.ceil(hi * n) - 1;
  const dt = sortedTimesMs[j]! - sortedTimesMs[i]!;
  if (j <= i || dt <= 0) return null;
  return ((j - i) * 1000) / dt;
}

/** The time window [from, to] (ms) that `steadyRate` measured over, for CPU accounting. */
export function steadyWindow(
  sortedTimesMs: ArrayLike<number>,
  lo = 0.1,
  hi = 0.9,
): { from: number; to: number; count: number } | null {
  const n = sortedTimesMs.length;
  if (n < 10) return null;
  const i = Math.floor(lo * n);
  const j = Math.ceil(hi * n) - 1;
  return { from: sortedTimesMs[i]!, to: sortedTimesMs[j]!, count: j - i };
}

/** Arrivals with from ≤ t < to per second (for a rate over a fixed time window, e.g. the isolation run). */
export function rateInWindow(sortedTimesMs: ArrayLike<number>, fromMs: number, toMs: number): number | null {
  if (!(toMs > fromMs)) return null;
  const count = lowerBound(sortedTimesMs, toMs) - lowerBound(sortedTimesMs, fromMs);
  return (count * 1000) / (toMs - fromMs);
}

/** First index whose value is ≥ x (ascending input). */
export function lowerBound(sorted: ArrayLike<number>, x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Merges ascending arrays into one ascending array. */
export function mergeSorted(arrays: readonly ArrayLike<number>[]): Float64Array {
  let total = 0;
  for (const a of arrays) total += a.length;
  const out = new Float64Array(total);
  let k = 0;
  for (const a of arrays) for (let i = 0; i < a.length; i++) out[k++] = a[i]!;
  return out.sort();
}

/**
 * The ceiling a connector run is compared with: the lower of the consume ceiling (events/s, times the
 * fan-out, since each event yields `fanOut` deliveries) and the HTTP ceiling (requests/s).
 */
export function ceilingFor(consumeEventsPerSec: number, httpRequestsPerSec: number, fanOut: number): number {
  if (!(fanOut >= 1)) throw new RangeError(`fan-out must be ≥ 1, got ${fanOut}`);
  return Math.min(consumeEventsPerSec * fanOut, httpRequestsPerSec);
}

/**
 * What one thread can do when every item goes through stages one after another, each at its own best
 * rate (items/s): 1 / Σ 1/rateᵢ (the per-item times add up). Null if a rate is missing or not positive.
 */
export function serialBound(rates: readonly (number | null | undefined)[]): number | null {
  let secondsPerItem = 0;
  for (const r of rates) {
    if (r === null || r === undefined || !(r > 0) || !Number.isFinite(r)) return null;
    secondsPerItem += 1 / r;
  }
  return rates.length === 0 ? null : 1 / secondsPerItem;
}

/** a ÷ b, or null when either is missing or b is not positive. */
export function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || !(b > 0) || !Number.isFinite(a)) {
    return null;
  }
  return a / b;
}

/** CPU time (ms) per delivery → microseconds per delivery. Null on missing data or zero deliveries. */
export function cpuMicrosPerItem(cpuMs: number | null | undefined, items: number): number | null {
  if (cpuMs === null || cpuMs === undefined || !(items > 0)) return null;
  return (cpuMs * 1000) / items;
}

/** CPU utilisation in percent of one core over a wall-clock interval (can exceed 100 on several cores). */
export function cpuPercent(cpuMs: number, wallMs: number): number | null {
  return wallMs > 0 ? (cpuMs / wallMs) * 100 : null;
}

export type TargetCheck = { readonly met: boolean | null; readonly value: number | null };

/** `value ≥ min` (or `≤ max`); null `met` when the value is missing. */
export function atLeast(value: number | null | undefined, min: number): TargetCheck {
  return value === null || value === undefined ? { met: null, value: null } : { met: value >= min, value };
}
export function atMost(value: number | null | undefined, max: number): TargetCheck {
  return value === null || value === undefined ? { met: null, value: null } : { met: value <= max, value };
}

/** Fixed-rate schedule: how many events are due at `elapsedMs` after the start at `perSecond`. */
export function dueAt(elapsedMs: number, perSecond: number): number {
  return Math.floor((Math.max(0, elapsedMs) * perSecond) / 1000);
}

/** Growable Float64 list (arrival times, latencies) without per-item allocation. */
export class FloatList {
  private buf: Float64Array;
  private n = 0;
  constructor(capacity = 1024) {
    this.buf = new Float64Array(Math.max(1, capacity));
  }
  push(v: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = v;
  }
  get length(): number {
    return this.n;
  }
  /** A view of the values (not a copy). */
  view(): Float64Array {
    return this.buf.subarray(0, this.n);
  }
  clear(): void {
    this.n = 0;
  }
}

export interface TargetRate {
  /** Deliveries per second in the measured window; null when nothing could be measured. */
  readonly rate: number | null;
  /** The measured window [from, to] (ms since epoch) and the deliveries in it. */
  readonly from: number | null;
  readonly to: number | null;
  readonly count: number;
  /** True when every expected delivery arrived before the run ended. */
  readonly complete: boolean;
}

/**
 * Steady-state rate of a run that expects `expected` deliveries and ended at `endMs` (the time cap or
 * the completion). The window runs from the `lo`·expected-th arrival to the `hi`·expected-th; when the
 * run ended before that second mark (capped, or stalled), it runs to `endMs` instead, so a stall counts as
 * zero throughput and is not hidden. When even the first mark was never reached, the rate is the arrivals
 * over the whole run (`startMs` → `endMs`). Indices as in `steadyRate` (i = floor(lo·expected),
 * j = ceil(hi·expected) − 1).
 */
export function steadyRateToTarget(
  sortedTimesMs: ArrayLike<number>,
  expected: number,
  startMs: number,
  endMs: number,
  lo = 0.1,
  hi = 0.9,
): TargetRate {
  const n = sortedTimesMs.length;
  const complete = n >= expected;
  if (!(expected >= 10)) return { rate: null, from: null, to: null, count: 0, complete };
  const i = Math.floor(lo * expected);
  const j = Math.ceil(hi * expected) - 1;
  if (n > j) {
    const from = sortedTimesMs[i]!;
    const to = sortedTimesMs[j]!;
    return { rate: to > from ? ((j - i) * 1000) / (to - from) : null, from, to, count: j - i, complete };
  }
  if (n > i) {
    const from = sortedTimesMs[i]!;
    const count = n - 1 - i;
    return { rate: endMs > from ? (count * 1000) / (endMs - from) : null, from, to: endMs, count, complete };
  }
  return {
    rate: endMs > startMs ? (n * 1000) / (endMs - startMs) : null,
    from: startMs,
    to: endMs,
    count: n,
    complete,
  };
}

/**
 * Rate over a fixed time window: from the end of the warm-up — `startMs + warmupMs`, or the arrival of
 * 10 % of the expected deliveries if that comes first (a fast run may be nearly over by then) — to the
 * arrival of the last expected delivery, or to `endMs` (the cap) when not all arrived. Used where
 * deliveries may stall and restart (a hung subscriber): a stall inside the window counts as zero
 * throughput, however the arrivals are spread.
 */
export function rateAfterWarmup(
  sortedTimesMs: ArrayLike<number>,
  expected: number,
  startMs: number,
  endMs: number,
  warmupMs: number,
): TargetRate {
  const n = sortedTimesMs.length;
  const complete = n >= expected && expected > 0;
  const tenth = Math.ceil(expected * 0.1);
  const from = Math.min(startMs + warmupMs, tenth >= 1 && n >= tenth ? sortedTimesMs[tenth - 1]! : Infinity);
  const to = complete ? Math.min(endMs, sortedTimesMs[expected - 1]!) : endMs;
  if (!(to > from)) return { rate: null, from: null, to: null, count: 0, complete };
  const count = lowerBound(sortedTimesMs, to + 1e-9) - lowerBound(sortedTimesMs, from);
  return { rate: (count * 1000) / (to - from), from, to, count, complete };
}
