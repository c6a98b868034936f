import { describe, expect, it } from '@jest/globals';
import { Registry, register as globalRegistry } from 'prom-client';
import { apiMetricDocs, createApiMetrics } from '../../../src/metrics/api-metrics.js';
import {
  CIRCUIT_STATE_MAX_SERIES,
  createMetrics,
  eventFamily,
  metricDocs,
  setCircuitStates,
  statusClass,
} from '../../../src/metrics/metrics.js';

describe('eventFamily', () => {
  it.each([
    ['request.create', 'request'],
    ['request.close', 'request'],
    ['message.create', 'message'],
    ['message.create.request.channel.whatsapp', 'message'],
    ['message.create.request.channel.telegram', 'message'],
    ['lead.create', 'lead'],
    ['project_user.update', 'project_user'],
    ['faqbot.create', 'faqbot'],
    ['faq.create', 'faq'],
    ['event.emit.typing.start', 'event'],
    ['user.signup', 'user'],
    ['department.update', 'department'],
  ])('%s → %s', (event, family) => {
    expect(eventFamily(event)).toBe(family);
  });

  it.each(['custom.thing', 'requests.create', 'Request.create', 'request', '', '.request', 'x:y'])(
    'folds %p into a bounded family',
    (event) => {
      expect(eventFamily(event)).toBe(event === 'request' ? 'request' : 'other');
    },
  );

  it('keeps the label set bounded whatever names arrive', () => {
    const families = new Set<string>();
    for (let i = 0; i < 5_000; i++) families.add(eventFamily(`${i}.tenant-${i}.channel.x${i}`));
    families.add(eventFamily('message.create.request.channel.whatsapp'));
    expect([...families].sort()).toEqual(['message', 'other']);
  });
});

describe('statusClass', () => {
  it.each([
    [100, '1xx'],
    [200, '2xx'],
    [204, '2xx'],
    [302, '3xx'],
    [404, '4xx'],
    [429, '4xx'],
    [503, '5xx'],
    [599, '5xx'],
    [undefined, 'none'],
    [0, 'none'],
    [99, 'none'],
    [600, 'none'],
    [999, 'none'],
  ])('%p → %s', (status, cls) => {
    expect(statusClass(status)).toBe(cls);
  });
});

/** Every metric of `registry` has the type, help and labels of its README row, and there is one per row. */
async function expectRegistryAsDocumented(
  registry: Registry,
  docs: Readonly<Record<string, { type: string; labels: string; help: string }>>,
): Promise<void> {
  for (const [name, doc] of Object.entries(docs)) {
    const metric = registry.getSingleMetric(name);
    expect(metric).toBeDefined();
    const snapshot = await metric!.get();
    expect(snapshot.type).toBe(doc.type);
    expect(snapshot.help).toBe(doc.help);
    const labels = (metric as unknown as { labelNames: string[] }).labelNames;
    expect(labels.join(', ')).toBe(doc.labels);
  }
  expect((await registry.getMetricsAsJSON()).map((x) => x.name).sort()).toEqual(Object.keys(docs).sort());
}

describe('createMetrics', () => {
  it('registers every documented metric on the registry it is given, with the documented type and labels', async () => {
    const registry = new Registry();
    const m = createMetrics(registry, { defaultMetrics: false });
    await expectRegistryAsDocumented(registry, metricDocs);
    m.deliveries.inc({ outcome: 'delivered', status_class: statusClass(204) });
    expect(await registry.metrics()).toContain(
      'webhook_connector_deliveries_total{outcome="delivered",status_class="2xx"} 1',
    );
  });

  it('never touches the global registry and can be created twice', () => {
    const before = globalRegistry.getMetricsAsArray().length;
    const a = new Registry();
    const b = new Registry();
    createMetrics(a, { defaultMetrics: false });
    expect(() => createMetrics(b, { defaultMetrics: false })).not.toThrow();
    expect(globalRegistry.getMetricsAsArray().length).toBe(before);
    expect(globalRegistry.getSingleMetric('webhook_connector_deliveries_total')).toBeUndefined();
  });

  it("adds Node's default process metrics unless told not to", async () => {
    const withDefaults = new Registry();
    createMetrics(withDefaults);
    const names = (await withDefaults.getMetricsAsJSON()).map((x) => x.name);
    expect(names).toContain('process_cpu_seconds_total');
    expect(names).toEqual(expect.arrayContaining(Object.keys(metricDocs)));
    const without = new Registry();
    createMetrics(without, { defaultMetrics: false });
    expect((await without.getMetricsAsJSON()).map((x) => x.name)).not.toContain('process_cpu_seconds_total');
  });
});

describe('createApiMetrics', () => {
  it('registers the documented API metrics, and observe() counts by route, method and status', async () => {
    const registry = new Registry();
    const m = createApiMetrics(registry);
    await expectRegistryAsDocumented(registry, apiMetricDocs);
    m.observe('/:projectid/subscriptions', 'GET', 200, 0.02);
    const text = await registry.metrics();
    expect(text).toContain(
      'webhook_connector_api_requests_total{route="/:projectid/subscriptions",method="GET",status_code="200"} 1',
    );
    expect(text).toContain(
      'webhook_connector_api_request_duration_seconds_bucket{le="0.025",route="/:projectid/subscriptions",method="GET"} 1',
    );
  });
});

