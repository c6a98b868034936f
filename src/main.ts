/**
 * Composition root: the only module that reads process.env, builds real clients and installs signal
 * handlers. Dispatches the CLI commands: run (default), migrate, subscriptions, deliveries, replay,
 * api, api-keys, produce-sample, demo-receiver.
 */
import type { Kafka } from 'kafkajs';
import { Registry } from 'prom-client';
import { API_USAGE, startApiServer } from './commands/api.js';
import { createApiKeyStore } from './api/api-keys.js';
import { API_KEYS_USAGE, runApiKeysCommand } from './commands/api-keys.js';
import { createApiStores } from './api/api-stores.js';
import { applyHeapPolicy } from './heap-policy.js';
import { createApp } from './app.js';
import { createPgDeliveryStore } from './parking/pg-delivery-store.js';
import { systemClock } from './clock.js';
import { loadConfig, redactConfig, type Config } from './config.js';
import { REPLAY_USAGE, replayFromConfig, runReplayCommand } from './commands/replay.js';
import { DEMO_RECEIVER_USAGE, runDemoReceiver } from './commands/demo/demo-receiver.js';
import { PRODUCE_SAMPLE_USAGE, runProduceSample } from './commands/demo/produce-sample.js';
import { ConnectorError, ErrorCode, errorCodeOf, formatCliError, isConnectorError } from './errors.js';
import { createRegistryDecoderFromConfig } from './events/registry-from-config.js';
import { createKafka } from './kafka/create-kafka.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics, type Metrics } from './metrics/metrics.js';
import { DELIVERIES_USAGE, runDeliveriesCommand } from './commands/deliveries.js';
import { createDeliveryAdmin } from './parking/pg-delivery-admin.js';
import { runSubscriptionsCommand, SUBSCRIPTIONS_USAGE } from './commands/subscriptions.js';
import { migrate } from './subscriptions/migrate.js';
import { createSubscriptionStore } from './subscriptions/pg-store.js';
import { createDeliveryLogPool, createPgPool } from './subscriptions/pool.js';
import { createTransportFromConfig } from './transport/create-transport.js';

export const USAGE = `usage: webhook-connector <command> [options]

commands:
  run                      consume events and deliver webhooks (default)
  migrate                  create/upgrade the tables (subscriptions, parked deliveries; idempotent)
  subscriptions <sub>      add | list | remove | enable | disable | set-ordering | rotate-secret
                           (--help for options)
  deliveries <sub>         list | retry-now: parked and finished deliveries (--help for options)
  replay [options]         re-deliver dead-lettered deliveries (--help for options)
  api                      serve the management API (subscriptions, delivery log, resend)
  api-keys <sub>           create | list | revoke: keys of the management API (--help for options)
  produce-sample [options] produce sample Tiledesk events (--help for options)
  demo-receiver [options]  a local receiver that verifies and prints deliveries (--help for options)

Every command accepts --help (-h). Configuration comes from environment variables; see README.md.`;

const RUN_USAGE = `usage: webhook-connector run

Consumes the events of KAFKA_TOPICS and delivers them to the matching subscriptions until SIGTERM or
SIGINT (drains, commits, leaves the group; a second signal exits at once). Takes no options: the
configuration comes from environment variables (see README.md).`;

const MIGRATE_USAGE = `usage: webhook-connector migrate

Creates or upgrades the connector's tables in DATABASE_URL (webhook_subscriptions, and the parked-delivery
store: webhook_events, webhook_deliveries, webhook_subscription_health), applying schemas/sql/*.sql in order
(idempotent, safe to run from two processes at once). Run it before starting a new version. Takes no options.`;

/** Each command's usage, printed by `<command> --help` before anything else happens. */
const COMMAND_USAGE: Readonly<Record<string, string>> = {
  run: RUN_USAGE,
  migrate: MIGRATE_USAGE,
  subscriptions: SUBSCRIPTIONS_USAGE,
  deliveries: DELIVERIES_USAGE,
  replay: REPLAY_USAGE,
  api: API_USAGE,
  'api-keys': API_KEYS_USAGE,
  'produce-sample': PRODUCE_SAMPLE_USAGE,
  'demo-receiver': DEMO_RECEIVER_USAGE,
};

const isHelpFlag = (arg: string): boolean => arg === '--help' || arg === '-h';

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

const out = (line: string): void => void process.stdout.write(`${line}\n`);

const TLS_FILES = ['KAFKA_SSL_CA_FILE', 'KAFKA_SSL_CERT_FILE', 'KAFKA_SSL_KEY_FILE'] as const;

