/**
 * Every metric the service exports, on a registry passed in by the caller (never prom-client's global one).
 * Label values are bounded: event families from a fixed list, status classes, outcome and reason enums.
 * Never a URL, project id or subscription id as a label. `metricDocs` feeds the README table (kept in sync
 * by a unit test).
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
    ready: new Gauge({ name: `${P}ready`, help: help(`${P}ready`), registers }),
  };
  // Known label values start at 0, so rate()/increase() see the first event of each series.
  for (const outcome of ['delivered', 'dead_lettered']) {
    m.deliveries.inc({ outcome, status_class: outcome === 'delivered' ? '2xx' : 'none' }, 0);
  }
  for (const reason of DEAD_LETTER_REASONS) m.deadLetters.inc({ reason }, 0);
  for (const result of ['ok', 'error', 'skipped']) m.offsetCommits.inc({ result }, 0);
  for (const reason of OFFSET_RESET_REASONS) m.offsetResets.inc({ reason }, 0);
  m.recordProcessingFailures.inc(0);
  m.deadLetterPublishFailures.inc(0);
  m.ssrfRefusals.inc(0);
  return m;
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
