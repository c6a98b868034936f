/** The kafkajs client from configuration: brokers, TLS, SASL, retries, and kafkajs logs routed to pino. */
import { readFileSync } from 'node:fs';
import { Kafka, logLevel, type KafkaConfig, type LogEntry, type SASLOptions } from 'kafkajs';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

/** kafkajs logCreator → pino child logger; kafkajs INFO chatter is logged at debug. */
export function kafkaLogCreator(logger: Logger) {
  const log = logger.child({ component: 'kafkajs' });
  return () =>
    ({ level, log: entry }: LogEntry) => {
      const { message, ...extra } = entry;
      let lvl = LEVELS[level] ?? 'debug';
      // The dead-letter writer retries failed sends itself, forever: kafkajs's warning about bounded
      // idempotent-producer retries does not apply and would only be noise.
      if (lvl === 'info' || message.startsWith('Limiting retries for the idempotent producer')) lvl = 'debug';
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

export function kafkaConfig(c: KafkaSettings, logger: Logger): KafkaConfig {
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
    retry: { initialRetryTime: 300, retries: 8, maxRetryTime: 30_000 },
    logLevel: logLevel.INFO,
    logCreator: kafkaLogCreator(logger),
  };
}

export function createKafka(c: KafkaSettings, logger: Logger): Kafka {
  return new Kafka(kafkaConfig(c, logger));
}
