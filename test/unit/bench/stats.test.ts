/**
 * The benchmark's own arithmetic (bench/lib/stats.ts, bench/lib/profile.ts): if these are wrong, every
 * number in bench/README.md is wrong, so they are checked against values worked out by hand.
 */
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { topSelfTime } from '../../../bench/lib/profile.js';
import {
  atLeast,
  atMost,
  ceilingFor,
  serialBound,
  cpuMicrosPerItem,
  cpuPercent,
  dueAt,
  FloatList,
  lowerBound,
  mergeSorted,
  percentile,
  rateAfterWarmup,
  rateInWindow,
  ratio,
  sortedCopy,
  steadyRate,
  steadyRateToTarget,
  steadyWindow,
} from '../../../bench/lib/stats.js';

const range = (n: number, f: (i: number) => number = (i) => i): number[] =>
  Array.from({ length: n }, (_, i) => f(i));

describe('percentile (nearest rank)', () => {
  it('gives the k-th smallest of 1..100 for p = k', () => {
    const v = range(100, (i) => i + 1);
    expect(percentile(v, 50)).toBe(50);
    expect(percentile(v, 95)).toBe(95);
    expect(percentile(v, 99)).toBe(99);
    expect(percentile(v, 100)).toBe(100);
    expect(percentile(v, 0)).toBe(1);
  });

  it('rounds the rank up on small samples and never interpolates', () => {
    expect(percentile([10, 20, 30], 50)).toBe(20); // rank ceil(1.5) = 2
    expect(percentile([10, 20, 30], 34)).toBe(20); // rank ceil(1.02) = 2
    expect(percentile([10, 20, 30], 33)).toBe(10); // rank ceil(0.99) = 1
    expect(percentile([10, 20, 30], 99)).toBe(30);
    expect(percentile([7], 99)).toBe(7);
  });

  it('p99 of 1,000 values ignores only the 10 largest', () => {
    const v = range(1000, (i) => (i < 990 ? 5 : 1000));
    expect(percentile(v, 99)).toBe(5);
    expect(percentile(v, 99.1)).toBe(1000);
  });

  it('is null on no data and refuses a p outside [0, 100]', () => {
    expect(percentile([], 50)).toBeNull();
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], Number.NaN)).toThrow(RangeError);
  });

  it('works on numbers sorted numerically, not as strings', () => {
    expect([...sortedCopy([10, 9, 100, 1])]).toEqual([1, 9, 10, 100]);
    expect(percentile(sortedCopy([100, 9, 10]), 50)).toBe(10);
  });
});

