/**
 * Metrics of the management API process (`webhook-connector api`), on the registry its caller passes.
 * `route` is the route pattern (`/:projectid/subscriptions/:id`), never the raw URL, so the number of
 * series is bounded by the route table; an unmatched request counts as route `unmatched`.
 */
import { collectDefaultMetrics, type Registry } from 'prom-client';
import { buildMetrics, metricDocsOf, type MetricSpec } from './metric-spec.js';

const apiMetricSpec = {
  requests: {
    name: 'webhook_connector_api_requests_total',
    type: 'counter',
    labels: ['route', 'method', 'status_code'],
    help: 'Management API requests answered, by route pattern, method and status code.',
  },
  duration: {
    name: 'webhook_connector_api_request_duration_seconds',
    type: 'histogram',
    labels: ['route', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    help: 'Management API request duration (received to answered), by route pattern and method.',
  },
} as const satisfies Record<string, MetricSpec>;

/** README's metrics table rows of the API process, by metric name. */
export const apiMetricDocs = metricDocsOf(apiMetricSpec);

export interface ApiMetrics {
  observe(route: string, method: string, statusCode: number, seconds: number): void;
}

/** `defaultMetrics`: also the process metrics (CPU, memory, event loop), for the api process's /metrics. */
export function createApiMetrics(registry: Registry, options: { defaultMetrics?: boolean } = {}): ApiMetrics {
  if (options.defaultMetrics === true) collectDefaultMetrics({ register: registry });
  const { requests, duration } = buildMetrics(apiMetricSpec, registry);
  return {
    observe(route, method, statusCode, seconds) {
      requests.inc({ route, method, status_code: String(statusCode) });
      duration.observe({ route, method }, seconds);
    },
  };
}
