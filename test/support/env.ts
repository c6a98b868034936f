/**
 * Where the test infrastructure listens (started by `bash test/infra/infra.sh up`; see that script).
 *
 * Everything is on 127.0.0.1 (not `localhost`: Node may resolve it to ::1, and the services listen on
 * IPv4 only). These are deliberately not read from KAFKA_BROKERS & co.: a developer shell pointing at
 * a real cluster must never receive test topics. The one knob is INFRA_PORT_OFFSET, shared with
 * infra.sh, which shifts every port but Postgres's to run a second isolated copy of the infra.
 */

const offset = Number(process.env.INFRA_PORT_OFFSET ?? '0');
if (!Number.isInteger(offset) || offset < 0) {
  throw new Error(
    `INFRA_PORT_OFFSET must be a non-negative integer, got ${JSON.stringify(process.env.INFRA_PORT_OFFSET)}`,
  );
}

/** Kafka PLAINTEXT listener, `host:port` (the form of the service's KAFKA_BROKERS variable). */
export const KAFKA_BROKERS = `127.0.0.1:${9092 + offset}`;

/** Kafka SASL_PLAINTEXT listener (SCRAM-SHA-256), `host:port`. */
export const KAFKA_SASL_BROKERS = `127.0.0.1:${9094 + offset}`;

/** The SASL mechanism of KAFKA_SASL_BROKERS, spelled as kafkajs and the service's KAFKA_SASL_MECHANISM want it. */
export const KAFKA_SASL_MECHANISM = 'scram-sha-256';

/** The SCRAM user created when the broker's storage is formatted. */
export const KAFKA_SASL_USERNAME = 'connector';
export const KAFKA_SASL_PASSWORD = 'connector-secret';

/** Apicurio Registry's Confluent-compatible API (the service's SCHEMA_REGISTRY_URL). */
export const SCHEMA_REGISTRY_URL = `http://127.0.0.1:${8081 + offset}/apis/ccompat/v7`;

/** Superuser connection to the local Postgres (trust auth); tests create their own databases from it. */
export const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