describe('steady-state rates', () => {
  // 100 arrivals, one every 10 ms: 100 per second.
  const even = range(100, (i) => 1_000 + i * 10);

  it('measures between the 10 % and 90 % arrivals', () => {
    expect(steadyRate(even)).toBeCloseTo(100, 9);
    expect(steadyWindow(even)).toEqual({ from: 1_100, to: 1_890, count: 79 });
  });

  it('leaves a slow warm-up and tail out', () => {
    // 10 arrivals over the first 5 s (warm-up), 80 every 10 ms, 10 over the last 5 s.
    const times = [
      ...range(10, (i) => i * 500),
      ...range(80, (i) => 5_000 + i * 10),
      ...range(10, (i) => 5_800 + (i + 1) * 500),
    ];
    expect(steadyRate(times)).toBeCloseTo(100, 9);
  });

  it('is null with too few arrivals or no elapsed time', () => {
    expect(steadyRate(range(9))).toBeNull();
    expect(steadyRate(range(20, () => 5))).toBeNull();
  });

  it('towards a target: equals the plain steady rate when everything arrived', () => {
    const r = steadyRateToTarget(even, 100, 0, 5_000);
    expect(r.complete).toBe(true);
    expect(r.rate).toBeCloseTo(100, 9);
    expect([r.from, r.to, r.count]).toEqual([1_100, 1_890, 79]);
  });

  it('towards a target: a capped run is measured from the 10 % mark to the end of the run', () => {
    // 1,000 expected, 500 arrived at 100/s from t = 0, the cap ended the run at 5,000 ms.
    const half = range(500, (i) => i * 10);
    const r = steadyRateToTarget(half, 1_000, 0, 5_000);
    expect(r.complete).toBe(false);
    expect(r.from).toBe(1_000); // arrival #100 = 10 % of 1,000
    expect(r.to).toBe(5_000);
    expect(r.count).toBe(399);
    expect(r.rate).toBeCloseTo(399 / 4, 9);
  });

  it('towards a target: a stall after the 90 % mark still counts when hi = 1', () => {
    // 95 of 100 arrive at 100/s, then nothing until the cap at 20 s.
    const stalled = range(95, (i) => i * 10);
    expect(steadyRateToTarget(stalled, 100, 0, 20_000, 0.1, 0.9).rate).toBeCloseTo(100, 9); // hidden by hi = 0.9
    const r = steadyRateToTarget(stalled, 100, 0, 20_000, 0.1, 1);
    expect(r.rate).toBeCloseTo(84 / 19.9, 9); // arrivals #10..#94 over 100 ms..20 s
  });

  it('towards a target: before the 10 % mark, the whole run is the window', () => {
    const r = steadyRateToTarget([100, 200, 300], 100, 0, 10_000);
    expect(r.rate).toBeCloseTo(0.3, 9);
    expect(r.count).toBe(3);
  });

  it('after a warm-up: a fixed window to the last expected arrival, or to the cap', () => {
    // 100 expected; arrivals every 10 ms from 0 to 990 ms; start 0, warm-up 50 ms (before the 10 % mark).
    const done = range(100, (i) => i * 10);
    const r = rateAfterWarmup(done, 100, 0, 5_000, 50);
    expect([r.from, r.to, r.count, r.complete]).toEqual([50, 990, 95, true]); // arrivals 50..990 inclusive
    expect(r.rate).toBeCloseTo(95_000 / 940, 9);
    // A warm-up longer than it takes 10 % to arrive ends at the 10th arrival (90 ms).
    const early = rateAfterWarmup(done, 100, 0, 5_000, 2_000);
    expect([early.from, early.to, early.count]).toEqual([90, 990, 91]);
    // A burst then a stall: 50 arrivals in the first 500 ms, nothing until the cap at 10 s.
    const stalled = range(50, (i) => i * 10);
    const s = rateAfterWarmup(stalled, 100, 0, 10_000, 200);
    expect([s.from, s.to, s.count, s.complete]).toEqual([90, 10_000, 41, false]);
    expect(s.rate).toBeCloseTo(41 / 9.91, 9); // 41 arrivals (90..490 ms) over 90 ms..10 s
    // Fewer than 10 % arrived and the run ended before the warm-up did: nothing to measure.
    expect(
      rateAfterWarmup(
        range(5, (i) => i * 10),
        100,
        0,
        100,
        200,
      ).rate,
    ).toBeNull();
    // Nothing arrived at all (the peer with its hung head): zero over the whole window.
    expect(rateAfterWarmup([], 100, 0, 10_000, 2_000).rate).toBe(0);
  });

  it('counts arrivals in a time window, start included, end excluded', () => {
    expect(rateInWindow(even, 1_000, 2_000)).toBe(100);
    expect(rateInWindow(even, 1_005, 1_015)).toBe(100); // one arrival (1,010) in 10 ms
    expect(rateInWindow(even, 5, 5)).toBeNull();
    expect(lowerBound([1, 2, 2, 3], 2)).toBe(1);
    expect(lowerBound([1, 2, 2, 3], 4)).toBe(4);
  });

  it('merges sorted arrival lists', () => {
    expect([...mergeSorted([[1, 5, 9], [2, 3], []])]).toEqual([1, 2, 3, 5, 9]);
  });
});

