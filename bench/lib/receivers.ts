/**
 * The receivers' process (bench/receiver.ts) as the scenarios use it: one main port and the isolation
 * ports, deliveries counted there, and the measured window of a run with the CPU every process spent in it.
 */
import { forkBuilt, sleep, type Child } from './child.js';
import type { MachineMonitor } from './proc.js';
import { ProcMonitor } from './proc.js';
import { cpuMicrosPerItem, cpuPercent } from './stats.js';
import type { PortSummary, ReceiverMode } from '../receiver.js';

export const url = (port: number, path = '/hook'): string => `http://127.0.0.1:${port}${path}`;

export interface Measured {
  readonly delivered: number;
  readonly complete: boolean;
  readonly rate: number | null;
  readonly cpuPercent: number | null;
  readonly cpuMicrosPerDelivery: number | null;
  readonly peakRssMb: number | null;
  /** The receivers' CPU in the same window: near 100 % would mean the receiver, not the system under test, limits. */
  readonly receiverCpuPercent: number | null;
  /** The whole machine's busy CPU in the window, % of one core (200 = both cores saturated). */
  readonly machineCpuPercent: number | null;
  /** The measured window (wall clock) and the deliveries in it. */
  readonly window: { from: number; to: number; count: number } | null;
}

export class Receivers {
  private constructor(
    readonly child: Child,
    readonly monitor: ProcMonitor,
    readonly machine: MachineMonitor,
    /** Where every scenario but isolation and outage delivers. */
    readonly mainPort: number,
    /** One per subscriber of the isolation and outage groups; the first is the one that fails. */
    readonly isoPorts: readonly number[],
  ) {}

  static async start(isoSubscribers: number, machine: MachineMonitor): Promise<Receivers> {
    const child = forkBuilt('receiver', 'bench/receiver.ts', {
      env: { RECEIVER_PORTS: String(1 + isoSubscribers) },
    });
    const hello = await child.message<{ result: { ports: number[] } }>((m) => m.id === 0, 30_000);
    const [mainPort = 0, ...isoPorts] = hello.result.ports;
    return new Receivers(child, new ProcMonitor(child.pid), machine, mainPort, isoPorts);
  }

  reset(latency = false): Promise<unknown> {
    return this.child.call({ cmd: 'reset', latency });
  }

  setMode(port: number, mode: ReceiverMode): Promise<unknown> {
    return this.child.call({ cmd: 'mode', port, mode });
  }

  async counted(ports: readonly number[]): Promise<number> {
    const counts = await this.child.call<Record<string, number>>({ cmd: 'counts' });
    return ports.reduce((n, p) => n + (counts[p] ?? 0), 0);
  }

  /** Requests seen per port, answered or not (a hung port counts). */
  seen(): Promise<Record<string, number>> {
    return this.child.call<Record<string, number>>({ cmd: 'seen' });
  }

  summarize(ports: readonly number[], extra: Record<string, unknown> = {}): Promise<PortSummary> {
    return this.child.call<PortSummary>({ cmd: 'summary', ports, ...extra }, 120_000);
  }

  /** Polls until `expected` deliveries on `ports` or `capSeconds` after `startMs`; returns the end time. */
  async waitDeliveries(
    ports: readonly number[],
    expected: number,
    startMs: number,
    capSeconds: number,
    alive?: () => boolean,
  ): Promise<number> {
    for (;;) {
      const n = await this.counted(ports);
      if (n >= expected || Date.now() - startMs >= capSeconds * 1000 || (alive && !alive())) {
        return Date.now();
      }
      await sleep(200);
    }
  }

  /** Rate towards `expected` on `ports` (bench/lib/stats.ts steadyRateToTarget) and the CPU spent in that window. */
  async measure(
    ports: readonly number[],
    expected: number,
    startMs: number,
    endMs: number,
    mon: ProcMonitor,
    hi = 0.9,
    warmupMs?: number,
  ): Promise<Measured> {
    const s = await this.summarize(ports, { expected, startMs, endMs, hi, warmupMs });
    const t = s.target!;
    const cpuMs = t.from !== null && t.to !== null ? mon.cpuBetween(t.from, t.to) : null;
    const receiverCpuMs = t.from !== null && t.to !== null ? this.monitor.cpuBetween(t.from, t.to) : null;
    return {
      machineCpuPercent:
        t.from !== null && t.to !== null ? this.machine.busyPercentBetween(t.from, t.to) : null,
      receiverCpuPercent:
        receiverCpuMs !== null && t.from !== null && t.to !== null
          ? cpuPercent(receiverCpuMs, t.to - t.from)
          : null,
      delivered: s.count,
      complete: t.complete,
      rate: t.rate,
      cpuPercent:
        cpuMs !== null && t.from !== null && t.to !== null ? cpuPercent(cpuMs, t.to - t.from) : null,
      cpuMicrosPerDelivery: cpuMicrosPerItem(cpuMs, t.count),
      peakRssMb: mon.peakRssMb,
      window: t.from !== null && t.to !== null ? { from: t.from, to: t.to, count: t.count } : null,
    };
  }

  async exit(): Promise<void> {
    await this.child.call({ cmd: 'exit' }).catch(() => undefined);
  }
}
