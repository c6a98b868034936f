/**
 * Every metric the service exports, on a registry passed in by the caller (never prom-client's global one).
 * Label values are bounded: event families from a fixed list, status classes, outcome and reason enums.
 * Never a URL or project id as a label; a subscription id only in `circuit_state`, at most
 * CIRCUIT_STATE_MAX_SERIES series (see setCircuitStates). `metricDocs` feeds the README table (kept in sync
 * by a unit test). Past 300 lines on purpose: every metric is declared here once, next to its doc, so the
 * table, the registry and the label values cannot drift apart.
 */
import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';

const P = 'webhook_connector_';

export const metricDocs = {
  [`${P}events_consumed_total`]: {
    type: 'counter',
    labels: 'event_family',
    help: 'Records taken from Kafka, by event family.',
  },
  [`${P}events_unmatched_total`]: {
    type: 'counter',
    labels: 'event_family',
    help: 'Events that matched no subscription.',
  },
  [`${P}events_poison_total`]: {
    type: 'counter',
    labels: 'reason',
    help: 'Records that could not be decoded or validated (dead-lettered).',
  },
  [`${P}deliveries_total`]: {
    type: 'counter',
    labels: 'outcome, status_class',
    help: 'Finished deliveries: outcome delivered or dead_lettered, by last status class.',
  },
  [`${P}delivery_attempts_total`]: {
    type: 'counter',
    labels: 'result, status_class',
    help: 'HTTP attempts: result success, retryable or permanent.',
  },
  [`${P}attempt_duration_seconds`]: {
    type: 'histogram',
    labels: 'status_class',
    help: 'Duration of one HTTP attempt.',
  },
  [`${P}end_to_end_latency_seconds`]: {
    type: 'histogram',
    labels: '',
    help: 'Event timestamp to the 2xx of its delivery.',
  },
  [`${P}attempts_per_delivery`]: {
    type: 'histogram',
    labels: 'outcome',
    help: 'Attempts a finished delivery took.',
  },
  [`${P}dead_letters_total`]: {
    type: 'counter',
    labels: 'reason',
    help: 'Records written to the dead-letter topic, by reason.',
  },
  [`${P}dead_letter_publish_failures_total`]: {
    type: 'counter',
    labels: '',
    help: 'Failed dead-letter writes (retried; nothing is committed meanwhile).',
  },
  [`${P}in_flight_deliveries`]: {
    type: 'gauge',
    labels: '',
    help: 'Deliveries started and not finished (including backoff waits).',
  },
  [`${P}in_flight_records`]: {
    type: 'gauge',
    labels: '',
    help: 'Records taken from Kafka and not yet done.',
  },
  [`${P}paused_partitions`]: {
    type: 'gauge',
    labels: '',
    help: 'Partitions paused by back-pressure or an outage.',
  },
  [`${P}consumer_lag`]: {
    type: 'gauge',
    labels: 'topic, partition',
    help: 'High watermark minus committed offset, per assigned partition.',
  },
  [`${P}offset_commits_total`]: {
    type: 'counter',
    labels: 'result',
    help: 'Offset commits: ok, error, or skipped (the consumer was not running; retried at the next tick).',
  },
  [`${P}offset_resets_total`]: {
    type: 'counter',
    labels: 'reason',
    help: "Positions reset: out_of_range (past the retained log: resumed at the earliest retained offset), log_went_back (a partition's log restarted below its committed offset: truncated or recreated).",
  },
  [`${P}record_processing_failures_total`]: {
    type: 'counter',
    labels: '',
    help: "Unexpected failures of a record's processing (a bug); the record runs again after a backoff of 1 s doubling to 60 s.",
  },
  [`${P}subscriptions_cached`]: {
    type: 'gauge',
    labels: '',
    help: 'Enabled subscriptions in the in-memory snapshot.',
  },
  [`${P}subscriptions_snapshot_age_seconds`]: {
    type: 'gauge',
    labels: '',
    help: 'Seconds since the snapshot was last confirmed against Postgres.',
  },
  [`${P}ssrf_refusals_total`]: {
    type: 'counter',
    labels: '',
    help: 'Attempts refused because the target resolved to a forbidden address.',
  },
  [`${P}parked_deliveries`]: {
    type: 'gauge',
    labels: 'state',
    help: 'Rows of the parked-delivery store by state: parked, delivered, dead (store-wide, read every 15 s by each instance: aggregate with max, not sum).',
  },
  [`${P}parked_due_backlog`]: {
    type: 'gauge',
    labels: '',
    help: 'Parked deliveries that are due and not leased: waiting for a runner (store-wide, like parked_deliveries).',
  },
  [`${P}parked_oldest_due_age_seconds`]: {
    type: 'gauge',
    labels: '',
    help: 'How long the oldest due, unleased parked delivery has been due; 0 when none (store-wide, like parked_deliveries).',
  },
  [`${P}parks_total`]: {
    type: 'counter',
    labels: 'reason',
    help: 'Deliveries parked: retry (next attempt past the in-process budget), behind (its ordered lane is parked), spill (in-memory backlog full), circuit (breaker open).',
  },
  [`${P}park_failures_total`]: {
    type: 'counter',
    labels: '',
    help: 'Parks the store refused (Postgres unavailable); those deliveries stay in process and retry there.',
  },
  [`${P}parked_claims_total`]: {
    type: 'counter',
    labels: '',
    help: 'Parked deliveries claimed by this instance for an attempt.',
  },
  [`${P}parked_lease_expiries_total`]: {
    type: 'counter',
    labels: '',
    help: 'Claims of rows whose previous lease ran out without a result (its instance died or hung).',
  },
  [`${P}circuits_open`]: {
    type: 'gauge',
    labels: 'state',
    help: 'Subscriptions whose circuit breaker on this instance is open or half_open (probing).',
  },
  [`${P}circuit_state`]: {
    type: 'gauge',
    labels: 'subscription_id',
    help: 'Circuit breaker state per subscription on this instance: 1 open, 0.5 half-open; closed circuits have no series; at most 50 series.',
  },
  [`${P}circuit_transitions_total`]: {
    type: 'counter',
    labels: 'to',
    help: 'Circuit breaker transitions on this instance, by the state entered: open, half_open, closed.',
  },
  [`${P}subscriptions_disabled_total`]: {
    type: 'counter',
    labels: 'reason',
    help: 'Subscriptions disabled automatically: gone (the receiver answered 410), failing (no 2xx for SUBSCRIPTION_DISABLE_AFTER_MS).',
  },
  [`${P}delivery_log_rows_total`]: {
    type: 'counter',
    labels: 'table',
    help: 'Rows written to the delivery log: table attempts or messages (one per event per instance and day).',
  },
  [`${P}delivery_log_dropped_total`]: {
    type: 'counter',
    labels: '',
    help: 'Attempts not written to the delivery log: its queue was full (DELIVERY_LOG_MAX_PENDING), Postgres refused the batch, or still queued at shutdown.',
  },
  [`${P}delivery_log_pending`]: {
    type: 'gauge',
    labels: '',
    help: 'Attempts queued in memory for the delivery log.',
  },
  [`${P}delivery_log_write_seconds`]: {
    type: 'histogram',
    labels: '',
    help: 'Duration of one delivery log batch write (one statement), failed ones included.',
  },
  [`${P}delivery_log_partitions_dropped_total`]: {
    type: 'counter',
    labels: '',
    help: 'Daily delivery log partitions dropped by retention (DELIVERY_LOG_RETENTION_DAYS), both tables counted.',
  },
  [`${P}ready`]: {
    type: 'gauge',
    labels: '',
    help: '1 when joined to the group with subscriptions loaded and not paused for an outage.',
  },
} as const;

