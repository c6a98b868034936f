/** The kafkajs client from configuration: brokers, TLS, SASL, retries, and kafkajs logs routed to pino. */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { ignoreKafkajsNegativeTimeoutWarning } from './negative-timeout-warning.js';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/**
 * kafkajs's only report of an out-of-range position (records deleted by retention before they were read,
 * or a truncated log): it then resets the position by the subscription's fromBeginning, which every
 * consumer of this service sets, so reading resumes at the earliest retained offset.
 */
const OUT_OF_RANGE = 'Offset out of range, resetting to default offset';

/** kafkajs logCreator → pino child logger; kafkajs INFO chatter is logged at debug. */
export function kafkaLogCreator(logger: Logger, metrics?: Pick<Metrics, 'offsetResets'>) {
  const log = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...extra } = entry;
      let lvl = LEVELS[level] ?? 'debug';
      if (lvl === 'info') lvl = 'debug';
      if (message === OUT_OF_RANGE) {
        metrics?.offsetResets.inc({ reason: 'out_of_range' });
        log.warn(
          extra,
          'offset out of range (records deleted by retention before they were read, or the log truncated): resuming at the earliest retained offset',
        );
        return;
      }
      log[lvl](extra, message);
    };
}

type KafkaSettings = Pick<
  Config,
  | 'KAFKA_BROKERS'
  | 'KAFKA_CLIENT_ID'
  | 'KAFKA_SSL'
  | 'KAFKA_SSL_CA_FILE'
  | 'KAFKA_SSL_CERT_FILE'
  | 'KAFKA_SSL_KEY_FILE'
  | 'KAFKA_SASL_MECHANISM'
  | 'KAFKA_SASL_USERNAME'
  | 'KAFKA_SASL_PASSWORD'
>;

export function kafkaConfig(
  c: KafkaSettings,
  logger: Logger,
  metrics?: Pick<Metrics, 'offsetResets'>,
): KafkaConfig {
  ignoreKafkajsNegativeTimeoutWarning();
  const tlsFiles = c.KAFKA_SSL_CA_FILE !== '' || c.KAFKA_SSL_CERT_FILE !== '';
  const ssl =
    c.KAFKA_SSL || tlsFiles
      ? {
          rejectUnauthorized: true,
          ...(c.KAFKA_SSL_CA_FILE !== '' ? { ca: [readFileSync(c.KAFKA_SSL_CA_FILE, 'utf8')] } : {}),
          ...(c.KAFKA_SSL_CERT_FILE !== ''
            ? {
                cert: readFileSync(c.KAFKA_SSL_CERT_FILE, 'utf8'),
                key: readFileSync(c.KAFKA_SSL_KEY_FILE, 'utf8'),
              }
            : {}),
        }
      : undefined;
  const sasl =
    c.KAFKA_SASL_MECHANISM === ''
      ? undefined
      : ({
          mechanism: c.KAFKA_SASL_MECHANISM,
          username: c.KAFKA_SASL_USERNAME,
          password: c.KAFKA_SASL_PASSWORD,
        } as SASLOptions);
  return {
    clientId: c.KAFKA_CLIENT_ID,
    brokers: [...c.KAFKA_BROKERS],
    ssl,
    sasl,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    // Reconnects at most 1 s apart: backing off to 30 s, deliveries resumed only 10-12 s after a broker
    // outage ended. 60 retries ride out ~1 min (Java clients never give up): the consumer's connections use
    // this policy, and a consumer that gives up crashes and rejoins with a new member id, which then waits
    // for the old one's session (a broker restart here takes 15-25 s from stop to ready).
    retry: { initialRetryTime: 100, retries: 60, maxRetryTime: 1_000 },
    logLevel: logLevel.INFO,
    logCreator: kafkaLogCreator(logger, metrics),
  };
}

/** `metrics`: where kafkajs's out-of-range resets are counted (the service's consumer passes it). */
export function createKafka(
  c: KafkaSettings,
  logger: Logger,
  metrics?: Pick<Metrics, 'offsetResets'>,
): Kafka {
  return new Kafka(kafkaConfig(c, logger, metrics));
}