/** createKafka, with a KAFKA_SSL_* file that cannot be read reported as the configuration problem it is. */
function kafkaFromConfig(config: Config, logger: Logger, metrics?: Metrics): Kafka {
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

async function runService(config: Config, logger: Logger): Promise<void> {
  logger.info({ config: redactConfig(config) }, 'starting');
  applyHeapPolicy(config.HEAP_GROWTH_PERCENT);
  const registry = new Registry();
  const metrics = createMetrics(registry);
  let kafka: Kafka;
  try {
    kafka = kafkaFromConfig(config, logger, metrics);
  } catch (err) {
    logger.fatal({ err, code: errorCodeOf(err) }, 'start failed');
    throw err;
  }
  const pool = createPgPool({ connectionString: config.DATABASE_URL, logger });
  const deliveryLogPool = createDeliveryLogPool({ connectionString: config.DATABASE_URL, logger });
  let onFatal = (_err: unknown): void => undefined;
  const app = createApp({
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
    onFatal: (err) => onFatal(err),
  });
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
      .then(() => Promise.all([pool.end(), deliveryLogPool.end()]))
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
    await pool.end().catch(() => undefined);
    await deliveryLogPool.end().catch(() => undefined);
    throw err;
  }
}

/** `webhook-connector api`: the management API until SIGTERM or SIGINT. */
async function runApi(config: Config, logger: Logger): Promise<void> {
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
async function withPool<T>(
  config: Config,
  logger: Logger,
  command: string,
  fn: (pool: ReturnType<typeof createPgPool>) => Promise<T>,
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

export async function main(argv: readonly string[]): Promise<number> {
  const [command = 'run', ...args] = argv;
  if (command === 'help' || isHelpFlag(command)) {
    out(USAGE);
    return 0;
  }
  const usage = COMMAND_USAGE[command];
  if (usage === undefined) {
    throw new ConnectorError(ErrorCode.USAGE, `unknown command "${command}"\n\n${USAGE}`);
  }
  // Before the configuration is read: `--help` works with any environment, and never runs the command.
  if (args.some(isHelpFlag)) {
    out(usage);
    return 0;
  }
  if ((command === 'run' || command === 'migrate' || command === 'api') && args.length > 0) {
    throw new ConnectorError(ErrorCode.USAGE, `unexpected argument "${args[0]}"\n\n${usage}`);
  }
  let config: Config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    // The service's logs are JSON lines on stdout: the refusal to start is one of them, with its code.
    if ((command === 'run' || command === 'api') && isConnectorError(err, ErrorCode.CONFIG_INVALID)) {
      createLogger('info').fatal({ code: err.code, problems: err.details.problems }, 'invalid configuration');
    }
    throw err;
  }
  // CLI commands log to stderr so their stdout stays machine-readable.
  const service = command === 'run' || command === 'api';
  const logger = createLogger(config.LOG_LEVEL, service ? undefined : process.stderr);
  switch (command) {
    case 'run':
      await runService(config, logger);
      return -1; // keeps running until a signal
    case 'migrate':
      return withPool(config, logger, 'migrate', async (pool) => {
        const applied = await migrate(pool);
        out(applied.length === 0 ? 'migrations: up to date' : `migrations applied: ${applied.join(', ')}`);
        return 0;
      });
    case 'subscriptions':
      return withPool(config, logger, 'subscriptions', async (pool) => {
        const store = createSubscriptionStore(pool);
        await runSubscriptionsCommand(args, {
          store,
          out,
          // Kafka and the HTTP client are built only for `enable --recover-since`.
          recoverDeadLetters: (filter) =>
            replayFromConfig(
              {
                config,
                logger,
                kafka: kafkaFromConfig(config, logger),
                store,
                deliveries: createPgDeliveryStore(pool),
                transport: createTransportFromConfig(config),
                out,
              },
              { filter, dryRun: false, sinceLast: false },
            ),
        });
        return 0;
      });
    case 'deliveries':
      return withPool(config, logger, 'deliveries', async (pool) => {
        await runDeliveriesCommand(args, { admin: createDeliveryAdmin(pool), out });
        return 0;
      });
    case 'replay':
      return withPool(config, logger, 'replay', (pool) =>
        runReplayCommand(args, {
          config,
          logger,
          kafka: kafkaFromConfig(config, logger),
          store: createSubscriptionStore(pool),
          deliveries: createPgDeliveryStore(pool),
          transport: createTransportFromConfig(config),
          out,
        }),
      );
    case 'api':
      await runApi(config, logger);
      return -1; // keeps running until a signal
    case 'api-keys':
      return withPool(config, logger, 'api-keys', async (pool) => {
        await runApiKeysCommand(args, { keys: createApiKeyStore(pool), out });
        return 0;
      });
    case 'produce-sample':
      return runProduceSample(args, { config, kafka: kafkaFromConfig(config, logger), out });
    case 'demo-receiver':
      return runDemoReceiver(args, {
        out,
        untilStopped: new Promise((resolve) => {
          process.once('SIGTERM', resolve);
          process.once('SIGINT', resolve);
        }),
      });
    default:
      throw new ConnectorError(ErrorCode.USAGE, `unknown command "${command}"\n\n${USAGE}`);
  }
}

/**
 * Runs main and maps errors to exit codes: 2 for usage, 1 for everything else. stderr gets one
 * `error CODE: message` line (then the usage text, for a usage error).
 */
export function runCli(argv: readonly string[]): void {
  main(argv).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (err: unknown) => {
      process.stderr.write(`${formatCliError(err)}\n`);
      process.exit(isConnectorError(err, ErrorCode.USAGE) ? 2 : 1);
    },
  );
}
