/**
 * The connector's metrics, each declared once: name, type, labels (buckets for a histogram) and help.
 * createMetrics builds the prom-client objects from it and README's metrics table is generated from it,
 * so the registry and the table cannot drift apart. In the README's order. Label values are bounded: never
 * a URL or project id; a subscription id only in `circuit_state`, capped (see setCircuitStates).
 */
import type { MetricSpec } from './metric-spec.js';

const P = 'webhook_connector_';

export const connectorMetricSpec = {
  eventsConsumed: {
    name: `${P}events_consumed_total`,
    type: 'counter',
    labels: ['event_family'],
    help: 'Records taken from Kafka, by event family.',
  },
  eventsUnmatched: {
    name: `${P}events_unmatched_total`,
    type: 'counter',
    labels: ['event_family'],
    help: 'Events that matched no subscription.',
  },
  eventsPoison: {
    name: `${P}events_poison_total`,
    type: 'counter',
    labels: ['reason'],
    help: 'Records that could not be decoded or validated (dead-lettered).',
  },
  deliveries: {
    name: `${P}deliveries_total`,
    type: 'counter',
    labels: ['outcome', 'status_class'],
    help: 'Finished deliveries: outcome delivered or dead_lettered, by last status class.',
  },
  attempts: {
    name: `${P}delivery_attempts_total`,
    type: 'counter',
    labels: ['result', 'status_class'],
    help: 'HTTP attempts: result success, retryable or permanent.',
  },
  attemptDuration: {
    name: `${P}attempt_duration_seconds`,
    type: 'histogram',
    labels: ['status_class'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    help: 'Duration of one HTTP attempt.',
  },
  endToEndLatency: {
    name: `${P}end_to_end_latency_seconds`,
    type: 'histogram',
    labels: [],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
    help: 'Event timestamp to the 2xx of its delivery.',
  },
  attemptsPerDelivery: {
    name: `${P}attempts_per_delivery`,
    type: 'histogram',
    labels: ['outcome'],
    buckets: [1, 2, 3, 4, 5, 6, 8, 10, 20],
    help: 'Attempts a finished delivery took.',
  },
  deadLetters: {
    name: `${P}dead_letters_total`,
    type: 'counter',
    labels: ['reason'],
    help: 'Records written to the dead-letter topic, by reason.',
  },
  deadLetterPublishFailures: {
    name: `${P}dead_letter_publish_failures_total`,
    type: 'counter',
    labels: [],
    help: 'Failed dead-letter writes (retried; nothing is committed meanwhile).',
  },
  inFlightDeliveries: {
    name: `${P}in_flight_deliveries`,
    type: 'gauge',
    labels: [],
    help: 'Deliveries started and not finished (including backoff waits).',
  },
  inFlightRecords: {
    name: `${P}in_flight_records`,
    type: 'gauge',
    labels: [],
    help: 'Records taken from Kafka and not yet done.',
  },
  pausedPartitions: {
    name: `${P}paused_partitions`,
    type: 'gauge',
    labels: [],
    help: 'Partitions paused by back-pressure or an outage.',
  },
  consumerLag: {
    name: `${P}consumer_lag`,
    type: 'gauge',
    labels: ['topic', 'partition'],
    help: 'High watermark minus committed offset, per assigned partition.',
  },
  offsetCommits: {
    name: `${P}offset_commits_total`,
    type: 'counter',
    labels: ['result'],
    help: 'Offset commits: ok, error, or skipped (the consumer was not running; retried at the next tick).',
  },
  offsetResets: {
    name: `${P}offset_resets_total`,
    type: 'counter',
    labels: ['reason'],
    help: "Positions reset: out_of_range (past the retained log: resumed at the earliest retained offset), log_went_back (a partition's log restarted below its committed offset: truncated or recreated).",
  },
  recordProcessingFailures: {
    name: `${P}record_processing_failures_total`,
    type: 'counter',
    labels: [],
    help: "Unexpected failures of a record's processing (a bug); the record runs again after a backoff of 1 s doubling to 60 s.",
  },
  subscriptionsCached: {
    name: `${P}subscriptions_cached`,
    type: 'gauge',
    labels: [],
    help: 'Enabled subscriptions in the in-memory snapshot.',
  },
  snapshotAge: {
    name: `${P}subscriptions_snapshot_age_seconds`,
    type: 'gauge',
    labels: [],
    help: 'Seconds since the snapshot was last confirmed against Postgres.',
  },
  ssrfRefusals: {
    name: `${P}ssrf_refusals_total`,
    type: 'counter',
    labels: [],
    help: 'Attempts refused by the target guard: a forbidden address, or credentials in the URL.',
  },
  parkedDeliveries: {
    name: `${P}parked_deliveries`,
    type: 'gauge',
    labels: ['state'],
    help: 'Rows of the parked-delivery store by state: parked, delivered, dead (store-wide, read every 15 s by each instance: aggregate with max, not sum).',
  },
  parkedDueBacklog: {
    name: `${P}parked_due_backlog`,
    type: 'gauge',
    labels: [],
    help: 'Parked deliveries that are due and not leased: waiting for a runner (store-wide, like parked_deliveries).',
  },
  parkedOldestDueAge: {
    name: `${P}parked_oldest_due_age_seconds`,
    type: 'gauge',
    labels: [],
    help: 'How long the oldest due, unleased parked delivery has been due; 0 when none (store-wide, like parked_deliveries).',
  },
  parks: {
    name: `${P}parks_total`,
    type: 'counter',
    labels: ['reason'],
    help: 'Deliveries parked: retry (next attempt past the in-process budget), behind (its ordered lane is parked), spill (in-memory backlog full), circuit (breaker open).',
  },
  parkFailures: {
    name: `${P}park_failures_total`,
    type: 'counter',
    labels: [],
    help: 'Parks the store refused (Postgres unavailable); those deliveries stay in process and retry there.',
  },
  parkedClaims: {
    name: `${P}parked_claims_total`,
    type: 'counter',
    labels: [],
    help: 'Parked deliveries claimed by this instance for an attempt.',
  },
  leaseExpiries: {
    name: `${P}parked_lease_expiries_total`,
    type: 'counter',
    labels: [],
    help: 'Claims of rows whose previous lease ran out without a result (its instance died or hung).',
  },
  circuitOpen: {
    name: `${P}circuits_open`,
    type: 'gauge',
    labels: ['state'],
    help: 'Subscriptions whose circuit breaker on this instance is open or half_open (probing).',
  },
  circuitState: {
    name: `${P}circuit_state`,
    type: 'gauge',
    labels: ['subscription_id'],
    help: 'Circuit breaker state per subscription on this instance: 1 open, 0.5 half-open; closed circuits have no series; at most 50 series.',
  },
  circuitTransitions: {
    name: `${P}circuit_transitions_total`,
    type: 'counter',
    labels: ['to'],
    help: 'Circuit breaker transitions on this instance, by the state entered: open, half_open, closed.',
  },
  subscriptionsDisabled: {
    name: `${P}subscriptions_disabled_total`,
    type: 'counter',
    labels: ['reason'],
    help: 'Subscriptions disabled automatically: gone (the receiver answered 410), failing (no 2xx for SUBSCRIPTION_DISABLE_AFTER_MS).',
  },
  logRows: {
    name: `${P}delivery_log_rows_total`,
    type: 'counter',
    labels: ['table'],
    help: 'Rows written to the delivery log: table attempts or messages (one per event per instance and day).',
  },
  logDropped: {
    name: `${P}delivery_log_dropped_total`,
    type: 'counter',
    labels: [],
    help: 'Attempts not written to the delivery log: its queue was full (DELIVERY_LOG_MAX_PENDING), Postgres refused the batch, or still queued at shutdown.',
  },
  logPending: {
    name: `${P}delivery_log_pending`,
    type: 'gauge',
    labels: [],
    help: 'Attempts queued in memory for the delivery log.',
  },
  logWriteSeconds: {
    name: `${P}delivery_log_write_seconds`,
    type: 'histogram',
    labels: [],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
    help: 'Duration of one delivery log batch write (one statement), failed ones included.',
  },
  logPartitionsDropped: {
    name: `${P}delivery_log_partitions_dropped_total`,
    type: 'counter',
    labels: [],
    help: 'Daily delivery log partitions dropped by retention (DELIVERY_LOG_RETENTION_DAYS), both tables counted.',
  },
  ready: {
    name: `${P}ready`,
    type: 'gauge',
    labels: [],
    help: '1 when joined to the group with subscriptions loaded and not paused for an outage.',
  },
} as const satisfies Record<string, MetricSpec>;