export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'none';
export function statusClass(status: number | undefined): StatusClass {
  if (status === undefined || status < 100 || status > 599) return 'none';
  return `${Math.floor(status / 100)}xx` as StatusClass;
}

/** Tiledesk event families (first dotted segment); anything else folds into `other`. */
const FAMILIES = new Set([
  'request',
  'message',
  'lead',
  'project_user',
  'faqbot',
  'faq',
  'user',
  'operator',
  'department',
  'group',
  'event',
  'project',
]);
const familyOf = new Map<string, string>();
export function eventFamily(event: string): string {
  let family = familyOf.get(event);
  if (family === undefined) {
    const head = event.split('.', 1)[0] ?? '';
    family = FAMILIES.has(head) ? head : 'other';
    // Event names come from records: remember a bounded number (the real set is a few dozen).
    if (familyOf.size < 10_000) familyOf.set(event, family);
  }
  return family;
}

export function createMetrics(registry: Registry, options: { defaultMetrics?: boolean } = {}) {
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry });
  const help = (name: keyof typeof metricDocs): string => metricDocs[name].help;
  const registers = [registry];
  const m = {
    eventsConsumed: new Counter({
      name: `${P}events_consumed_total`,
      help: help(`${P}events_consumed_total`),
      labelNames: ['event_family'],
      registers,
    }),
    eventsUnmatched: new Counter({
      name: `${P}events_unmatched_total`,
      help: help(`${P}events_unmatched_total`),
      labelNames: ['event_family'],
      registers,
    }),
    eventsPoison: new Counter({
      name: `${P}events_poison_total`,
      help: help(`${P}events_poison_total`),
      labelNames: ['reason'],
      registers,
    }),
    deliveries: new Counter({
      name: `${P}deliveries_total`,
      help: help(`${P}deliveries_total`),
      labelNames: ['outcome', 'status_class'],
      registers,
    }),
    attempts: new Counter({
      name: `${P}delivery_attempts_total`,
      help: help(`${P}delivery_attempts_total`),
      labelNames: ['result', 'status_class'],
      registers,
    }),
    attemptDuration: new Histogram({
      name: `${P}attempt_duration_seconds`,
      help: help(`${P}attempt_duration_seconds`),
      labelNames: ['status_class'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
    endToEndLatency: new Histogram({
      name: `${P}end_to_end_latency_seconds`,
      help: help(`${P}end_to_end_latency_seconds`),
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900],
      registers,
    }),
    attemptsPerDelivery: new Histogram({
      name: `${P}attempts_per_delivery`,
      help: help(`${P}attempts_per_delivery`),
      labelNames: ['outcome'],
      buckets: [1, 2, 3, 4, 5, 6, 8, 10, 20],
      registers,
    }),
    deadLetters: new Counter({
      name: `${P}dead_letters_total`,
      help: help(`${P}dead_letters_total`),
      labelNames: ['reason'],
      registers,
    }),
    deadLetterPublishFailures: new Counter({
      name: `${P}dead_letter_publish_failures_total`,
      help: help(`${P}dead_letter_publish_failures_total`),
      registers,
    }),
    inFlightDeliveries: new Gauge({
      name: `${P}in_flight_deliveries`,
      help: help(`${P}in_flight_deliveries`),
      registers,
    }),
    inFlightRecords: new Gauge({
      name: `${P}in_flight_records`,
      help: help(`${P}in_flight_records`),
      registers,
    }),
    pausedPartitions: new Gauge({
      name: `${P}paused_partitions`,
      help: help(`${P}paused_partitions`),
      registers,
    }),
    consumerLag: new Gauge({
      name: `${P}consumer_lag`,
      help: help(`${P}consumer_lag`),
      labelNames: ['topic', 'partition'],
      registers,
    }),
    offsetCommits: new Counter({
      name: `${P}offset_commits_total`,
      help: help(`${P}offset_commits_total`),
      labelNames: ['result'],
      registers,
    }),
    offsetResets: new Counter({
      name: `${P}offset_resets_total`,
      help: help(`${P}offset_resets_total`),
      labelNames: ['reason'],
      registers,
    }),
    recordProcessingFailures: new Counter({
      name: `${P}record_processing_failures_total`,
      help: help(`${P}record_processing_failures_total`),
      registers,
    }),
    subscriptionsCached: new Gauge({
      name: `${P}subscriptions_cached`,
      help: help(`${P}subscriptions_cached`),
      registers,
    }),
    snapshotAge: new Gauge({
      name: `${P}subscriptions_snapshot_age_seconds`,
      help: help(`${P}subscriptions_snapshot_age_seconds`),
      registers,
    }),
    ssrfRefusals: new Counter({
      name: `${P}ssrf_refusals_total`,
      help: help(`${P}ssrf_refusals_total`),
      registers,
    }),
    parkedDeliveries: new Gauge({
      name: `${P}parked_deliveries`,
      help: help(`${P}parked_deliveries`),
      labelNames: ['state'],
      registers,
    }),
    parkedDueBacklog: new Gauge({
      name: `${P}parked_due_backlog`,
      help: help(`${P}parked_due_backlog`),
      registers,
    }),
    parkedOldestDueAge: new Gauge({
      name: `${P}parked_oldest_due_age_seconds`,
      help: help(`${P}parked_oldest_due_age_seconds`),
      registers,
    }),
    parks: new Counter({
      name: `${P}parks_total`,
      help: help(`${P}parks_total`),
      labelNames: ['reason'],
      registers,
    }),
    parkFailures: new Counter({
      name: `${P}park_failures_total`,
      help: help(`${P}park_failures_total`),
      registers,
    }),
    parkedClaims: new Counter({
      name: `${P}parked_claims_total`,
      help: help(`${P}parked_claims_total`),
      registers,
    }),
    leaseExpiries: new Counter({
      name: `${P}parked_lease_expiries_total`,
      help: help(`${P}parked_lease_expiries_total`),
      registers,
    }),
    circuitOpen: new Gauge({
      name: `${P}circuits_open`,
      help: help(`${P}circuits_open`),
      labelNames: ['state'],
      registers,
    }),
    circuitState: new Gauge({
      name: `${P}circuit_state`,
      help: help(`${P}circuit_state`),
      labelNames: ['subscription_id'],
      registers,
    }),
    circuitTransitions: new Counter({
      name: `${P}circuit_transitions_total`,
      help: help(`${P}circuit_transitions_total`),
      labelNames: ['to'],
      registers,
    }),
    subscriptionsDisabled: new Counter({
      name: `${P}subscriptions_disabled_total`,
      help: help(`${P}subscriptions_disabled_total`),
      labelNames: ['reason'],
      registers,
    }),
    ready: new Gauge({ name: `${P}ready`, help: help(`${P}ready`), registers }),
    logRows: new Counter({
      name: `${P}delivery_log_rows_total`,
      help: help(`${P}delivery_log_rows_total`),
      labelNames: ['table'],
      registers,
    }),
    logDropped: new Counter({
      name: `${P}delivery_log_dropped_total`,
      help: help(`${P}delivery_log_dropped_total`),
      registers,
    }),
    logPending: new Gauge({
      name: `${P}delivery_log_pending`,
      help: help(`${P}delivery_log_pending`),
      registers,
    }),
    logWriteSeconds: new Histogram({
      name: `${P}delivery_log_write_seconds`,
      help: help(`${P}delivery_log_write_seconds`),
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      registers,
    }),
    logPartitionsDropped: new Counter({
      name: `${P}delivery_log_partitions_dropped_total`,
      help: help(`${P}delivery_log_partitions_dropped_total`),
      registers,
    }),
  };
  // Known label values start at 0, so rate()/increase() see the first event of each series.
  for (const outcome of ['delivered', 'dead_lettered']) {
    m.deliveries.inc({ outcome, status_class: outcome === 'delivered' ? '2xx' : 'none' }, 0);
  }
  for (const reason of DEAD_LETTER_REASONS) m.deadLetters.inc({ reason }, 0);
  for (const result of ['ok', 'error', 'skipped']) m.offsetCommits.inc({ result }, 0);
  for (const reason of OFFSET_RESET_REASONS) m.offsetResets.inc({ reason }, 0);
  m.recordProcessingFailures.inc(0);
  for (const state of PARKED_STATES) m.parkedDeliveries.set({ state }, 0);
  for (const reason of PARK_REASONS) m.parks.inc({ reason }, 0);
  for (const state of CIRCUIT_STATES) m.circuitOpen.set({ state }, 0);
  for (const to of CIRCUIT_TRANSITION_TARGETS) m.circuitTransitions.inc({ to }, 0);
  for (const reason of DISABLE_REASONS) m.subscriptionsDisabled.inc({ reason }, 0);
  m.parkFailures.inc(0);
  m.parkedClaims.inc(0);
  m.leaseExpiries.inc(0);
  m.deadLetterPublishFailures.inc(0);
  m.ssrfRefusals.inc(0);
  for (const table of ['attempts', 'messages']) m.logRows.inc({ table }, 0);
  m.logDropped.inc(0);
  m.logPartitionsDropped.inc(0);
  return m;
}

/** Label values of the parked-delivery metrics (README "Parked deliveries"). */
export const PARKED_STATES = ['parked', 'delivered', 'dead'] as const;
export const PARK_REASONS = ['retry', 'behind', 'spill', 'circuit'] as const;
export const CIRCUIT_STATES = ['open', 'half_open'] as const;
export const CIRCUIT_TRANSITION_TARGETS = ['open', 'half_open', 'closed'] as const;
export const DISABLE_REASONS = ['gone', 'failing'] as const;

export type CircuitState = (typeof CIRCUIT_STATES)[number];

/** circuit_state's cap: subscription ids are unbounded, a scrape must not be. */
export const CIRCUIT_STATE_MAX_SERIES = 50;
const CIRCUIT_STATE_VALUE: Readonly<Record<CircuitState, number>> = { open: 1, half_open: 0.5 };

/**
 * Publishes the breakers that are not closed: circuits_open counts all of them, circuit_state gets one
 * series per subscription for at most `maxSeries` of them (open before half-open, then by id, so the same
 * ones stay across calls). The gauge is reset first, so a closed circuit's series disappears. Call it with
 * the whole set after every transition.
 */
export function setCircuitStates(
  metrics: Pick<Metrics, 'circuitOpen' | 'circuitState'>,
  states: readonly { id: string; state: CircuitState }[],
  maxSeries = CIRCUIT_STATE_MAX_SERIES,
): void {
  const counts: Record<CircuitState, number> = { open: 0, half_open: 0 };
  for (const s of states) counts[s.state] += 1;
  for (const state of CIRCUIT_STATES) metrics.circuitOpen.set({ state }, counts[state]);
  const shown = [...states]
    .sort((a, b) =>
      a.state === b.state ? (a.id < b.id ? -1 : a.id > b.id ? 1 : 0) : a.state === 'open' ? -1 : 1,
    )
    .slice(0, Math.max(0, maxSeries));
  metrics.circuitState.reset();
  for (const s of shown) metrics.circuitState.set({ subscription_id: s.id }, CIRCUIT_STATE_VALUE[s.state]);
}

/** Why a partition's position was reset (offset_resets_total). */
export const OFFSET_RESET_REASONS = ['out_of_range', 'log_went_back'] as const;

/** Every reason a dead letter can carry: delivery failures and poison records. */
export const DEAD_LETTER_REASONS = [
  'http_3xx',
  'http_4xx',
  'retries_exhausted',
  'ssrf',
  'invalid_target',
  'subscription_invalid',
  'undecodable',
  'invalid',
  'too_large',
  'unknown_schema',
  'empty',
] as const;

export type Metrics = ReturnType<typeof createMetrics>;
