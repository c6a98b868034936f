/**
 * Composition root: the only module that builds the real clients (Kafka, the Postgres pools, the HTTP
 * transport, the metrics registry) and installs signal handlers. `productionDeps` is the one wiring of the
 * connector's dependencies: `runService` (the `run` command), `bench/connector-driver.ts` and
 * `test/support/connector.ts` all build the app from it, so the benchmark and the tests cannot drift from
 * production. The command switch, the usage texts and the exit codes are in cli.ts.
 */
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { createApiStores } from './api/api-stores.js';
import { createApp, type AppDeps } from './app.js';
import { systemClock } from './clock.js';
import { startApiServer } from './commands/api.js';
import type { ReplayCommandDeps } from './commands/replay.js';
import { redactConfig, type Config } from './config.js';
import { ConnectorError, ErrorCode, errorCodeOf } from './errors.js';
import { createRegistryDecoderFromConfig } from './events/registry-from-config.js';
import { applyHeapPolicy } from './heap-policy.js';
import { createKafka } from './kafka/create-kafka.js';
import type { Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { createPgDeliveryStore } from './parking/pg-delivery-store.js';
import { createSubscriptionStore } from './subscriptions/pg-store.js';
import { createDeliveryLogPool, createPgPool, type Pool } from './subscriptions/pool.js';
import type { SubscriptionStore } from './subscriptions/types.js';
import { createTransportFromConfig } from './transport/create-transport.js';

/** Postgres errors (node-postgres's DatabaseError carries a severity; a failed connection a system code). */
function isPostgresFailure(err: unknown): err is Error {
  if (!(err instanceof Error) || errorCodeOf(err) !== undefined) return false;
  const e = err as Error & { severity?: unknown; code?: unknown };
  return (
    typeof e.severity === 'string' ||
    (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) ||
    /^Connection terminated/.test(e.message)
  );
}

const TLS_FILES = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const;

/** createKafka, with a KAFKA_SSL_* file that cannot be read reported as the configuration problem it is. */
export function kafkaFromConfig(config: Config, logger: Logger, metrics?: Metrics): Kafka {
  try {
    return createKafka(config, logger, metrics);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const variable = TLS_FILES.find((k) => config[k] !== '' && config[k] === e.path);
    if (variable === undefined) throw err;
    const problem = `${variable}: cannot read ${JSON.stringify(e.path)} (${e.code})`;
    throw new ConnectorError(
      ErrorCode.CONFIG_INVALID,
      `invalid configuration:\n  - ${problem}`,
      { problems: [problem] },
      { cause: err },
    );
  }
}

/** What the tests and the benchmark may set differently from production; everything else is production's. */
export interface ProductionOverrides {
  /**
   * Node's process metrics (CPU, heap, event loop, GC) on the registry; default true. The tests turn them
   * off: several connectors run in one jest process, and no test reads them.
   */
  readonly defaultMetrics?: boolean;
  /** The main pool's size; default createPgPool's. The tests keep it small: many connectors share Postgres. */
  readonly poolMax?: number;
  /** Consumer-lag poll interval; default the app's (10 s). */
  readonly lagIntervalMs?: number;
  /** kafkajs crashed for good (AppDeps.onFatal). */
  readonly onFatal?: (err: unknown) => void;
}

export interface ProductionDeps extends AppDeps {
  readonly deliveryLogPool: Pool;
  /** Ends both pools: after the app has stopped. */
  endPools(): Promise<void>;
}

/**
 * The connector's real dependencies, from the configuration. Throws (before any pool exists) when the Kafka
 * client cannot be built, e.g. a KAFKA_SSL_* file that cannot be read.
 */
export function productionDeps(
  config: Config,
  logger: Logger,
  overrides: ProductionOverrides = {},
): ProductionDeps {
  const registry = new Registry();
  const metrics = createMetrics(registry, { defaultMetrics: overrides.defaultMetrics ?? true });
  const kafka = kafkaFromConfig(config, logger, metrics);
  const pool = createPgPool({ connectionString: config.DATABASE_URL, logger, max: overrides.poolMax });
  const deliveryLogPool = createDeliveryLogPool({ connectionString: config.DATABASE_URL, logger });
  return {
    config,
    logger,
    clock: systemClock,
    random: Math.random,
    kafka,
    pool,
    deliveryLogPool,
    transport: createTransportFromConfig(config),
    registry,
    metrics,
    registryDecoder: createRegistryDecoderFromConfig(config, logger),
    onFatal: overrides.onFatal,
    lagIntervalMs: overrides.lagIntervalMs,
    endPools: async () => {
      await Promise.all([pool.end(), deliveryLogPool.end()]);
    },
  };
}

/** A start failure as an operator reads it: an ops server address that cannot be bound is configuration. */
function startError(err: unknown, config: Config): unknown {
  const e = err as (NodeJS.ErrnoException & { syscall?: string; port?: number }) | undefined;
  if (e?.syscall !== 'listen' || typeof e.code !== 'string') return err;
  const how = e.code === 'EADDRINUSE' ? 'is in use' : `cannot be bound (${e.code})`;
  const api = e.port !== undefined && e.port === config.API_PORT && e.port !== config.OPS_PORT;
  const problem = api
    ? `API_PORT: ${config.API_HOST}:${config.API_PORT} ${how}`
    : `OPS_PORT: ${config.OPS_HOST}:${config.OPS_PORT} ${how}`;
  return new ConnectorError(
    ErrorCode.CONFIG_INVALID,
    `invalid configuration:\n  - ${problem}`,
    { problems: [problem] },
    { cause: err },
  );
}

/** `webhook-connector run`: the connector until SIGTERM or SIGINT (or kafkajs gives up). */
export async function runService(config: Config, logger: Logger): Promise<void> {
  logger.info({ config: redactConfig(config) }, 'starting');
  applyHeapPolicy(config.HEAP_GROWTH_PERCENT);
  let onFatal = (_err: unknown): void => undefined;
  let deps: ProductionDeps;
  try {
    deps = productionDeps(config, logger, { onFatal: (err) => onFatal(err) });
  } catch (err) {
    logger.fatal({ err, code: errorCodeOf(err) }, 'start failed');
    throw err;
  }
  const app = createApp(deps);
  let stopping = false;
  const shutdown = (signal: string, exitCode = 0): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'draining before exit (send the signal again to exit at once)');
    app
      .stop()
      .then(() => deps.endPools())
      .then(
        () => process.exit(exitCode),
        (err: unknown) => {
          logger.error({ err }, 'error during shutdown');
          process.exit(1);
        },
      );
  };
  // kafkajs gave up (a crash it does not restart from): drain what is in flight, then exit non-zero so the
  // orchestrator restarts the process instead of keeping a member that consumes nothing.
  onFatal = () => shutdown('kafka consumer crashed', 1);
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  try {
    await app.start();
  } catch (failure) {
    const err = startError(failure, config);
    logger.fatal({ err, code: errorCodeOf(err) }, 'start failed');
    await app.stop().catch(() => undefined);
    await deps.endPools().catch(() => undefined);
    throw err;
  }
}

