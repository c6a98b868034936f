/**
 * A metric declared once, as data: what prom-client needs to build it and what README's metrics table
 * shows. buildMetrics turns a table of specs into typed prom-client objects (the labels of `inc`/`set`/
 * `observe` are checked against the spec's), metricDocsOf into the README rows.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

interface Common {
  readonly name: string;
  readonly labels: readonly string[];
  readonly help: string;
}

export type MetricSpec =
  | (Common & { readonly type: 'counter' })
  | (Common & { readonly type: 'gauge' })
  | (Common & { readonly type: 'histogram'; readonly buckets: readonly number[] });

/** A spec's label names as prom-client's type parameter; no labels is prom-client's default, `string`. */
type LabelsOf<S extends MetricSpec> = [S['labels'][number]] extends [never] ? string : S['labels'][number];

export type MetricOf<S extends MetricSpec> = S['type'] extends 'counter'
  ? Counter<LabelsOf<S>>
  : S['type'] extends 'gauge'
    ? Gauge<LabelsOf<S>>
    : Histogram<LabelsOf<S>>;

export type MetricsOf<T extends Record<string, MetricSpec>> = { [K in keyof T]: MetricOf<T[K]> };

/** One prom-client object per entry of `spec`, under the same key, registered on `registry` only. */
export function buildMetrics<T extends Record<string, MetricSpec>>(
  spec: T,
  registry: Registry,
): MetricsOf<T> {
  const registers = [registry];
  const out: Record<string, Counter | Gauge | Histogram> = {};
  for (const [key, s] of Object.entries(spec) as [string, MetricSpec][]) {
    const config = { name: s.name, help: s.help, labelNames: s.labels, registers };
    out[key] =
      s.type === 'counter'
        ? new Counter(config)
        : s.type === 'gauge'
          ? new Gauge(config)
          : new Histogram({ ...config, buckets: [...s.buckets] });
  }
  return out as MetricsOf<T>;
}

/** A README row: type, labels comma-separated ('' for none), help. */
export interface MetricDoc {
  readonly type: MetricSpec['type'];
  readonly labels: string;
  readonly help: string;
}

/** README rows keyed by metric name, in the spec's order. */
export function metricDocsOf(
  spec: Readonly<Record<string, MetricSpec>>,
): Readonly<Record<string, MetricDoc>> {
  return Object.fromEntries(
    Object.values(spec).map((s) => [s.name, { type: s.type, labels: s.labels.join(', '), help: s.help }]),
  );
}
