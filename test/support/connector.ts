/**
 * Starts the real connector in-process (createApp over main.ts's productionDeps, the wiring `run` uses)
 * against the real broker, Postgres and HTTP receivers, with its logs captured so tests can assert on them
 * (and grep them for secrets).
 */
import { Writable } from 'node:stream';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import { createApp, type App } from '../../src/app.js';
import { loadConfig, type Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { productionDeps } from '../../src/main.js';
import type { Metrics } from '../../src/metrics/metrics.js';
import { KAFKA_BROKERS } from './env.js';

export interface TestConnector {
  readonly app: App;
  readonly config: Config;
  readonly registry: Registry;
  readonly metrics: Metrics;
  readonly logs: string[];
  readonly pool: pg.Pool;
  /** The sum of the series of a metric whose labels include `labels` (0 when none). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  stop(): Promise<void>;
}

export interface StartOptions {
  readonly topic: string;
  readonly groupId: string;
  readonly databaseUrl: string;
  readonly transport?: 'undici' | 'got';
  /** Any other configuration variables. */
  readonly env?: Record<string, string>;
}

export async function startConnector(o: StartOptions): Promise<TestConnector> {
  const config = loadConfig({
    KAFKA_BROKERS,
    KAFKA_TOPICS: o.topic,
    KAFKA_GROUP_ID: o.groupId,
    KAFKA_FROM_BEGINNING: 'true',
    DATABASE_URL: o.databaseUrl,
    TARGET_ALLOW_CIDRS: '127.0.0.1/32',
    OPS_HOST: '127.0.0.1',
    OPS_PORT: '0',
    HTTP_CLIENT: o.transport ?? 'undici',
    DELIVERY_TIMEOUT_MS: '2000',
    // The old compressed backoff (100 ms × 4, capped at 1 s, 6 attempts), all in process.
    RETRY_SCHEDULE: '100ms,400ms,1s,1s,1s',
    COMMIT_INTERVAL_MS: '200',
    SHUTDOWN_DRAIN_TIMEOUT_MS: '5000',
    LOG_LEVEL: 'info',
    ...o.env,
  });
  const logs: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString('utf8'));
      cb();
    },
  });
  const logger = createLogger(config.LOG_LEVEL, sink);
  // Production's wiring; the registry without Node's process metrics, a small pool (many connectors share
  // the test Postgres) and a fast lag poll.
  const deps = productionDeps(config, logger, { defaultMetrics: false, poolMax: 3, lagIntervalMs: 500 });
  const { registry, metrics, pool } = deps;
  const app = createApp(deps);
  await app.start();
  let stopped = false;
  return {
    app,
    config,
    registry,
    metrics,
    logs,
    pool,
    async metric(name, labels = {}) {
      const m = await registry.getSingleMetric(name)?.get();
      const want = Object.entries(labels);
      return (m?.values ?? [])
        .filter((x) => !('metricName' in x && x.metricName !== undefined && x.metricName !== name))
        .filter((x) => want.every(([k, val]) => String((x.labels as Record<string, unknown>)[k]) === val))
        .reduce((sum, x) => sum + x.value, 0);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.stop();
      await deps.endPools();
    },
  };
}
