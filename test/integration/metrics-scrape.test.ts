/**
 * Issue 4 acceptance: after a mixed run (delivered, retried, dead-lettered, unmatched, poison) the live
 * /metrics scrape says exactly what happened, lag reads 0 once drained, /healthz and /readyz answer, and
 * every metric the alert rules and the dashboard use is one the running service exports.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import { committedOffsets, createTopic, produce, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';
import { createApiMetrics } from '../../src/metrics/api-metrics.js';
import { scanPromQL } from '../unit/deploy/helpers.js';

let db: TestDatabase;
let pool: pg.Pool;
let c: TestConnector;
let topic: string;
let groupId: string;
const receivers: Receiver[] = [];

/** Prometheus text → Map of `name{labels}` (labels sorted) → value. */
function parseScrape(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels = (m[3] ?? '')
      .split(/,(?=[a-zA-Z_]+=")/)
      .filter((l) => l !== '')
      .sort()
      .join(',');
    out.set(`${m[1]}{${labels}}`, Number(m[4]));
  }
  return out;
}

async function scrape(path = '/metrics'): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${c.app.opsPort}${path}`);
  return { status: res.status, text: await res.text() };
}

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('metrics'));
  topic = uniqueName('metrics');
  groupId = uniqueName('metrics-group');
  await createTopic(topic, 2);
  const ok = await startReceiver();
  const flaky = await startReceiver((_req, n) => ({ status: n === 1 ? 503 : 200 }));
  const gone = await startReceiver(() => ({ status: 404 }));
  receivers.push(ok, flaky, gone);
  const store = createSubscriptionStore(pool);
  await store.add({ idProject: 'P1', event: 'request.create', target: ok.url, createdBy: 't' });
  await store.add({ idProject: 'P1', event: 'message.create', target: flaky.url, createdBy: 't' });
  await store.add({ idProject: 'P1', event: 'lead.create', target: gone.url, createdBy: 't' });
  c = await startConnector({ topic, groupId, databaseUrl: db.url });
});

afterAll(async () => {
  await c?.stop();
  for (const r of receivers) await r.close();
  await pool?.end();
  await db?.drop();
});

describe('metrics after a mixed run', () => {
  it('count what happened, and lag reads 0 once drained', async () => {
    const ev = (id: string, event: string, project = 'P1'): { key: string; value: string } => ({
      key: project,
      value: JSON.stringify({ id, event, id_project: project, timestamp: Date.now() - 50, payload: { id } }),
    });
    await produce(topic, [
      ev('a', 'request.create'), // delivered
      ev('b', 'request.create'), // delivered
      ev('c', 'message.create'), // 503 then 200: delivered after a retry
      ev('d', 'lead.create'), // 404: dead-lettered
      ev('e', 'request.update'), // matches nothing
      ev('f', 'request.create', 'P2'), // matches nothing
      { key: 'P1', value: 'not json' }, // poison
    ]);
    await waitFor(
      async () => {
        const offsets = await committedOffsets(groupId, topic);
        return Number(offsets[0] ?? 0) + Number(offsets[1] ?? 0) === 7;
      },
      { timeoutMs: 20_000, message: 'all 7 records committed' },
    );
    await waitFor(
      async () =>
        parseScrape((await scrape()).text).get(
          `webhook_connector_consumer_lag{partition="0",topic="${topic}"}`,
        ) === 0,
      {
        timeoutMs: 10_000,
        message: 'lag of partition 0 reads 0',
      },
    );
    const m = parseScrape((await scrape()).text);
    const get = (k: string): number | undefined => m.get(k);
    expect(get('webhook_connector_events_consumed_total{event_family="request"}')).toBe(4);
    expect(get('webhook_connector_events_consumed_total{event_family="message"}')).toBe(1);
    expect(get('webhook_connector_events_consumed_total{event_family="lead"}')).toBe(1);
    expect(get('webhook_connector_events_unmatched_total{event_family="request"}')).toBe(2);
    expect(get('webhook_connector_events_poison_total{reason="undecodable"}')).toBe(1);
    expect(get('webhook_connector_deliveries_total{outcome="delivered",status_class="2xx"}')).toBe(3);
    expect(get('webhook_connector_deliveries_total{outcome="dead_lettered",status_class="4xx"}')).toBe(1);
    expect(get('webhook_connector_delivery_attempts_total{result="success",status_class="2xx"}')).toBe(3);
    expect(get('webhook_connector_delivery_attempts_total{result="retryable",status_class="5xx"}')).toBe(1);
    expect(get('webhook_connector_delivery_attempts_total{result="permanent",status_class="4xx"}')).toBe(1);
    expect(get('webhook_connector_dead_letters_total{reason="http_4xx"}')).toBe(1);
    expect(get('webhook_connector_dead_letters_total{reason="undecodable"}')).toBe(1);
    expect(get('webhook_connector_attempts_per_delivery_count{outcome="delivered"}')).toBe(3);
    expect(get('webhook_connector_attempts_per_delivery_sum{outcome="delivered"}')).toBe(4);
    expect(get('webhook_connector_end_to_end_latency_seconds_count{}')).toBe(3);
    expect(get('webhook_connector_in_flight_deliveries{}')).toBe(0);
    expect(get('webhook_connector_in_flight_records{}')).toBe(0);
    expect(get('webhook_connector_subscriptions_cached{}')).toBe(3);
    expect(get(`webhook_connector_consumer_lag{partition="1",topic="${topic}"}`)).toBe(0);
    expect(get('webhook_connector_ssrf_refusals_total{}')).toBe(0);
    expect(get('webhook_connector_ready{}')).toBe(1);
  });

  it('answers /healthz and /readyz', async () => {
    expect((await scrape('/healthz')).status).toBe(200);
    const ready = await scrape('/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({ ready: true, joined: true, subscriptions: 'fresh' });
  });

  it('exports every metric the alert rules and the dashboard use', async () => {
    // The test connector leaves Node's default metrics out; the service registers them (main.ts).
    const { Registry, collectDefaultMetrics } = await import('prom-client');
    const defaults = new Registry();
    collectDefaultMetrics({ register: defaults });
    // The management API's metrics are the api process's (its own scrape job, `<job>-api`).
    createApiMetrics(defaults).observe('/:projectid/subscriptions', 'GET', 200, 0.01);
    const { text } = await scrape();
    const live = new Set(
      [text, await defaults.metrics()]
        .join('\n')
        .split('\n')
        .filter((l) => l !== '' && !l.startsWith('#'))
        .map((l) => /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(l)![0]),
    );
    const alerts = parseYaml(readFileSync('deploy/prometheus/alerts.yml', 'utf8')) as {
      groups: { rules: { expr?: string }[] }[];
    };
    const dashboard = JSON.parse(
      readFileSync('deploy/grafana/dashboards/webhook-connector.json', 'utf8'),
    ) as { panels: { targets?: { expr?: string }[] }[] };
    const exprs = [
      ...alerts.groups.flatMap((g) => g.rules.map((r) => r.expr ?? '')),
      ...dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr ?? '')),
    ].filter((e) => e !== '');
    expect(exprs.length).toBeGreaterThan(10);
    const used = new Set(exprs.flatMap((e) => scanPromQL(e).selectors.map((s) => s.metric)));
    const prometheusOwn = new Set(['up', 'ALERTS', 'ALERTS_FOR_STATE']);
    // circuit_state has a series only while some subscription's circuit is open (none is here): its family
    // must still be declared by the running service.
    const seriesOnlyWhenActive = new Set(['webhook_connector_circuit_state']);
    const declared = new Set([...text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) /gm)].map((m) => m[1]!));
    expect([...seriesOnlyWhenActive].filter((name) => !declared.has(name))).toEqual([]);
    const missing = [...used].filter(
      (name) => !prometheusOwn.has(name) && !live.has(name) && !seriesOnlyWhenActive.has(name),
    );
    expect(missing).toEqual([]);
    expect(used.size).toBeGreaterThan(10);
  });
});
