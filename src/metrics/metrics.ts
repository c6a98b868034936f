/**
 * Every metric the service exports, built from connector-metric-spec.ts on a registry passed in by the
 * caller (never prom-client's global one), and the label values they take. Label values are bounded: event
 * families from a fixed list, status classes, outcome and reason enums. Never a URL or project id as a
 * label; a subscription id only in `circuit_state`, at most CIRCUIT_STATE_MAX_SERIES series (see
 * setCircuitStates). `metricDocs` feeds the README table (kept in sync by a unit test).
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { connectorMetricSpec } from './connector-metric-spec.js';
import { buildMetrics, metricDocsOf } from './metric-spec.js';

/** README's metrics table rows of the connector, by metric name. */
export const metricDocs = metricDocsOf(connectorMetricSpec);

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
  const m = buildMetrics(connectorMetricSpec, registry);
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
