/**
 * Starts the real connector (createApp) in-process against the real broker, Postgres and HTTP receivers,
 * with its logs captured so tests can assert on them (and grep them for secrets).
 */
import { Writable } from 'node:stream';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { createApp, type App } from '../../src/app.js';
import { systemClock } from '../../src/clock.js';
import { loadConfig, type Config } from '../../src/config.js';
import type { RegistryDecoder } from '../../src/events/decode-record.js';
import { createKafka } from '../../src/kafka/create-kafka.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { createDeliveryLogPool, createPgPool } from '../../src/subscriptions/pool.js';
import { createTransportFromConfig } from '../../src/transport/create-transport.js';
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
  readonly registryDecoder?: RegistryDecoder;
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
  const registry = new Registry();
  const metrics = createMetrics(registry, { defaultMetrics: false });
  const pool = createPgPool({ connectionString: config.DATABASE_URL, logger, max: 3 });
  const deliveryLogPool = createDeliveryLogPool({ connectionString: config.DATABASE_URL, logger });
  const app = createApp({
    config,
    logger,
    clock: systemClock,
    random: Math.random,
    kafka: createKafka(config, logger, metrics),
    pool,
    deliveryLogPool,
    transport: createTransportFromConfig(config),
    registry,
    metrics,
    registryDecoder: o.registryDecoder,
    lagIntervalMs: 500,
  });
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
      await pool.end();
      await deliveryLogPool.end();
    },
  };
}
