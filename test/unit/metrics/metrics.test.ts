import { describe, expect, it } from '@jest/globals';
import { Registry, register as globalRegistry } from 'prom-client';
import { createMetrics, eventFamily, metricDocs, statusClass } from '../../../src/metrics/metrics.js';

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

describe('createMetrics', () => {
  it('registers every documented metric on the registry it is given, with the documented type and labels', async () => {
    const registry = new Registry();
    const m = createMetrics(registry, { defaultMetrics: false });
    for (const [name, doc] of Object.entries(metricDocs)) {
      const metric = registry.getSingleMetric(name);
      expect(metric).toBeDefined();
      const snapshot = await metric!.get();
      expect(snapshot.type).toBe(doc.type);
      expect(snapshot.help).toBe(doc.help);
      const labels = (metric as unknown as { labelNames: string[] }).labelNames;
      expect(labels.join(', ')).toBe(doc.labels);
    }
    expect((await registry.getMetricsAsJSON()).map((x) => x.name).sort()).toEqual(
      Object.keys(metricDocs).sort(),
    );
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
