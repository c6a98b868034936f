/**
 * Every environment variable the service reads, as one table: type, default, bounds and the README's
 * words (the README's config table is generated from it; a unit test keeps them in sync). Data and the
 * types derived from it only; config.ts parses and checks the environment against it.
 * Past 300 lines on purpose: one entry per variable, in the README's order, grouped by concern; split
 * across files, the table would lose its one place and its order.
 */
import { JWT_ALGORITHMS } from './delivery/jwt.js';

export type VariableSpec =
  | { type: 'string'; default: string; doc: string; secret?: boolean; oneOf?: readonly string[] }
  | { type: 'int'; default: number; min: number; max?: number; doc: string }
  | { type: 'number'; default: number; min: number; max?: number; doc: string }
  | { type: 'bool'; default: boolean; doc: string }
  | { type: 'list'; default: readonly string[]; doc: string; minItems?: number }
  | { type: 'durations'; default: string; doc: string };

export const configSpec = {
  // Kafka
  KAFKA_BROKERS: {
    type: 'list',
    default: ['127.0.0.1:9092'],
    minItems: 1,
    doc: 'Comma-separated bootstrap brokers (host:port).',
  },
  KAFKA_CLIENT_ID: {
    type: 'string',
    default: 'tiledesk-webhook-connector',
    doc: 'Kafka client id (shows in broker logs and quotas).',
  },
  KAFKA_TOPICS: {
    type: 'list',
    default: ['tiledesk.events'],
    minItems: 1,
    doc: 'Comma-separated topics carrying Tiledesk events.',
  },
  KAFKA_GROUP_ID: {
    type: 'string',
    default: 'tiledesk-webhook-connector',
    doc: 'Consumer group id; every replica uses the same one.',
  },
  KAFKA_FROM_BEGINNING: {
    type: 'bool',
    default: false,
    doc: 'Where a group with no committed offset starts: true = earliest, false = the end (committed at once). An out-of-range offset always resumes at the earliest retained one.',
  },
  KAFKA_SESSION_TIMEOUT_MS: {
    type: 'int',
    default: 10_000,
    min: 6_000,
    max: 300_000,
    doc: "Consumer session timeout: a crashed instance's partitions stop this long before another takes them (measured 10.1-10.4 s at 10 s, 31 s at 30 s); heartbeats every tenth of it, at least every second.",
  },
  KAFKA_SSL: { type: 'bool', default: false, doc: 'Connect to the brokers with TLS.' },
  KAFKA_SSL_CA_FILE: {
    type: 'string',
    default: '',
    doc: "PEM file with the CA(s) that signed the brokers' certificates (TLS).",
  },
  KAFKA_SSL_CERT_FILE: { type: 'string', default: '', doc: 'PEM client certificate for mutual TLS.' },
  KAFKA_SSL_KEY_FILE: { type: 'string', default: '', doc: 'PEM private key of the client certificate.' },
  KAFKA_SASL_MECHANISM: {
    type: 'string',
    default: '',
    oneOf: ['', 'plain', 'scram-sha-256', 'scram-sha-512'],
    doc: 'SASL mechanism: plain, scram-sha-256, scram-sha-512, or empty for none.',
  },
  KAFKA_SASL_USERNAME: { type: 'string', default: '', doc: 'SASL user name.' },
  KAFKA_SASL_PASSWORD: { type: 'string', default: '', secret: true, doc: 'SASL password.' },
  DLQ_TOPIC: { type: 'string', default: '', doc: 'Dead-letter topic; empty = `<first topic>.dlq`.' },
  MAX_RECORD_BYTES: {
    type: 'int',
    default: 1_048_576,
    min: 1_024,
    doc: 'Records with a larger value are dead-lettered as `too_large`.',
  },
  // Schema registry
  SCHEMA_REGISTRY_URL: {
    type: 'string',
    default: '',
    doc: 'Confluent-compatible schema registry URL; empty = Avro records are poison.',
  },
  SCHEMA_REGISTRY_USERNAME: { type: 'string', default: '', doc: 'Basic-auth user for the schema registry.' },
  SCHEMA_REGISTRY_PASSWORD: {
    type: 'string',
    default: '',
    secret: true,
    doc: 'Basic-auth password for the schema registry.',
  },
  SCHEMA_REGISTRY_CACHE_SIZE: {
    type: 'int',
    default: 1_000,
    min: 1,
    doc: 'Most writer schemas kept in memory (LRU).',
  },
  // Postgres
  DATABASE_URL: {
    type: 'string',
    default: 'postgres://127.0.0.1:5432/postgres',
    secret: true,
    doc: 'Postgres connection string (TLS via `sslmode=` or `PGSSLMODE`).',
  },
  SUBSCRIPTIONS_RESYNC_INTERVAL_MS: {
    type: 'int',
    default: 60_000,
    min: 1_000,
    doc: 'Full reload of the subscription snapshot (heals missed notifications).',
  },
  SUBSCRIPTIONS_MAX_STALENESS_MS: {
    type: 'int',
    default: 300_000,
    min: 1_000,
    doc: 'With Postgres down, deliver from a snapshot at most this old, then pause consumption.',
  },
  // Delivery
  HTTP_CLIENT: {
    type: 'string',
    default: 'undici',
    oneOf: ['undici', 'got'],
    doc: 'HTTP transport: undici (default) or got.',
  },
  DELIVERY_TIMEOUT_MS: {
    type: 'int',
    default: 10_000,
    min: 100,
    max: 120_000,
    doc: 'Per-attempt timeout (connect + headers + body).',
  },
  RETRY_SCHEDULE: {
    type: 'durations',
    default: '5s,5m,30m,2h,5h,10h,10h',
    doc: 'Waits before attempts 2, 3, ... (units ms, s, m, h; empty = one attempt); a delivery still failing after the last is dead-lettered. The default: 8 attempts over ~27 h, like Svix.',
  },
  RETRY_JITTER: {
    type: 'number',
    default: 0.2,
    min: 0,
    max: 0.9,
    doc: 'Each wait is shortened by a random fraction up to this (never lengthened), so failures do not retry in lockstep.',
  },
  RETRY_AFTER_MAX_MS: { type: 'int', default: 120_000, min: 0, doc: "Cap on a receiver's `Retry-After`." },
  RETRY_IN_PROCESS_MAX_MS: {
    type: 'int',
    default: 10_000,
    min: 0,
    max: 300_000,
    doc: 'Longest wait slept in process; a delivery whose next attempt is further away is parked in Postgres.',
  },
  DELIVERY_CONCURRENCY: {
    type: 'int',
    default: 512,
    min: 1,
    max: 10_000,
    doc: 'Most HTTP requests in flight per instance.',
  },
  HTTP_CONNECTIONS_PER_ORIGIN: {
    type: 'int',
    default: 128,
    min: 1,
    max: 1_024,
    doc: 'Keep-alive connections per receiver origin; the most attempts in flight to one origin is the smaller of this and DELIVERY_CONCURRENCY / 4 (one slow receiver cannot take all of DELIVERY_CONCURRENCY).',
  },
  RESPONSE_BODY_MAX_BYTES: {
    type: 'int',
    default: 4_096,
    min: 0,
    doc: 'Response bytes read (then discarded) per attempt.',
  },
  PARTITION_MAX_IN_FLIGHT: {
    type: 'int',
    default: 500,
    min: 1,
    doc: 'Records per partition taken and not yet done (a done record waiting for an earlier one to be committed does not count); a full partition is paused until half are done.',
  },
  COMMIT_INTERVAL_MS: { type: 'int', default: 1_000, min: 50, doc: 'How often done offsets are committed.' },
  SHUTDOWN_DRAIN_TIMEOUT_MS: {
    type: 'int',
    default: 25_000,
    min: 0,
    doc: 'On SIGTERM, time allowed for in-flight deliveries before committing and leaving.',
  },
  SUBSCRIPTION_MAX_PENDING: {
    type: 'int',
    default: 256,
    min: 1,
    max: 100_000,
    doc: "Concurrent subscription: deliveries of one partition in process (at most half of PARTITION_MAX_IN_FLIGHT) before new ones are parked ('spill', due at once).",
  },
  ORDERED_LANE_MAX_PENDING: {
    type: 'int',
    default: 16,
    min: 1,
    max: 10_000,
    doc: "Ordered lane: deliveries queued before a new one is parked ('spill') and the lane with it.",
  },
  SUBSCRIPTION_DISABLE_AFTER_MS: {
    type: 'int',
    default: 432_000_000,
    min: 1_000,
    doc: "A subscription with no 2xx for this long (default 5 days) is disabled ('failing') and its parked deliveries dead-lettered.",
  },
  CIRCUIT_FAILURE_PERCENT: {
    type: 'int',
    default: 70,
    min: 1,
    max: 100,
    doc: "Circuit breaker: this % of a subscription's attempts failing within CIRCUIT_WINDOW_MS opens its circuit.",
  },
  CIRCUIT_MIN_ATTEMPTS: {
    type: 'int',
    default: 10,
    min: 1,
    doc: 'Circuit breaker: fewer attempts than this in the window never open the circuit.',
  },
  CIRCUIT_WINDOW_MS: {
    type: 'int',
    default: 300_000,
    min: 1_000,
    doc: 'Circuit breaker: the sliding window over which attempts and failures are counted.',
  },
  CIRCUIT_COOLDOWN_MS: {
    type: 'int',
    default: 30_000,
    min: 100,
    doc: "Circuit breaker: an open circuit parks deliveries ('circuit') this long, then one probe attempt closes or reopens it.",
  },
  LEGACY_SECRET_HEADER: {
    type: 'bool',
    default: false,
    doc: "Also send Tiledesk's plain `x-hook-secret` header (insecure; for old receivers).",
  },
  GLOBAL_SECRET: {
    type: 'string',
    default: '',
    secret: true,
    doc: "HS256 key of global subscriptions' JWT (`token`), as Tiledesk's GLOBAL_SECRET: receivers call Tiledesk back with it. Empty = each subscription's own secret.",
  },
  GLOBAL_SECRET_OR_PRIVATE_KEY: {
    type: 'string',
    default: '',
    secret: true,
    doc: "Key of global subscriptions' JWT instead of GLOBAL_SECRET, as Tiledesk's variable: a secret for HS*, a PEM private key for RS*/ES* (literal `\\n` read as newlines). Empty = not used.",
  },
  GLOBAL_SECRET_ALGORITHM: {
    type: 'string',
    default: 'HS256',
    oneOf: JWT_ALGORITHMS,
    doc: 'Algorithm of GLOBAL_SECRET_OR_PRIVATE_KEY (GLOBAL_SECRET is always HS256).',
  },
  TARGET_ALLOW_CIDRS: {
    type: 'list',
    default: [],
    doc: 'CIDRs that targets may resolve to although not public (e.g. `10.0.0.0/8,127.0.0.1/32`).',
  },
  // Parked deliveries
  PARKED_POLL_INTERVAL_MS: {
    type: 'int',
    default: 1_000,
    min: 10,
    max: 60_000,
    doc: 'How often the parked-delivery runner looks for due deliveries when none was due.',
  },
  PARKED_CLAIM_BATCH: {
    type: 'int',
    default: 500,
    min: 1,
    max: 10_000,
    doc: 'Parked deliveries claimed per query.',
  },
  PARKED_LEASE_MS: {
    type: 'int',
    default: 60_000,
    min: 1_000,
    doc: 'How long a claim holds a parked delivery; if its instance dies, another claims it after this. At least DELIVERY_TIMEOUT_MS + 5000.',
  },
  DELIVERY_STORE_RETENTION_MS: {
    type: 'int',
    default: 86_400_000,
    min: 0,
    doc: 'Delivered and dead rows of parked deliveries are kept this long, then deleted (with events no delivery refers to).',
  },
  // Delivery log
  DELIVERY_LOG: {
    type: 'string',
    default: 'all',
    oneOf: ['all', 'failures', 'off'],
    doc: 'What the delivery log (README "Delivery log") records: `all` attempts, only `failures` (attempts without a 2xx answer), or `off`.',
  },
  DELIVERY_LOG_RETENTION_DAYS: {
    type: 'int',
    default: 14,
    min: 1,
    max: 3_650,
    doc: 'Days of delivery log kept; older daily partitions are dropped whole (checked hourly).',
  },
  DELIVERY_LOG_MAX_PENDING: {
    type: 'int',
    default: 50_000,
    min: 100,
    max: 10_000_000,
    doc: 'Attempts waiting in memory to be written to the delivery log (encoded, ~2 KB each with 1-KiB events); past it new ones are dropped and counted (deliveries never wait for the log).',
  },
  DELIVERY_LOG_BATCH: {
    type: 'int',
    default: 1_000,
    min: 1,
    max: 10_000,
    doc: 'Attempts written to the delivery log per statement (a batch is written when full or every 200 ms).',
  },
  // Operations
  OPS_HOST: {
    type: 'string',
    default: '0.0.0.0',
    doc: 'Bind address of the ops server (/metrics, /healthz, /readyz).',
  },
  OPS_PORT: {
    type: 'int',
    default: 9464,
    min: 0,
    max: 65_535,
    doc: 'Port of the ops server (0 = any free port).',
  },
  HEAP_GROWTH_PERCENT: {
    type: 'int',
    default: 50,
    min: 0,
    max: 300,
    doc: "V8 collects old garbage once the heap grew this % past what survived the last full GC (0: V8's adaptive default, up to ~4x). Lower: less memory, more GC CPU.",
  },
  LOG_LEVEL: {
    type: 'string',
    default: 'info',
    // No line is logged at trace: accepting it would promise output that never comes.
    oneOf: ['fatal', 'error', 'warn', 'info', 'debug', 'silent'],
    doc: 'Log level: fatal, error, warn, info, debug (adds kafkajs connection details and snapshot reloads) or silent.',
  },
  // Management API
  API_HOST: {
    type: 'string',
    default: '0.0.0.0',
    doc: 'Bind address of the management API (`webhook-connector api`).',
  },
  API_PORT: {
    type: 'int',
    default: 8081,
    min: 0,
    max: 65_535,
    doc: 'Port of the management API (0 = any free port); its /metrics, /healthz and /readyz are on OPS_PORT.',
  },
  API_BODY_LIMIT_BYTES: {
    type: 'int',
    default: 65_536,
    min: 1_024,
    max: 10_485_760,
    doc: 'Largest request body the management API reads; a larger one is refused with 413.',
  },
  API_JWT_SECRET: {
    type: 'string',
    default: '',
    secret: true,
    doc: 'HS256 secret of the JWTs the platform issues for API callers; empty = no HS256 JWTs.',
  },
  API_JWT_PUBLIC_KEY: {
    type: 'string',
    default: '',
    doc: 'RS256 public key (SPKI PEM) of the JWTs the platform issues; empty = no RS256 JWTs. Not with API_JWT_SECRET.',
  },
  API_JWT_ISSUER: { type: 'string', default: '', doc: 'Required `iss` of API JWTs; empty = not checked.' },
  API_JWT_AUDIENCE: { type: 'string', default: '', doc: 'Required `aud` of API JWTs; empty = not checked.' },
  API_JWT_PROJECT_CLAIM: {
    type: 'string',
    default: 'id_project',
    doc: 'JWT claim naming the project the caller acts on.',
  },
  API_JWT_ROLE_CLAIM: {
    type: 'string',
    default: 'role',
    doc: "JWT claim naming the caller's role: owner or admin (their project), platform (every project).",
  },
} as const satisfies Record<string, VariableSpec>;

export type ConfigKey = keyof typeof configSpec;
type ValueOf<S> = S extends { type: 'int' | 'number' }
  ? number
  : S extends { type: 'bool' }
    ? boolean
    : S extends { type: 'list' }
      ? readonly string[]
      : S extends { type: 'durations' }
        ? readonly number[]
        : string;
export type Config = { readonly [K in ConfigKey]: ValueOf<(typeof configSpec)[K]> };
