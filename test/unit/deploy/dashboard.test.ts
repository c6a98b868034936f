/**
 * The Grafana dashboard (deploy/grafana/dashboards/webhook-connector.json) and its provisioning: valid JSON,
 * unique panel ids on a non-overlapping grid, every query through the `${datasource}` variable, every
 * expression parsed by promtool, and only metric names (and labels) the service exports. A live scrape is
 * compared with these names by an integration test; this one needs no network.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import { apiMetricDocs } from '../../../src/metrics/api-metrics.js';
import { metricDocs } from '../../../src/metrics/metrics.js';
import {
  type KnownMetric,
  checkExpressionsParse,
  knownSeries,
  metricProblems,
  readRepoFile,
  scanPromQL,
} from './helpers.js';

interface Target {
  refId?: string;
  expr?: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
}
interface Variable {
  name: string;
  type: string;
  query?: string | { query?: string };
  definition?: string;
  datasource?: { type?: string; uid?: string };
}

const text = readRepoFile('deploy/grafana/dashboards/webhook-connector.json');
const dashboard = JSON.parse(text) as {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
};
// Rows may hold collapsed panels of their own.
const allPanels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queryPanels = allPanels.filter((p) => p.type !== 'row');
const targets = queryPanels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, ...t })));
const variables = dashboard.templating.list;
const DS = { type: 'prometheus', uid: '${datasource}' };

/**
 * Grafana's variables, replaced by values a query could have, so that promtool can parse the result. An
 * unknown `$variable` stays and fails the parse.
 */
function substituteVariables(expr: string): string {
  return expr
    .replaceAll('$__rate_interval', '1m')
    .replaceAll('$__interval', '1m')
    .replaceAll('$__range', '1h')
    .replace(/\$\{?job\}?/g, 'webhook-connector')
    .replace(/\$\{?instance\}?/g, '.*');
}

