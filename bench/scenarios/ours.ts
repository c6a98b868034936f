/**
 * One run of our connector (bench/connector-driver.ts in its own process): started on a topic and a
 * subscription database, measured at the receivers from ready until `expected` deliveries or the cap,
 * then asked for its own view (peak memory, attempts by result, event-loop delay) before it stops.
 * Every group but the outage one measures the connector through this.
 */
import { forkBuilt, sleep } from '../lib/child.js';
import type { BenchContext } from '../lib/context.js';
import { PgBackendMonitor, type PgShare } from '../lib/pg-backends.js';
import { ProcMonitor } from '../lib/proc.js';
import { currentLoad, type RunId, type RunResult, type Transport } from '../lib/result.js';
import { cpuMicrosPerItem, cpuPercent } from '../lib/stats.js';

export interface OursOptions {
  readonly id: RunId;
  readonly topic: string;
  readonly databaseUrl: string;
  readonly subscriptions: number;
  readonly transport: Transport;
  readonly fanOut: number;
  readonly ports: readonly number[];
  readonly expected: number;
  readonly capSeconds: number;
  /** End of the measured window as a fraction of `expected` (default 0.9). */
  readonly hi?: number;
  /** Instead of the 10–90 % window: a fixed window from ready + warm-up to the last delivery or the cap. */
  readonly warmupMs?: number;
  readonly concurrency?: number;
  readonly env?: Record<string, string>;
  readonly nodeFlags?: readonly string[];
  /** Called once the connector is ready (e.g. to start producing); the run then waits for the deliveries. */
  readonly whenReady?: () => Promise<void>;
  /** Also measure the Postgres processes serving the run (bench/lib/pg-backends.ts). */
  readonly postgres?: boolean;
}

/** The connector's environment for a run: the benchmark's common settings, then `o.env`. */
export function ourEnv(
  ctx: BenchContext,
  o: Pick<OursOptions, 'topic' | 'databaseUrl' | 'transport' | 'concurrency' | 'env'> & { id: string },
): Record<string, string> {
  const c = ctx.connector;
  return {
    KAFKA_BROKERS: '127.0.0.1:9092',
    KAFKA_TOPICS: o.topic,
    KAFKA_GROUP_ID: `${ctx.groupPrefix}${ctx.run}-${o.id}`,
    KAFKA_CLIENT_ID: `bench-${o.id}`,
    KAFKA_FROM_BEGINNING: 'true',
    DATABASE_URL: o.databaseUrl,
    TARGET_ALLOW_CIDRS: '127.0.0.1/32',
    OPS_HOST: '127.0.0.1',
    OPS_PORT: '0',
    LOG_LEVEL: 'warn',
    HTTP_CLIENT: o.transport,
    DELIVERY_CONCURRENCY: String(o.concurrency ?? c.concurrency),
    HTTP_CONNECTIONS_PER_ORIGIN: String(c.connectionsPerOrigin),
    PARTITION_MAX_IN_FLIGHT: String(c.window),
    HEAP_GROWTH_PERCENT: String(c.heapGrowth),
    SHUTDOWN_DRAIN_TIMEOUT_MS: '1000',
    ...o.env,
  };
}

export async function runOurs(ctx: BenchContext, o: OursOptions): Promise<RunResult> {
  const { receivers } = ctx;
  await receivers.reset(o.whenReady !== undefined);
  const loadBefore = currentLoad();
  const began = Date.now();
  const child = forkBuilt(`connector ${o.id}`, 'bench/connector-driver.ts', {
    env: ourEnv(ctx, o),
    nodeFlags: [...(o.nodeFlags ?? []), ...ctx.connector.nodeFlags],
    echo: ctx.connector.echo,
  });
  const mon = new ProcMonitor(child.pid);
  const pgMon = o.postgres ? await PgBackendMonitor.start(o.databaseUrl) : undefined;
  try {
    const started = await child.message<Record<string, number | null>>((m) => m.type === 'started', 90_000);
    const startMs = Date.now();
    if (o.whenReady) await o.whenReady();
    const endMs = await receivers.waitDeliveries(o.ports, o.expected, startMs, o.capSeconds, () =>
      child.isAlive(),
    );
    if (!child.isAlive()) throw new Error(`connector exited early:\n${child.output().slice(-3000)}`);
    const { window, ...m } = await receivers.measure(
      o.ports,
      o.expected,
      startMs,
      endMs,
      mon,
      o.hi,
      o.warmupMs,
    );
    const startup = Object.fromEntries(Object.entries(started).filter(([k]) => k !== 'type'));
    mon.stop();
    await pgMon?.stop();
    const pgMicros = (share: PgShare): number | null =>
      window && pgMon
        ? cpuMicrosPerItem(pgMon.cpuBetween(share, window.from, window.to), window.count)
        : null;
    const postgres = pgMon
      ? { log: pgMicros('log'), other: pgMicros('other'), background: pgMicros('background') }
      : undefined;
    const mainMs = window ? mon.mainCpuBetween(window.from, window.to) : null;
    const mainThread = window
      ? {
          cpuMicrosPerDelivery: cpuMicrosPerItem(mainMs, window.count),
          busyPercent: mainMs === null ? null : cpuPercent(mainMs, window.to - window.from),
        }
      : undefined;
    child.process.send({ cmd: 'stop' });
    const final = await child
      .message<{
        peak: Record<string, number>;
        outcomes: Record<string, number>;
        eventLoopDelayMs: Record<string, number>;
      }>((x) => x.type === 'final', 10_000)
      .catch(() => null);
    const failedAttempts = Object.entries(final?.outcomes ?? {})
      .filter(([k]) => k.startsWith('attempts.') && k !== 'attempts.success')
      .reduce((n, [, v]) => n + v, 0);
    return {
      id: o.id,
      system: 'ours',
      transport: o.transport,
      fanOut: o.fanOut,
      concurrency: o.concurrency ?? ctx.connector.concurrency,
      subscriptions: o.subscriptions,
      expected: o.expected,
      ...m,
      seconds: (Date.now() - began) / 1000,
      loadBefore,
      loadAfter: currentLoad(),
      startup,
      ...(postgres && { postgresCpuMicrosPerDelivery: postgres }),
      ...(mainThread && { mainThread }),
      memory: final?.peak,
      outcomes: final?.outcomes,
      eventLoopDelayMs: final?.eventLoopDelayMs,
      notes: failedAttempts > 0 ? [`${failedAttempts} failed attempt(s)`] : [],
    };
  } finally {
    mon.stop();
    await pgMon?.stop();
    if (child.isAlive()) child.process.send?.({ cmd: 'stop' });
    await Promise.race([child.exited, sleep(10_000)]);
    await child.kill();
  }
}

/** runOurs with a scenario's defaults filled in (bench/run.ts: fan-out 1, undici, the pre-loaded topic). */
export type OursRunner = (id: RunId, o: Partial<OursOptions>) => Promise<RunResult>;
