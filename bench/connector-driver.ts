/**
 * Our connector under test, in its own process: built by `productionDeps` of `src/main.ts`, the wiring
 * `run` uses (config from the environment, real pg pools, kafkajs, HTTP transport, metrics), plus
 * an IPC line to bench/run.ts: start-up phases (subscription load, ready) and a clean exit on request, so
 * `--cpu-prof` profiles get written. CPU and RSS are measured from outside (/proc), like every other process.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createApp } from '../src/app.js';
import { applyHeapPolicy } from '../src/heap-policy.js';
import { loadConfig } from '../src/config.js';
import { createLogger } from '../src/logger.js';
import { productionDeps } from '../src/main.js';

const importedAt = performance.now();
const send = (m: Record<string, unknown>): void => void process.send?.(m);

async function main(): Promise<void> {
  const config = loadConfig(process.env);
  applyHeapPolicy(config.HEAP_GROWTH_PERCENT); // as runService does
  const logger = createLogger(config.LOG_LEVEL);
  const deps = productionDeps(config, logger);
  const { metrics } = deps;
  const app = createApp(deps);

  // The subscription snapshot is the first thing start() loads; watch for it without touching the app.
  const startAt = performance.now();
  let loadedAt: number | null = null;
  const watch = setInterval(() => {
    if (loadedAt === null && app.readiness().detail.subscriptions !== 'unavailable') {
      loadedAt = performance.now();
    }
  }, 2);
  await app.start();
  const startedAt = performance.now();
  clearInterval(watch);
  // Ready = joined the group with the snapshot loaded (what /readyz reports).
  while (!app.readiness().ready && performance.now() - startedAt < 60_000) {
    await new Promise((r) => setTimeout(r, 10));
  }
  const readyAt = performance.now();
  const cached = (await metrics.subscriptionsCached.get()).values[0]?.value ?? 0;
  const mem = process.memoryUsage();
  send({
    type: 'started',
    importMs: importedAt,
    startMs: startedAt - startAt,
    subscriptionsLoadMs: loadedAt === null ? null : loadedAt - startAt,
    processToStartedMs: startedAt,
    startToReadyMs: readyAt - startAt,
    processToReadyMs: readyAt,
    subscriptionsCached: cached,
    opsPort: app.opsPort,
    rssMb: mem.rss / 2 ** 20,
    heapUsedMb: mem.heapUsed / 2 ** 20,
  });

  // Event-loop delay while running: a long synchronous stretch (a big batch taken at once, a GC pause)
  // delays every response and timer behind it, which shows in latency and in attempt durations.
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();

  // Memory as the process sees it (RSS is also read from /proc by the parent): what the heap holds, and
  // what sits outside it (Buffers: Kafka fetch responses, socket data).
  const peak = { heapUsedMb: 0, externalMb: 0, arrayBuffersMb: 0, rssMb: 0 };
  const memTimer = setInterval(() => {
    const u = process.memoryUsage();
    peak.heapUsedMb = Math.max(peak.heapUsedMb, u.heapUsed / 2 ** 20);
    peak.externalMb = Math.max(peak.externalMb, u.external / 2 ** 20);
    peak.arrayBuffersMb = Math.max(peak.arrayBuffersMb, u.arrayBuffers / 2 ** 20);
    peak.rssMb = Math.max(peak.rssMb, u.rss / 2 ** 20);
  }, 250);
  memTimer.unref();

  /** Attempts by result and deliveries by outcome: a run is only valid if it had no surprise failures. */
  const outcomes = async (): Promise<Record<string, number>> => {
    const out: Record<string, number> = {};
    for (const [metric, label] of [
      [metrics.attempts, 'result'],
      [metrics.deliveries, 'outcome'],
    ] as const) {
      for (const v of (await metric.get()).values) {
        const key = `${metric === metrics.attempts ? 'attempts' : 'deliveries'}.${String((v.labels as Record<string, unknown>)[label])}`;
        out[key] = (out[key] ?? 0) + v.value;
      }
    }
    // The delivery log's rows written and attempts dropped (group `log`).
    for (const v of (await metrics.logRows.get()).values) {
      out[`log.${String(v.labels.table)}`] = v.value;
    }
    out['log.dropped'] = (await metrics.logDropped.get()).values[0]?.value ?? 0;
    return out;
  };

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    outcomes()
      .then((o) => {
        loop.disable();
        const ms = (ns: number): number => ns / 1e6;
        const eventLoopDelayMs = {
          p50: ms(loop.percentile(50)),
          p99: ms(loop.percentile(99)),
          max: ms(loop.max),
        };
        send({ type: 'final', peak, outcomes: o, eventLoopDelayMs });
      })
      .catch(() => undefined)
      .then(() => app.stop())
      .then(() => deps.endPools())
      .catch((err: unknown) => {
        process.stderr.write(`connector-driver: stop: ${(err as Error).stack ?? String(err)}\n`);
      })
      .finally(() => process.exit(0));
  };
  process.on('message', (m: { cmd?: string }) => {
    if (m.cmd === 'stop') stop();
    if (m.cmd === 'mem') {
      const u = process.memoryUsage();
      send({ type: 'mem', rssMb: u.rss / 2 ** 20, heapUsedMb: u.heapUsed / 2 ** 20 });
    }
  });
  process.on('SIGTERM', stop);
  process.on('disconnect', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`connector-driver: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
