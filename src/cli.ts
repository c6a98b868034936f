#!/usr/bin/env node
/**
 * The CLI: the command switch, the usage texts and the exit codes. Each command's work is in
 * src/commands/ (the operator commands) or main.ts (the composition root: `run`, `api`, the real clients).
 */
import { createApiKeyStore } from './api/api-keys.js';
import { API_USAGE } from './commands/api.js';
import { API_KEYS_USAGE, runApiKeysCommand } from './commands/api-keys.js';
import { DELIVERIES_USAGE, runDeliveriesCommand } from './commands/deliveries.js';
import { DEMO_RECEIVER_USAGE, runDemoReceiver } from './commands/demo/demo-receiver.js';
import { PRODUCE_SAMPLE_USAGE, runProduceSample } from './commands/demo/produce-sample.js';
import { REPLAY_USAGE, replayFromConfig, runReplayCommand } from './commands/replay.js';
import { runSubscriptionsCommand, SUBSCRIPTIONS_USAGE } from './commands/subscriptions.js';
import { loadConfig, type Config } from './config.js';
import { ConnectorError, ErrorCode, formatCliError, isConnectorError } from './errors.js';
import { createLogger } from './logger.js';
import { kafkaFromConfig, replayDeps, runApi, runService, untilStopped, withPool } from './main.js';
import { createDeliveryAdmin } from './parking/pg-delivery-admin.js';
import { migrate } from './subscriptions/migrate.js';
import { createSubscriptionStore } from './subscriptions/pg-store.js';

const USAGE = `usage: webhook-connector <command> [options]

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

Creates or upgrades the connector's tables in DATABASE_URL (webhook_subscriptions; the parked-delivery
store: webhook_events, webhook_deliveries, webhook_subscription_health; the management API's
webhook_api_keys; the delivery log: webhook_log_messages, webhook_log_attempts), applying schemas/sql/*.sql
in order (idempotent, safe to run from two processes at once). Run it before starting a new version. Takes
no options.`;

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

const out = (line: string): void => void process.stdout.write(`${line}\n`);

/**
 * Runs one command. Resolves with its exit code, or -1 for a command that runs until a signal (`run`,
 * `api`: they exit themselves); rejects with the error to report.
 */
async function runCommand(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
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
    config = loadConfig(env);
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
            replayFromConfig(replayDeps(config, logger, pool, out, store), {
              filter,
              dryRun: false,
              sinceLast: false,
            }),
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
        runReplayCommand(args, replayDeps(config, logger, pool, out)),
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
      return runDemoReceiver(args, { out, untilStopped: untilStopped() });
    default:
      throw new ConnectorError(ErrorCode.USAGE, `unknown command "${command}"\n\n${USAGE}`);
  }
}

/**
 * Runs a command and maps errors to exit codes: 2 for usage, 1 for everything else. stderr gets one
 * `error CODE: message` line (then the usage text, for a usage error).
 */
function runCli(argv: readonly string[]): void {
  runCommand(argv, process.env).then(
    (code) => {
      if (code >= 0) process.exit(code);
    },
    (err: unknown) => {
      process.stderr.write(`${formatCliError(err)}\n`);
      process.exit(isConnectorError(err, ErrorCode.USAGE) ? 2 : 1);
    },
  );
}

runCli(process.argv.slice(2));
