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
  USAGE: 'CONNECTOR_USAGE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** What each code means and what an operator does about it (rendered into README, kept in sync by a test). */
export const errorDocs: Record<ErrorCode, string> = {
  CONNECTOR_CONFIG_INVALID:
    'An environment variable is missing or malformed; every problem is listed, then the process exits 1.',
  CONNECTOR_EVENT_INVALID:
    'A record decoded but does not match the event schema: dead-lettered with reason `invalid`.',
  CONNECTOR_EVENT_UNDECODABLE:
    'A record is not UTF-8 JSON nor a known Schema-Registry encoding: dead-lettered with reason `undecodable`.',
  CONNECTOR_EVENT_TOO_LARGE:
    'A record is larger than `MAX_RECORD_BYTES`: dead-lettered with reason `too_large`.',
  CONNECTOR_SCHEMA_REGISTRY_UNAVAILABLE:
    'The schema registry did not answer: consumption of that partition pauses and retries; nothing is dead-lettered.',
  CONNECTOR_SUBSCRIPTION_INVALID:
    'A CLI subscription command got a bad argument (target not http(s), empty event...).',
  CONNECTOR_SUBSCRIPTION_NOT_FOUND: 'A CLI subscription command named an id that does not exist.',
  CONNECTOR_SUBSCRIPTIONS_UNAVAILABLE:
    'Postgres is unreachable: deliveries continue from the snapshot until it is older than `SUBSCRIPTIONS_MAX_STALENESS_MS`, then consumption pauses.',
  CONNECTOR_DEAD_LETTER_PUBLISH:
    'Writing to the dead-letter topic failed: the record is not committed and the write is retried until it succeeds.',
  CONNECTOR_TARGET_FORBIDDEN:
    'A webhook target resolved to a non-public address outside `TARGET_ALLOW_CIDRS`: dead-lettered with reason `ssrf`.',
  CONNECTOR_USAGE: 'The command line was wrong; the usage text is printed and the process exits 2.',
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