describe('ratios and CPU', () => {
  it('compares a fan-out run with k × the consume ceiling or the HTTP ceiling, whichever is lower', () => {
    expect(ceilingFor(50_000, 4_000, 1)).toBe(4_000);
    expect(ceilingFor(1_000, 4_000, 3)).toBe(3_000);
    expect(() => ceilingFor(1, 1, 0)).toThrow(RangeError);
    expect(ratio(3_200, ceilingFor(50_000, 4_000, 1))).toBeCloseTo(0.8, 12);
  });

  it('adds per-item times of stages run one after another on one thread (the one-thread bound)', () => {
    // 1/200,000 + 1/50,000 + 1/40,000 s = 5 + 20 + 25 µs = 50 µs per item → 20,000 items/s.
    expect(serialBound([200_000, 50_000, 40_000])).toBeCloseTo(20_000, 6);
    expect(serialBound([10_000])).toBe(10_000);
    expect(serialBound([10_000, null])).toBeNull();
    expect(serialBound([10_000, 0])).toBeNull();
    expect(serialBound([])).toBeNull();
  });

  it('has no ratio without both numbers or with a zero denominator', () => {
    expect(ratio(1, 4)).toBe(0.25);
    expect(ratio(null, 4)).toBeNull();
    expect(ratio(1, 0)).toBeNull();
    expect(ratio(1, undefined)).toBeNull();
  });

  it('turns CPU ms into µs per delivery and % of a core', () => {
    expect(cpuMicrosPerItem(1_500, 10_000)).toBe(150);
    expect(cpuMicrosPerItem(1_500, 0)).toBeNull();
    expect(cpuPercent(3_000, 2_000)).toBe(150);
    expect(cpuPercent(1, 0)).toBeNull();
  });

  it('checks targets both ways and reports a missing value as not measured', () => {
    expect(atLeast(0.81, 0.8)).toEqual({ met: true, value: 0.81 });
    expect(atLeast(0.79, 0.8).met).toBe(false);
    expect(atMost(100, 100).met).toBe(true);
    expect(atMost(101, 100).met).toBe(false);
    expect(atMost(null, 100)).toEqual({ met: null, value: null });
  });

  it('schedules a fixed production rate', () => {
    expect(dueAt(0, 500)).toBe(0);
    expect(dueAt(999, 500)).toBe(499);
    expect(dueAt(1_000, 500)).toBe(500);
    expect(dueAt(-5, 500)).toBe(0);
  });

  it('keeps arrivals in a growable list', () => {
    const list = new FloatList(2);
    for (const v of [3, 1, 2, 5, 4]) list.push(v);
    expect(list.length).toBe(5);
    expect([...list.view()]).toEqual([3, 1, 2, 5, 4]);
    list.clear();
    expect(list.length).toBe(0);
  });
});

describe('CPU profile self time', () => {
  it('adds each sample delta to its function, merges same-named frames, and leaves idle out', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bench-profile-'));
    try {
      const frame = (functionName: string, url = '', lineNumber = 0) => ({
        functionName,
        url,
        lineNumber,
        scriptId: '0',
        columnNumber: 0,
      });
      const profile = {
        nodes: [
          { id: 1, callFrame: frame('(root)') },
          { id: 2, callFrame: frame('deliver', 'file:///repo/src/delivery/deliver.ts', 9) },
          { id: 3, callFrame: frame('deliver', 'file:///repo/src/delivery/deliver.ts', 9) },
          { id: 4, callFrame: frame('(idle)') },
          { id: 5, callFrame: frame('Hmac', 'node:internal/crypto/hash', 160) },
        ],
        startTime: 0,
        endTime: 10_000,
        samples: [2, 3, 4, 5, 2],
        timeDeltas: [1_000, 2_000, 5_000, 1_000, 1_000],
      };
      const file = join(dir, 'p.cpuprofile');
      writeFileSync(file, JSON.stringify(profile));
      const { totalMs, top } = topSelfTime(file, '/repo');
      expect(totalMs).toBe(5);
      expect(top[0]).toEqual({ fn: 'deliver', where: 'src/delivery/deliver.ts:10', selfMs: 4, percent: 80 });
      expect(top[1]).toEqual({ fn: 'Hmac', where: 'node:internal/crypto/hash:161', selfMs: 1, percent: 20 });
      expect(top).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
