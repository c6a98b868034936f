import { describe, expect, it } from '@jest/globals';
import {
  logComparisons,
  logRuns,
  logSummary,
  median,
  postgresMicros,
  retainedGigabytes,
  storageSummary,
} from '../../../bench/scenarios/delivery-log.js';

describe('bench log group arithmetic', () => {
  it('interleaves off and all, ends with off, then failures', () => {
    expect(logRuns(2)).toEqual([
      'log.off.1',
      'log.all.1',
      'log.off.2',
      'log.all.2',
      'log.off.3',
      'log.failures',
    ]);
  });

  it('median of odd and even counts, ignoring missing values', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, null, 3, 2])).toBe(2.5);
    expect(median([null, undefined])).toBeNull();
  });

  it('cost from medians, paired cost per round, CPU medians of connector and Postgres', () => {
    const runs: Record<string, { rate: number; cpuMicrosPerDelivery: number; pg: number; main: number }> = {
      'log.off.1': { rate: 10_000, cpuMicrosPerDelivery: 100, pg: 0, main: 50 },
      'log.all.1': { rate: 8_000, cpuMicrosPerDelivery: 130, pg: 20, main: 58 },
      'log.off.2': { rate: 6_000, cpuMicrosPerDelivery: 104, pg: 1, main: 52 },
      'log.all.2': { rate: 6_000, cpuMicrosPerDelivery: 120, pg: 24, main: 54 },
      'log.off.3': { rate: 12_000, cpuMicrosPerDelivery: 96, pg: 0, main: 48 },
    };
    const s = logSummary((name) => {
      const r = runs[name];
      return (
        r && {
          rate: r.rate,
          cpuMicrosPerDelivery: r.cpuMicrosPerDelivery,
          postgresCpuMicrosPerDelivery: { log: r.pg, other: 0.5, background: null },
          mainThread: { cpuMicrosPerDelivery: r.main, busyPercent: r.main === 58 ? null : r.main + 40 },
        }
      );
    }, 2);
    expect(s.offRate).toBe(10_000);
    expect(s.allRate).toBe(7_000);
    expect(s.cost).toBeCloseTo(0.3, 10);
    // Round 1: 1 − 8000 ÷ 8000 = 0; round 2: 1 − 6000 ÷ 9000 = 1/3; median 1/6.
    expect(s.pairedCost).toBeCloseTo(1 / 6, 10);
    expect(s.connectorOff).toBe(100);
    expect(s.connectorAll).toBe(125);
    expect(s.postgresOff).toBe(0.5);
    expect(s.postgresAll).toBe(22.5);
    expect(s.postgresLogAll).toBe(22);
    expect(s.mainOff).toBe(50);
    expect(s.mainAll).toBe(56);
    expect(s.mainBusyOff).toBe(90);
    // A run whose thread was not measured is left out, not counted as 0.
    expect(s.mainBusyAll).toBe(94);
  });

  it('Postgres µs per delivery: the sum of the shares measured', () => {
    expect(
      postgresMicros({
        rate: 1,
        cpuMicrosPerDelivery: 1,
        postgresCpuMicrosPerDelivery: { log: 2, other: null, background: 1 },
      }),
    ).toBe(3);
    expect(postgresMicros({ rate: 1, cpuMicrosPerDelivery: 1 })).toBeNull();
  });

  it('storage: bytes per delivery, per attempt row and per event row, medians over the all runs', () => {
    const st = storageSummary([
      { attempts: 1_000, messages: 1_000, attemptBytes: 400_000, messageBytes: 1_200_000 },
      undefined,
      { attempts: 2_000, messages: 1_000, attemptBytes: 1_000_000, messageBytes: 1_300_000 },
      { attempts: 0, messages: 0, attemptBytes: 8_192, messageBytes: 8_192 },
    ]);
    // 1,600 and 1,150 B per delivery; 400 and 500 B per attempt; 1,200 and 1,300 B per event row.
    expect(st.perDelivery).toBe(1_375);
    expect(st.perAttempt).toBe(450);
    expect(st.perMessage).toBe(1_250);
    expect(storageSummary([undefined])).toEqual({ perDelivery: null, perAttempt: null, perMessage: null });
    // 1,000 B per delivery at 1,000/s for one day: 86.4 GB.
    expect(retainedGigabytes(1_000, 1_000, 1)).toBeCloseTo(86.4, 10);
  });

  it('the storage line of the report', () => {
    const { ratios } = logComparisons(
      (id) =>
        id === 'log.all.1'
          ? {
              rate: 1,
              cpuMicrosPerDelivery: 1,
              logStorage: { attempts: 100, messages: 100, attemptBytes: 40_000, messageBytes: 110_000 },
            }
          : undefined,
      1,
    );
    const line = ratios.find((r) => r.id === 'log.storage')!;
    expect(line.value).toBe(1_500);
    expect(line.detail).toBe(
      'attempt row 400 B, event row 1100 B; rows 100/100; 14 days at 1,000 deliveries/s: 1814 GB',
    );
  });
});
