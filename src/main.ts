/**
 * Composition root: the only module that reads process.env, builds real clients and installs signal
 * handlers. Dispatches the CLI commands: run (default), migrate, subscriptions, replay, produce-sample,
 * demo-receiver.
 */
import { Registry } from 'prom-client';
import { applyHeapPolicy } from './heap-policy.js';
import { createApp } from './app.js';
import { systemClock } from './clock.js';
import { loadConfig, redactConfig, type Config } from './config.js';
import { runReplayCommand } from './dead-letter/replay-command.js';
import { runDemoReceiver } from './demo/demo-receiver.js';
import { runProduceSample } from './demo/produce-sample.js';
import { ConnectorError, ErrorCode, isConnectorError } from './errors.js';
import { createRegistryDecoderFromConfig } from './events/registry-from-config.js';
import { createKafka } from './kafka/create-kafka.js';
import { createLogger, type Logger } from './logger.js';
import { createMetrics } from './metrics/metrics.js';
import { runSubscriptionsCommand } from './subscriptions/cli.js';
import { migrate } from './subscriptions/migrate.js';
import { createSubscriptionStore } from './subscriptions/pg-store.js';
import { createPgPool } from './subscriptions/pool.js';
import { createTransportFromConfig } from './transport/create-transport.js';

export const USAGE = `usage: webhook-connector <command> [options]

commands:
  run                      consume events and deliver webhooks (default)
  migrate                  create/upgrade the subscription table (idempotent)
  subscriptions <sub>      add | list | remove | enable | disable | rotate-secret  (--help for options)
  replay [options]         re-deliver dead-lettered deliveries (--help for options)
  produce-sample [options] produce sample Tiledesk events (--help for options)
  demo-receiver [options]  a local receiver that verifies and prints deliveries (--help for options)

Configuration comes from environment variables; see README.md.`;

const out = (line: string): void => void process.stdout.write(`${line}\n`);

async function runService(config: Config, logger: Logger): Promise<void> {
  logger.info({ config: redactConfig(config) }, 'starting');
  applyHeapPolicy(config.HEAP_GROWTH_PERCENT);
  const registry = new Registry();
  const metrics = createMetrics(registry);
  const pool = createPgPool({ connectionString: config.DATABASE_URL, logger });
  const kafka = createKafka(config, logger, metrics);
  let onFatal = (_err: unknown): void => undefined;
  const app = createApp({
    config,
    logger,
    clock: systemClock,
    random: Math.random,
    kafka,
    pool,
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
      .then(() => pool.end())
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
  } catch (err) {
    logger.fatal({ err }, 'start failed');
    await app.stop().catch(() => undefined);
    await pool.end().catch(() => undefined);
    throw err;
  }
}

async function withPool<T>(
  config: Config,
  logger: Logger,
  fn: (pool: ReturnType<typeof createPgPool>) => Promise<T>,
): Promise<T> {
  const pool = createPgPool({ connectionString: config.DATABASE_URL, logger, max: 2 });
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command = 'run', ...args] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    out(USAGE);
    return 0;
  }
  const config = loadConfig(process.env);
  // CLI commands log to stderr so their stdout stays machine-readable.
  const logger = createLogger(config.LOG_LEVEL, command === 'run' ? undefined : process.stderr);
  switch (command) {
    case 'run':
      await runService(config, logger);
      return -1; // keeps running until a signal
    case 'migrate':
      return withPool(config, logger, async (pool) => {
        const applied = await migrate(pool);
        out(applied.length === 0 ? 'migrations: up to date' : `migrations applied: ${applied.join(', ')}`);
        return 0;
      });
    case 'subscriptions':
      return withPool(config, logger, async (pool) => {
        await runSubscriptionsCommand(args, { store: createSubscriptionStore(pool), out });
        return 0;
      });
    case 'replay':
      return withPool(config, logger, (pool) =>
        runReplayCommand(args, {
          config,
          logger,
          kafka: createKafka(config, logger),
          store: createSubscriptionStore(pool),
          transport: createTransportFromConfig(config),
          out,
        }),
      );
    case 'produce-sample':
      return runProduceSample(args, { config, kafka: createKafka(config, logger), out });
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

/** Runs main and maps errors to exit codes: 1 for configuration and runtime errors, 2 for usage. */
export function runCli(argv: readonly string[]): void {
  main(argv).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (err: unknown) => {
      if (isConnectorError(err, ErrorCode.USAGE)) {
        process.stderr.write(`${err.message}\n`);
        process.exit(2);
      }
      if (isConnectorError(err)) {
        process.stderr.write(`webhook-connector: ${err.message}\n`);
        process.exit(1);
      }
      process.stderr.write(`webhook-connector: ${(err as Error).stack ?? String(err)}\n`);
      process.exit(1);
    },
  );
}