describe('dashboard JSON', () => {
  it('is a dashboard of a current schema with a stable uid', () => {
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toMatch(/^[a-zA-Z0-9_-]{1,40}$/);
    expect(dashboard.title).toBeTruthy();
  });

  it('has unique panel ids', () => {
    const ids = allPanels.map((p) => p.id);
    expect(ids.every((id) => Number.isInteger(id) && id > 0)).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('lays panels out on the 24-column grid without overlaps', () => {
    const problems: string[] = [];
    const top = dashboard.panels;
    for (const p of top) {
      const g = p.gridPos;
      if (!(g.x >= 0 && g.w > 0 && g.x + g.w <= 24 && g.y >= 0 && g.h > 0)) {
        problems.push(`${p.title}: ${JSON.stringify(g)}`);
      }
    }
    for (let a = 0; a < top.length; a += 1) {
      for (let b = a + 1; b < top.length; b += 1) {
        const [p, q] = [top[a]!.gridPos, top[b]!.gridPos];
        if (p.x < q.x + q.w && q.x < p.x + p.w && p.y < q.y + q.h && q.y < p.y + p.h) {
          problems.push(`${top[a]!.title} overlaps ${top[b]!.title}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });

  it('declares a Prometheus datasource variable, and every panel, target and query variable uses it', () => {
    expect(variables.find((v) => v.name === 'datasource')).toMatchObject({
      type: 'datasource',
      query: 'prometheus',
    });
    const wrong = [
      ...queryPanels
        .filter((p) => JSON.stringify(p.datasource) !== JSON.stringify(DS))
        .map((p) => `panel ${p.title}`),
      ...targets
        .filter((t) => JSON.stringify(t.datasource) !== JSON.stringify(DS))
        .map((t) => `${t.panel} ${t.refId}`),
      ...variables
        .filter((v) => v.type === 'query' && JSON.stringify(v.datasource) !== JSON.stringify(DS))
        .map((v) => v.name),
    ];
    expect(wrong).toEqual([]);
    // Nothing pins a datasource uid of one particular Grafana.
    expect(text).not.toMatch(/"uid":\s*"(?!\$\{datasource\}|-- Grafana --|tiledesk-webhook-connector")/);
  });

  it('gives every query panel at least one target with an expression and unique refIds', () => {
    const problems = queryPanels.flatMap((p) => {
      const ts = p.targets ?? [];
      const refIds = ts.map((t) => t.refId);
      if (ts.length === 0) return [`${p.title}: no targets`];
      if (ts.some((t) => !t.expr?.trim())) return [`${p.title}: empty expr`];
      return new Set(refIds).size === refIds.length ? [] : [`${p.title}: duplicate refId`];
    });
    expect(problems).toEqual([]);
  });
});

describe('dashboard queries', () => {
  let known: Map<string, KnownMetric>;
  beforeAll(async () => {
    known = await knownSeries();
  });

  const exprs = targets.map((t) => substituteVariables(t.expr ?? ''));

  it('parse as PromQL (promtool)', () => {
    expect(exprs.filter((e) => e.includes('$'))).toEqual([]);
    const r = checkExpressionsParse(exprs);
    expect(r).toEqual({ ok: true, output: expect.stringContaining('SUCCESS') });
  });

  it('use only metrics and labels the service exports (metricDocs, prom-client defaults, up)', () => {
    expect(exprs.flatMap((e) => metricProblems(e, known))).toEqual([]);
  });

  it('group only by labels that exist', () => {
    const labels = new Set(['job', 'instance', ...[...known.values()].flatMap((m) => [...m.labels])]);
    expect(exprs.flatMap((e) => scanPromQL(e).groupingLabels.filter((l) => !labels.has(l)))).toEqual([]);
  });

  it("take the query variables' values from a metric the service exports", () => {
    const problems = variables
      .filter((v) => v.type === 'query')
      .flatMap((v) => {
        const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
        const m = /^label_values\((.+),\s*(\w+)\)$/.exec(q);
        if (!m) return [`${v.name}: not label_values(selector, label): ${q}`];
        return metricProblems(substituteVariables(m[1]!), known);
      });
    expect(problems).toEqual([]);
  });

  it('show every metric of metricDocs and apiMetricDocs somewhere', () => {
    const used = new Set(exprs.flatMap((e) => scanPromQL(e).selectors.map((s) => s.metric)));
    const unused = Object.keys({ ...metricDocs, ...apiMetricDocs }).filter(
      (name) => ![name, `${name}_bucket`, `${name}_sum`, `${name}_count`].some((n) => used.has(n)),
    );
    expect(unused).toEqual([]);
  });

  it('has the "Management API and delivery log" row', () => {
    expect(dashboard.panels.filter((p) => p.type === 'row').map((p) => p.title)).toContain(
      'Management API and delivery log',
    );
  });

  it('show the panels operators rely on', () => {
    const titles = queryPanels.map((p) => p.title.toLowerCase());
    for (const wanted of [
      'events consumed',
      'deliveries / s by outcome',
      'success ratio',
      'end-to-end latency',
      'attempt duration p99',
      'retries',
      'dead letters by reason',
      'consumer lag per partition',
      'in flight',
      'paused partitions',
      'event-loop lag',
      'subscriptions snapshot age',
      'ssrf refusals',
      'ready instances',
      'parked deliveries by state',
      'parked due backlog and oldest due age',
      'parks / s by reason',
      'parked claims / s and lease expiries / s',
      'park failures / s',
      'open circuits and circuit transitions',
      'circuit state by subscription',
      'subscriptions disabled by reason',
      'api requests / s by route and status',
      'api refusals and errors / s',
      'api latency p99 by route',
    ]) {
      expect(titles.some((t) => t.includes(wanted))).toBe(true);
    }
  });
});

describe('Grafana provisioning', () => {
  const datasources = parse(readRepoFile('deploy/grafana/provisioning/datasources/prometheus.yml')) as {
    apiVersion: number;
    datasources: { type: string; url: string }[];
  };
  const providers = parse(readRepoFile('deploy/grafana/provisioning/dashboards/webhook-connector.yml')) as {
    apiVersion: number;
    providers: { type: string; options: { path: string } }[];
  };

  it('provisions a Prometheus datasource', () => {
    expect(datasources.apiVersion).toBe(1);
    expect(datasources.datasources).toEqual([
      expect.objectContaining({ type: 'prometheus', url: 'http://prometheus:9090' }),
    ]);
  });

  it('loads dashboards from the folder docker-compose.yml mounts deploy/grafana/dashboards at', () => {
    expect(providers.apiVersion).toBe(1);
    const compose = parse(readRepoFile('docker-compose.yml'), { merge: true }) as {
      services: Record<string, { volumes?: string[] }>;
    };
    const mount = (compose.services.grafana?.volumes ?? []).find((v) =>
      v.startsWith('./deploy/grafana/dashboards:'),
    );
    expect(mount?.split(':')[1]).toBe(providers.providers[0]?.options.path);
    expect(providers.providers[0]?.type).toBe('file');
  });
});