describe('parked-delivery metrics', () => {
  it('start every known label value at 0, so rate() and increase() see the first event', async () => {
    const registry = new Registry();
    createMetrics(registry, { defaultMetrics: false });
    const text = await registry.metrics();
    for (const line of [
      'webhook_connector_parked_deliveries{state="parked"} 0',
      'webhook_connector_parked_deliveries{state="delivered"} 0',
      'webhook_connector_parked_deliveries{state="dead"} 0',
      'webhook_connector_parked_due_backlog 0',
      'webhook_connector_parked_oldest_due_age_seconds 0',
      'webhook_connector_parks_total{reason="retry"} 0',
      'webhook_connector_parks_total{reason="behind"} 0',
      'webhook_connector_parks_total{reason="spill"} 0',
      'webhook_connector_parks_total{reason="circuit"} 0',
      'webhook_connector_park_failures_total 0',
      'webhook_connector_parked_claims_total 0',
      'webhook_connector_parked_lease_expiries_total 0',
      'webhook_connector_circuits_open{state="open"} 0',
      'webhook_connector_circuits_open{state="half_open"} 0',
      'webhook_connector_circuit_transitions_total{to="open"} 0',
      'webhook_connector_circuit_transitions_total{to="half_open"} 0',
      'webhook_connector_circuit_transitions_total{to="closed"} 0',
      'webhook_connector_subscriptions_disabled_total{reason="gone"} 0',
      'webhook_connector_subscriptions_disabled_total{reason="failing"} 0',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
    // No circuit is open: circuit_state has no series at all.
    expect(text).not.toMatch(/^webhook_connector_circuit_state\{/m);
  });
});

describe('setCircuitStates', () => {
  async function circuitSeries(
    registry: Registry,
  ): Promise<{ state: Map<string, number>; open: Map<string, number> }> {
    const state = new Map<string, number>();
    const open = new Map<string, number>();
    for (const m of await registry.getMetricsAsJSON()) {
      if (m.name === 'webhook_connector_circuit_state') {
        for (const v of m.values) state.set(String(v.labels.subscription_id), v.value);
      }
      if (m.name === 'webhook_connector_circuits_open') {
        for (const v of m.values) open.set(String(v.labels.state), v.value);
      }
    }
    return { state, open };
  }

  it('sets 1 for open and 0.5 for half-open, counts both, and drops a series once its circuit closes', async () => {
    const registry = new Registry();
    const m = createMetrics(registry, { defaultMetrics: false });
    setCircuitStates(m, [
      { id: 'sub-a', state: 'open' },
      { id: 'sub-b', state: 'half_open' },
    ]);
    expect(await circuitSeries(registry)).toEqual({
      state: new Map([
        ['sub-a', 1],
        ['sub-b', 0.5],
      ]),
      open: new Map([
        ['open', 1],
        ['half_open', 1],
      ]),
    });
    // sub-a closed, sub-b opened again after its probe failed.
    setCircuitStates(m, [{ id: 'sub-b', state: 'open' }]);
    expect(await circuitSeries(registry)).toEqual({
      state: new Map([['sub-b', 1]]),
      open: new Map([
        ['open', 1],
        ['half_open', 0],
      ]),
    });
    setCircuitStates(m, []);
    expect(await circuitSeries(registry)).toEqual({
      state: new Map(),
      open: new Map([
        ['open', 0],
        ['half_open', 0],
      ]),
    });
  });

  it('keeps at most 50 series however many circuits are open, open ones first, the same ones each time', async () => {
    expect(CIRCUIT_STATE_MAX_SERIES).toBe(50);
    const registry = new Registry();
    const m = createMetrics(registry, { defaultMetrics: false });
    const halfOpen = Array.from({ length: 30 }, (_, i) => ({ id: `h-${i}`, state: 'half_open' as const }));
    const open = Array.from({ length: 1_000 }, (_, i) => ({
      id: `o-${String(i).padStart(4, '0')}`,
      state: 'open' as const,
    }));
    setCircuitStates(m, [...halfOpen, ...open]);
    const first = await circuitSeries(registry);
    expect(first.state.size).toBe(50);
    expect([...first.state.values()].every((v) => v === 1)).toBe(true);
    // Counts are not capped: they are two series whatever the number of subscriptions.
    expect(first.open).toEqual(
      new Map([
        ['open', 1_000],
        ['half_open', 30],
      ]),
    );
    // Another order of the same circuits shows the same subscriptions: no series churn between scrapes.
    setCircuitStates(m, [...[...open].reverse(), ...halfOpen]);
    expect([...(await circuitSeries(registry)).state.keys()].sort()).toEqual([...first.state.keys()].sort());
    expect([...first.state.keys()].sort()).toEqual(open.slice(0, 50).map((o) => o.id));

    // With fewer open circuits than the cap, half-open ones fill the rest.
    setCircuitStates(m, [...halfOpen, ...open.slice(0, 40)]);
    const mixed = await circuitSeries(registry);
    expect(mixed.state.size).toBe(50);
    expect([...mixed.state.values()].filter((v) => v === 0.5)).toHaveLength(10);
    expect((await registry.metrics()).match(/^webhook_connector_circuit_state\{/gm)).toHaveLength(50);
  });

  it('honours a smaller cap, and 0 shows none', async () => {
    const registry = new Registry();
    const m = createMetrics(registry, { defaultMetrics: false });
    const states = ['c', 'a', 'b'].map((id) => ({ id, state: 'open' as const }));
    setCircuitStates(m, states, 2);
    expect([...(await circuitSeries(registry)).state.keys()].sort()).toEqual(['a', 'b']);
    setCircuitStates(m, states, 0);
    expect((await circuitSeries(registry)).state.size).toBe(0);
    expect((await circuitSeries(registry)).open.get('open')).toBe(3);
  });
});
