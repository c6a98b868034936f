/** Stable error codes: callers branch on `code`, never on message text. Each is documented in README. */
export const ErrorCode = {
  CONFIG_INVALID: 'CONNECTOR_CONFIG_INVALID',
  EVENT_INVALID: 'CONNECTOR_EVENT_INVALID',
  EVENT_UNDECODABLE: 'CONNECTOR_EVENT_UNDECODABLE',
  EVENT_TOO_LARGE: 'CONNECTOR_EVENT_TOO_LARGE',
  SCHEMA_REGISTRY_UNAVAILABLE: 'CONNECTOR_SCHEMA_REGISTRY_UNAVAILABLE',
  SUBSCRIPTION_INVALID: 'CONNECTOR_SUBSCRIPTION_INVALID',
  SUBSCRIPTION_NOT_FOUND: 'CONNECTOR_SUBSCRIPTION_NOT_FOUND',
  SUBSCRIPTIONS_UNAVAILABLE: 'CONNECTOR_SUBSCRIPTIONS_UNAVAILABLE',
  DEAD_LETTER_PUBLISH: 'CONNECTOR_DEAD_LETTER_PUBLISH',
  TARGET_FORBIDDEN: 'CONNECTOR_TARGET_FORBIDDEN',
  KAFKA_UNAVAILABLE: 'CONNECTOR_KAFKA_UNAVAILABLE',
  DELIVERY_FAILED: 'CONNECTOR_DELIVERY_FAILED',
  DELIVERY_NOT_FOUND: 'CONNECTOR_DELIVERY_NOT_FOUND',
  DELIVERY_NOT_PARKED: 'CONNECTOR_DELIVERY_NOT_PARKED',
  SUBSCRIPTION_DISABLED: 'CONNECTOR_SUBSCRIPTION_DISABLED',
  DELIVERY_STORE_UNAVAILABLE: 'CONNECTOR_DELIVERY_STORE_UNAVAILABLE',
  USAGE: 'CONNECTOR_USAGE',
  API_UNAUTHORIZED: 'CONNECTOR_API_UNAUTHORIZED',
  API_FORBIDDEN: 'CONNECTOR_API_FORBIDDEN',
  API_NOT_FOUND: 'CONNECTOR_API_NOT_FOUND',
  API_BAD_REQUEST: 'CONNECTOR_API_BAD_REQUEST',
  API_PAYLOAD_TOO_LARGE: 'CONNECTOR_API_PAYLOAD_TOO_LARGE',
  API_SHUTTING_DOWN: 'CONNECTOR_API_SHUTTING_DOWN',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What each code means and what an operator does about it (rendered into README, kept in sync by a test). */
export const errorDocs: Record<ErrorCode, string> = {
  CONNECTOR_CONFIG_INVALID:
    'An environment variable is missing or malformed, or names something that cannot be used (a `KAFKA_SSL_*` file that cannot be read, an `OPS_PORT` in use); every problem is listed, then the process exits 1.',
  CONNECTOR_EVENT_INVALID:
    'A record decoded but does not match the event schema: dead-lettered with reason `invalid`.',
  CONNECTOR_EVENT_UNDECODABLE:
    'A record has no value, is not UTF-8 JSON nor a known Schema-Registry encoding, or names a schema the registry does not know: dead-lettered with reason `empty`, `undecodable` or `unknown_schema`.',
  CONNECTOR_EVENT_TOO_LARGE:
    'A record is larger than `MAX_RECORD_BYTES`: dead-lettered with reason `too_large`.',
  CONNECTOR_SCHEMA_REGISTRY_UNAVAILABLE:
    'The schema registry did not answer: all consumption pauses until a probe of the registry (every second) succeeds; nothing is dead-lettered.',
  CONNECTOR_SUBSCRIPTION_INVALID:
    'A CLI subscription command got a bad argument (target not http(s), empty event...).',
  CONNECTOR_SUBSCRIPTION_NOT_FOUND: 'A CLI subscription command named an id that does not exist.',
  CONNECTOR_SUBSCRIPTIONS_UNAVAILABLE:
    'Postgres is unreachable or refused a query. At start and in CLI commands: the process exits 1. While running: deliveries continue from the snapshot until it is older than `SUBSCRIPTIONS_MAX_STALENESS_MS`, then consumption pauses.',
  CONNECTOR_DEAD_LETTER_PUBLISH:
    'Writing to the dead-letter topic failed: the record is not committed and the write is retried until it succeeds (a dead letter too large for the topic is written without its value).',
  CONNECTOR_TARGET_FORBIDDEN:
    'A webhook target resolved to a non-public address outside `TARGET_ALLOW_CIDRS`, or carries credentials (`user:pass@`): dead-lettered with reason `ssrf`.',
  CONNECTOR_KAFKA_UNAVAILABLE:
    'Kafka could not be reached or refused a request (connection, TLS, SASL, authorization) at start or in a CLI command: the process exits 1. Check `KAFKA_BROKERS` and the `KAFKA_SSL*`/`KAFKA_SASL*` variables.',
  CONNECTOR_SUBSCRIPTION_DISABLED:
    'A subscription was disabled by its endpoint health: its receiver answered `410 Gone` (reason `gone`), or gave no 2xx for `SUBSCRIPTION_DISABLE_AFTER_MS` (reason `failing`). Either way its parked deliveries are dead-lettered with reason `subscription_disabled`. Fix the receiver, then `webhook-connector subscriptions enable ID [--recover-since T]`.',
  CONNECTOR_DELIVERY_STORE_UNAVAILABLE:
    'Postgres refused a write of the parked-delivery store: deliveries that should park stay in process (their records uncommitted, the partition window holds back new ones) and the parked runner pauses; nothing is lost or dead-lettered for it.',
  CONNECTOR_DELIVERY_FAILED:
    'A delivery failed for good (3xx, a 4xx other than 408/425/429, an invalid target URL, or every attempt of `RETRY_SCHEDULE` used up): dead-lettered with its reason; `replay` it once the receiver is fixed.',
  CONNECTOR_DELIVERY_NOT_FOUND:
    'A CLI `deliveries` command named a delivery id that does not exist (finished rows are deleted after `DELIVERY_STORE_RETENTION_MS`).',
  CONNECTOR_DELIVERY_NOT_PARKED:
    '`deliveries retry-now` named a delivery that is already delivered or dead-lettered: only a parked one can be retried (`replay` re-sends a dead letter).',
  CONNECTOR_USAGE:
    'The command line was wrong; the usage text is printed and the process exits 2 (`--help` prints it and exits 0).',
  CONNECTOR_API_UNAUTHORIZED:
    'Management API (401): no credentials, or an API key that is unknown, malformed or revoked, or a JWT that is expired, badly signed, of another algorithm, issuer or audience. Create a key with `webhook-connector api-keys create`.',
  CONNECTOR_API_FORBIDDEN:
    "Management API (403): the caller's key or JWT role does not allow this: a project caller naming another project, asking for a global subscription, or a JWT role other than owner, admin or platform.",
  CONNECTOR_API_NOT_FOUND:
    'Management API (404): no such route (see `/openapi.json`). A missing subscription or delivery answers `CONNECTOR_SUBSCRIPTION_NOT_FOUND` or `CONNECTOR_DELIVERY_NOT_FOUND`, also when it belongs to another project.',
  CONNECTOR_API_BAD_REQUEST:
    'Management API (400, 415): the body is not JSON, or a body, path or query value has the wrong type, is out of range, or (on the extension routes) names an unknown field. Nothing was written.',
  CONNECTOR_API_PAYLOAD_TOO_LARGE:
    'Management API (413): the request body is larger than `API_BODY_LIMIT_BYTES`. Nothing was written.',
  CONNECTOR_API_SHUTTING_DOWN:
    'Management API (503): the instance that got the request is stopping (SIGTERM); the request was not run and the connection is closed. Send it again: another instance, or this one once restarted, answers it.',
};

export class ConnectorError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;
  constructor(
    code: ErrorCode,
    message: string,
    details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ConnectorError';
    this.code = code;
    this.details = details;
  }
}

export function isConnectorError(err: unknown, code?: ErrorCode): err is ConnectorError {
  return err instanceof ConnectorError && (code === undefined || err.code === code);
}

/**
 * The stable code of an error: its own for a ConnectorError; KAFKA_UNAVAILABLE for an error of kafkajs (every
 * one is named `KafkaJS…`; this module does not import kafkajs); undefined for anything else (a bug).
 */
export function errorCodeOf(err: unknown): ErrorCode | undefined {
  if (err instanceof ConnectorError) return err.code;
  if (err instanceof Error && err.name.startsWith('KafkaJS')) return ErrorCode.KAFKA_UNAVAILABLE;
  return undefined;
}

/**
 * What the CLI prints on stderr for an error: `error CODE: message` (the usage text follows a USAGE
 * message), or `error: stack` for an error without a code, which is a bug.
 */
export function formatCliError(err: unknown): string {
  const code = errorCodeOf(err);
  if (code !== undefined) return `error ${code}: ${(err as Error).message}`;
  return `error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`;
}
