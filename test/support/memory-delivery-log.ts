/**
 * An in-memory DeliveryLogReader + ManualResends for tests of the management API's routes (what a route
 * passes to the store and does with its answer), not of the store: the Postgres ones are tested in
 * src/api/store's own tests. Seed it with deliveries; `calls` records every call, in order.
 */
import type {
  AttemptView,
  DeliveryFilter,
  DeliveryLogReader,
  DeliveryView,
  HistoryRow,
  ManualResends,
} from '../../src/api/store/types.js';

export interface MemoryDeliveryLog extends DeliveryLogReader, ManualResends {
  readonly calls: unknown[][];
  add(delivery: DeliveryView, attempts?: AttemptView[]): void;
}

export function deliveryView(
  o: Partial<DeliveryView> & Pick<DeliveryView, 'id' | 'idProject' | 'subscriptionId'>,
): DeliveryView {
  return {
    event: 'request.create',
    eventId: `evt-${o.id}`,
    status: 'failed',
    attempts: 1,
    lastAttemptAt: new Date('2026-01-02T03:04:05.000Z'),
    lastStatusCode: 500,
    nextAttemptAt: null,
    ...o,
  };
}

export function attemptView(o: Partial<AttemptView> = {}): AttemptView {
  return {
    attemptedAt: new Date('2026-01-02T03:04:05.000Z'),
    attempt: 1,
    trigger: 'scheduled',
    result: 'retryable',
    reason: 'http_5xx',
    statusCode: 500,
    durationMs: 12.5,
    error: null,
    responseExcerpt: 'oops',
    instance: 'host:1:abc',
    target: 'https://example.com/hook',
    ...o,
  };
}

export function createMemoryDeliveryLog(): MemoryDeliveryLog {
  const deliveries = new Map<string, { delivery: DeliveryView; attempts: AttemptView[] }>();
  const calls: unknown[][] = [];
  let tests = 0;
  const historyRow = (d: DeliveryView): HistoryRow => ({
    _id: d.id,
    event: d.event,
    target: 'https://example.com/hook',
    response: '{}',
    jsonRequest: '{}',
    body: '',
    err: null,
    id_project: d.idProject,
    createdAt: d.lastAttemptAt.toISOString(),
    updatedAt: d.lastAttemptAt.toISOString(),
    __v: 0,
    webhook_id: d.id,
    attempt: d.attempts,
    status_code: d.lastStatusCode,
    duration_ms: 12.5,
    subscription_id: d.subscriptionId,
  });
  return {
    calls,
    add(delivery, attempts = [attemptView()]) {
      deliveries.set(delivery.id, { delivery, attempts });
    },
    async history(idProject, page) {
      calls.push(['history', idProject, page]);
      return [...deliveries.values()]
        .filter((d) => d.delivery.idProject === idProject)
        .map((d) => historyRow(d.delivery))
        .slice(page * 40, page * 40 + 40);
    },
    async deliveries(f: DeliveryFilter) {
      calls.push(['deliveries', f]);
      const items = [...deliveries.values()]
        .map((d) => d.delivery)
        .filter((d) => d.idProject === f.idProject && d.subscriptionId === f.subscriptionId)
        .filter((d) => f.status === undefined || d.status === f.status);
      return { items: items.slice(0, f.limit), next: items.length > f.limit ? 'next-page' : null };
    },
    async delivery(idProject, webhookId) {
      calls.push(['delivery', idProject, webhookId]);
      const d = deliveries.get(webhookId);
      return d !== undefined && d.delivery.idProject === idProject ? d : undefined;
    },
    async resend(idProject, webhookId) {
      calls.push(['resend', idProject, webhookId]);
      return deliveries.get(webhookId)?.delivery.idProject === idProject ? 'queued' : 'not_found';
    },
    async recover(idProject, subscriptionId, since) {
      calls.push(['recover', idProject, subscriptionId, since]);
      return [...deliveries.values()].filter(
        (d) =>
          d.delivery.idProject === idProject &&
          d.delivery.subscriptionId === subscriptionId &&
          d.delivery.status === 'failed' &&
          d.delivery.lastAttemptAt >= since,
      ).length;
    },
    async sendTest(idProject, subscriptionId) {
      calls.push(['sendTest', idProject, subscriptionId]);
      tests += 1;
      return `msg_test${tests}`;
    },
  };
}