/** `webhook-connector api`: the management API until SIGTERM or SIGINT. */
export async function runApi(config: Config, logger: Logger): Promise<void> {
  logger.info({ config: redactConfig(config) }, 'starting management API');
  const pool = createPgPool({
    connectionString: config.DATABASE_URL,
    logger,
    applicationName: 'tiledesk-webhook-connector:api',
  });
  let api;
  try {
    api = await startApiServer({
      config,
      logger,
      pool,
      registry: new Registry(),
      ...createApiStores(pool),
    });
  } catch (failure) {
    const err = startError(failure, config);
    logger.fatal({ err, code: errorCodeOf(err) }, 'start failed');
    await pool.end().catch(() => undefined);
    throw err;
  }
  const running = api;
  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'stopping the management API');
    running
      .stop()
      .then(() => pool.end())
      .then(
        () => process.exit(0),
        (err: unknown) => {
          logger.error({ err }, 'error during shutdown');
          process.exit(1);
        },
      );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}

/** A small pool for one CLI command, its connections named after it (`tiledesk-webhook-connector:migrate`). */
export async function withPool<T>(
  config: Config,
  logger: Logger,
  command: string,
  fn: (pool: Pool) => Promise<T>,
): Promise<T> {
  const applicationName = `tiledesk-webhook-connector:${command}`;
  const pool = createPgPool({ connectionString: config.DATABASE_URL, logger, max: 2, applicationName });
  try {
    return await fn(pool);
  } catch (err) {
    if (!isPostgresFailure(err)) throw err;
    throw new ConnectorError(
      ErrorCode.SUBSCRIPTIONS_UNAVAILABLE,
      `Postgres: ${err.message}`,
      {},
      { cause: err },
    );
  } finally {
    await pool.end();
  }
}

/**
 * What a replay re-delivers with (`replay`, and `subscriptions enable --recover-since`): the Kafka client
 * and the HTTP transport are built here, when the replay runs, not before.
 */
export function replayDeps(
  config: Config,
  logger: Logger,
  pool: Pool,
  out: (line: string) => void,
  store: SubscriptionStore = createSubscriptionStore(pool),
): ReplayCommandDeps {
  return {
    config,
    logger,
    kafka: kafkaFromConfig(config, logger),
    store,
    deliveries: createPgDeliveryStore(pool),
    transport: createTransportFromConfig(config),
    out,
  };
}

/** Resolves at the first SIGTERM or SIGINT: the end of a command that runs until stopped. */
export function untilStopped(): Promise<void> {
  return new Promise((resolve) => {
    process.once('SIGTERM', () => resolve());
    process.once('SIGINT', () => resolve());
  });
}
