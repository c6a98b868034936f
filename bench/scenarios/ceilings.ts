/**
 * Group `ceilings`: what the parts can do alone, each in its own process — consuming the topic with a
 * no-op handler (bench/consume-ceiling.ts), sending precomputed signed bodies through each HTTP client
 * (bench/http-ceiling.ts), and the per-delivery work with no I/O (bench/work-ceiling.ts). The ratios of
 * bench/lib/comparisons.ts divide our rates by these.
 */
import { forkBuilt } from '../lib/child.js';
import type { BenchContext } from '../lib/context.js';
import { ProcMonitor } from '../lib/proc.js';
import { url } from '../lib/receivers.js';
import { currentLoad, type RunResult, type Transport } from '../lib/result.js';
import { cpuMicrosPerItem, cpuPercent } from '../lib/stats.js';

export async function runCeilingConsume(ctx: BenchContext): Promise<RunResult> {
  const S = ctx.sizes;
  const loadBefore = currentLoad();
  const began = Date.now();
  const child = forkBuilt('consume-ceiling', 'bench/consume-ceiling.ts', {
    env: {
      KAFKA_BROKERS: '127.0.0.1:9092',
      KAFKA_TOPICS: ctx.topics.events,
      KAFKA_GROUP_ID: `${ctx.groupPrefix}${ctx.run}-consume-ceiling`,
      EXPECT: String(S.events),
      SECONDS: String(S.capConsume),
      LOG_LEVEL: 'warn',
    },
  });
  const mon = new ProcMonitor(child.pid);
  try {
    const r = await child.message<{
      count: number;
      rate: number | null;
      window: { from: number; to: number; count: number } | null;
    }>((m) => m.type === 'result', (S.capConsume + 60) * 1000);
    const cpuMs = r.window ? mon.cpuBetween(r.window.from, r.window.to) : null;
    return {
      id: 'ceiling.consume',
      system: 'ceiling',
      expected: S.events,
      delivered: r.count,
      complete: r.count >= S.events,
      rate: r.rate,
      cpuPercent: cpuMs !== null && r.window ? cpuPercent(cpuMs, r.window.to - r.window.from) : null,
      cpuMicrosPerDelivery: r.window ? cpuMicrosPerItem(cpuMs, r.window.count) : null,
      machineCpuPercent: r.window
        ? ctx.receivers.machine.busyPercentBetween(r.window.from, r.window.to)
        : null,
      peakRssMb: mon.peakRssMb,
      seconds: (Date.now() - began) / 1000,
      loadBefore,
      loadAfter: currentLoad(),
      notes: ['records/s, no-op eachBatch handler'],
    };
  } finally {
    mon.stop();
    await child.kill();
  }
}

export async function runCeilingWork(ctx: BenchContext): Promise<RunResult> {
  const loadBefore = currentLoad();
  const began = Date.now();
  const child = forkBuilt('work-ceiling', 'bench/work-ceiling.ts', {
    env: { SECONDS: String(ctx.quick ? 3 : 5), FAN_OUT: '1' },
  });
  const mon = new ProcMonitor(child.pid);
  try {
    const r = await child.message<{ deliveries: number; ratePerSec: number; cpuMicrosPerDelivery: number }>(
      (m) => m.type === 'result',
      60_000,
    );
    return {
      id: 'ceiling.work',
      system: 'ceiling',
      concurrency: 1,
      expected: r.deliveries,
      delivered: r.deliveries,
      complete: true,
      rate: r.ratePerSec,
      cpuPercent: null,
      cpuMicrosPerDelivery: r.cpuMicrosPerDelivery,
      peakRssMb: mon.peakRssMb,
      seconds: (Date.now() - began) / 1000,
      loadBefore,
      loadAfter: currentLoad(),
      notes: ['decode + envelope + 3 HMACs + headers per delivery, no Kafka, no HTTP, one thread'],
    };
  } finally {
    mon.stop();
    await child.kill();
  }
}

export async function runCeilingHttp(ctx: BenchContext, transport: Transport): Promise<RunResult> {
  const { receivers, connector } = ctx;
  await receivers.reset();
  const loadBefore = currentLoad();
  const began = Date.now();
  const child = forkBuilt(`http-ceiling ${transport}`, 'bench/http-ceiling.ts', {
    env: {
      HTTP_CLIENT: transport,
      TARGET_URL: url(receivers.mainPort),
      CONCURRENCY: String(connector.concurrency),
      SECONDS: String(ctx.sizes.capHttp),
      HTTP_CONNECTIONS_PER_ORIGIN: String(connector.connectionsPerOrigin),
      TARGET_ALLOW_CIDRS: '127.0.0.1/32',
      LOG_LEVEL: 'warn',
    },
  });
  const mon = new ProcMonitor(child.pid);
  try {
    const r = await child.message<{ sent: number; failures: number }>(
      (m) => m.type === 'result',
      (ctx.sizes.capHttp + 60) * 1000,
    );
    const s = await receivers.summarize([receivers.mainPort]);
    const cpuMs = s.window ? mon.cpuBetween(s.window.from, s.window.to) : null;
    const receiverCpuMs = s.window ? receivers.monitor.cpuBetween(s.window.from, s.window.to) : null;
    return {
      machineCpuPercent: s.window ? receivers.machine.busyPercentBetween(s.window.from, s.window.to) : null,
      receiverCpuPercent:
        receiverCpuMs !== null && s.window ? cpuPercent(receiverCpuMs, s.window.to - s.window.from) : null,
      id: `ceiling.http.${transport}`,
      system: 'ceiling',
      transport,
      concurrency: connector.concurrency,
      expected: r.sent,
      delivered: s.count,
      complete: true,
      rate: s.steadyRate,
      cpuPercent: cpuMs !== null && s.window ? cpuPercent(cpuMs, s.window.to - s.window.from) : null,
      cpuMicrosPerDelivery: s.window ? cpuMicrosPerItem(cpuMs, s.window.count) : null,
      peakRssMb: mon.peakRssMb,
      seconds: (Date.now() - began) / 1000,
      loadBefore,
      loadAfter: currentLoad(),
      notes: [`${r.failures} failed`, 'precomputed signed bodies'],
    };
  } finally {
    mon.stop();
    await child.kill();
  }
}
