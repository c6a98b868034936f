/**
 * Metrics of the management API process (`webhook-connector api`), on the registry its caller passes.
 * `route` is the route pattern (`/:projectid/subscriptions/:id`), never the raw URL, so the number of
 * series is bounded by the route table; an unmatched request counts as route `unmatched`.
 */
import { Counter, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';

export const apiMetricDocs = {
  webhook_connector_api_requests_total: {
    type: 'counter',
    labels: 'route, method, status_code',
    help: 'Management API requests answered, by route pattern, method and status code.',
  },
  webhook_connector_api_request_duration_seconds: {
    type: 'histogram',
    labels: 'route, method',
    help: 'Management API request duration (received to answered), by route pattern and method.',
  },
} as const;

export interface ApiMetrics {
  observe(route: string, method: string, statusCode: number, seconds: number): void;
}

/** `defaultMetrics`: also the process metrics (CPU, memory, event loop), for the api process's /metrics. */
export function createApiMetrics(registry: Registry, options: { defaultMetrics?: boolean } = {}): ApiMetrics {
  if (options.defaultMetrics === true) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  const requests = new Counter({
    name: 'webhook_connector_api_requests_total',
    help: apiMetricDocs.webhook_connector_api_requests_total.help,
    labelNames: ['route', 'method', 'status_code'],
    registers,
  });
  const duration = new Histogram({
    name: 'webhook_connector_api_request_duration_seconds',
    help: apiMetricDocs.webhook_connector_api_request_duration_seconds.help,
    labelNames: ['route', 'method'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers,
  });
  return {
    observe(route, method, statusCode, seconds) {
      requests.inc({ route, method, status_code: String(statusCode) });
      duration.observe({ route, method }, seconds);
    },
  };
}
