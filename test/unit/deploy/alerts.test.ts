/**
 * Prometheus alert rules (deploy/prometheus/alerts.yml): promtool accepts them and their unit tests pass,
 * every alert carries what on-call needs (for, severity, summary, runbook), is tested both firing and not
 * firing, is documented in deploy/README.md, and only queries metrics the service exports.
 */
import { beforeAll, describe, expect, it } from '@jest/globals';
import { parse } from 'yaml';
import {
  type KnownMetric,
  knownSeries,
  metricProblems,
  promtool,
  readRepoFile,
  scanPromQL,
} from './helpers.js';

interface AlertRule {
  alert: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface AlertTest {
  alertname: string;
  eval_time: string;
  exp_alerts?: unknown[];
}

const rulesFile = parse(readRepoFile('deploy/prometheus/alerts.yml')) as {
  groups: { name: string; rules: AlertRule[] }[];
};
const alerts = rulesFile.groups.flatMap((g) => g.rules);
const testsFile = parse(readRepoFile('deploy/prometheus/alerts.test.yml')) as {
  rule_files: string[];
  tests: { alert_rule_test?: AlertTest[] }[];
};
const alertTests = testsFile.tests.flatMap((t) => t.alert_rule_test ?? []);

describe('promtool', () => {
  it('accepts the alert rules', () => {
    const r = promtool(['check', 'rules', 'deploy/prometheus/alerts.yml']);
    expect(r).toEqual({ ok: true, output: expect.stringContaining('SUCCESS') });
  });

  it('passes the rule unit tests (deploy/prometheus/alerts.test.yml)', () => {
    const r = promtool(['test', 'rules', 'deploy/prometheus/alerts.test.yml']);
    expect(r).toEqual({ ok: true, output: expect.stringContaining('SUCCESS') });
  });

  it("accepts compose's prometheus.yml (which loads alerts.yml)", () => {
    const r = promtool(['check', 'config', 'deploy/prometheus/prometheus.yml']);
    expect(r).toEqual({ ok: true, output: expect.stringContaining('SUCCESS') });
  });
});

describe('alert rules', () => {
  it('has alerts, each named once', () => {
    expect(alerts.length).toBeGreaterThan(0);
    const names = alerts.map((a) => a.alert);
    expect(new Set(names).size).toBe(names.length);
  });

  it.each(alerts.map((a) => [a.alert, a] as const))(
    '%s has for, severity, summary and runbook',
    (_name, a) => {
      expect(a.for).toMatch(/^\d+[smh]$/);
      expect(['critical', 'warning']).toContain(a.labels?.severity);
      expect(a.annotations?.summary?.trim()).toBeTruthy();
      // A runbook line is an instruction, not a restatement of the summary.
      expect((a.annotations?.runbook ?? '').trim().length).toBeGreaterThan(40);
    },
  );

  it('tests every alert both firing and not firing', () => {
    const missing: string[] = [];
    for (const { alert } of alerts) {
      const cases = alertTests.filter((t) => t.alertname === alert);
      if (!cases.some((t) => (t.exp_alerts ?? []).length > 0)) missing.push(`${alert}: no firing case`);
      if (!cases.some((t) => (t.exp_alerts ?? []).length === 0)) missing.push(`${alert}: no not-firing case`);
    }
    expect(missing).toEqual([]);
    expect(testsFile.rule_files).toEqual(['alerts.yml']);
  });

  it('lists every alert in deploy/README.md', () => {
    const readme = readRepoFile('deploy/README.md');
    expect(alerts.map((a) => a.alert).filter((name) => !readme.includes(name))).toEqual([]);
  });

  describe('metric names', () => {
    let known: Map<string, KnownMetric>;
    beforeAll(async () => {
      known = await knownSeries();
    });

    it('uses only metrics the service exports (metricDocs, prom-client defaults, up)', () => {
      expect(alerts.flatMap((a) => metricProblems(a.expr, known))).toEqual([]);
    });

    it('groups only by labels that exist', () => {
      const labels = new Set(['job', 'instance', ...[...known.values()].flatMap((m) => [...m.labels])]);
      const unknown = alerts.flatMap((a) => scanPromQL(a.expr).groupingLabels.filter((l) => !labels.has(l)));
      expect(unknown).toEqual([]);
    });
  });
});
