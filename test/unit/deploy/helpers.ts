/**
 * Shared by the static checks of deploy/ and docker-compose.yml: repository paths, the promtool runner,
 * the set of metric names the service really exports, and a small PromQL scanner that lists the metric
 * names and label matchers an expression uses. The scanner is not a parser: promtool parses (see
 * `checkExpressionsParse`); the scanner only has to find identifiers in an expression promtool accepts.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { configSpec } from '../../../src/config.js';
import { apiMetricDocs } from '../../../src/metrics/api-metrics.js';
import { metricDocs } from '../../../src/metrics/metrics.js';

export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
export const repoPath = (...parts: string[]): string => join(repoRoot, ...parts);
export const readRepoFile = (...parts: string[]): string => readFileSync(repoPath(...parts), 'utf8');

export const configKeys: ReadonlySet<string> = new Set(Object.keys(configSpec));

// ---- promtool ---------------------------------------------------------------------------------------------

const PROMTOOL = process.env.PROMTOOL ?? 'promtool';

export interface PromtoolResult {
  ok: boolean;
  output: string;
}

/**
 * Runs promtool in the repository root (relative paths are repository paths). A missing binary is an
 * error, never a skip: CI installs it, and so must a developer.
 */
export function promtool(args: string[]): PromtoolResult {
  try {
    const output = execFileSync(PROMTOOL, args, {
      cwd: repoRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return { ok: true, output };
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stdout?: string; stderr?: string; status?: number | null };
    if (e.code === 'ENOENT') {
      throw new Error(
        `promtool not found (${PROMTOOL}). Install Debian's prometheus package: ` +
          '`apt-get install -y prometheus` (or set PROMTOOL to the binary).',
      );
    }
    return { ok: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

/**
 * Parses every expression with promtool: they become recording rules of a temporary rule file, which
 * `promtool check rules` parses with Prometheus' own PromQL parser. Returns promtool's verdict.
 */
export function checkExpressionsParse(exprs: readonly string[]): PromtoolResult {
  const dir = mkdtempSync(join(tmpdir(), 'promql-check-'));
  try {
    const rules = exprs.map((expr, i) => ({ record: `check:expr_${i}`, expr }));
    const file = join(dir, 'rules.json');
    // JSON is valid YAML and needs no quoting rules of its own.
    writeFileSync(file, JSON.stringify({ groups: [{ name: 'check', rules }] }));
    return promtool(['check', 'rules', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ---- the metric names the service exports -----------------------------------------------------------------

export interface KnownMetric {
  /** The metric family (as declared). */
  family: string;
  type: string;
  /** Label names the family's series carry (without the target labels job/instance). */
  labels: ReadonlySet<string>;
}

/** Labels every scraped series carries (target labels added by Prometheus). */
export const TARGET_LABELS: ReadonlySet<string> = new Set(['job', 'instance']);

/**
 * Series names that can appear in a query, mapped to their family: metricDocs (the service's own metrics),
 * prom-client's default Node metrics (read from prom-client itself, not typed by hand), and the `up` series
 * Prometheus writes for every target. A classic histogram `h` exposes `h_bucket` (label `le`), `h_sum` and
 * `h_count`, never `h` itself, so only the suffixed names are known.
 */
export async function knownSeries(): Promise<Map<string, KnownMetric>> {
  const families: KnownMetric[] = Object.entries({ ...metricDocs, ...apiMetricDocs }).map(
    ([family, doc]) => ({
      family,
      type: doc.type,
      labels: new Set(
        doc.labels
          .split(',')
          .map((l) => l.trim())
          .filter((l) => l !== ''),
      ),
    }),
  );
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const m of await registry.getMetricsAsJSON()) {
    const labels = new Set<string>();
    for (const v of m.values) {
      for (const l of Object.keys(v.labels)) if (l !== 'le' && l !== 'quantile') labels.add(l);
    }
    // Labels of default metrics that have no sample yet (e.g. GC kinds) are not visible here: allow them.
    if (m.name === 'nodejs_gc_duration_seconds') labels.add('kind');
    if (m.name.startsWith('nodejs_heap_space_size_')) labels.add('space');
    if (m.name === 'nodejs_version_info') {
      for (const l of ['version', 'major', 'minor', 'patch']) labels.add(l);
    }
    if (m.name.startsWith('nodejs_active_')) labels.add('type');
    // Typed as a numeric enum by prom-client, but the value is the exposition type name ('histogram', ...).
    families.push({ family: m.name, type: String(m.type), labels });
  }
  registry.clear();
  families.push({ family: 'up', type: 'gauge', labels: new Set() });

  const series = new Map<string, KnownMetric>();
  for (const f of families) {
    if (f.type === 'histogram') {
      series.set(`${f.family}_bucket`, { ...f, labels: new Set([...f.labels, 'le']) });
      series.set(`${f.family}_sum`, f);
      series.set(`${f.family}_count`, f);
    } else if (f.type === 'summary') {
      series.set(f.family, { ...f, labels: new Set([...f.labels, 'quantile']) });
      series.set(`${f.family}_sum`, f);
      series.set(`${f.family}_count`, f);
    } else {
      series.set(f.family, f);
    }
  }
  return series;
}

// ---- a PromQL scanner: metric names and label matchers ---------------------------------------------------

const AGGREGATIONS = new Set([
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
  'limitk',
  'limit_ratio',
]);
const GROUPING = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);
const KEYWORDS = new Set(['bool', 'and', 'or', 'unless', 'offset', 'atan2', 'inf', 'nan']);

export interface Selector {
  metric: string;
  /** Label names of the selector's matchers, e.g. `{job=~"x", outcome="delivered"}` -> job, outcome. */
  matchers: string[];
}

/** Reads a `"..."`, `'...'` or backquoted string starting at `i`; returns the index after it. */
function skipString(expr: string, i: number): number {
  const quote = expr[i];
  let j = i + 1;
  while (j < expr.length && expr[j] !== quote) j += quote !== '`' && expr[j] === '\\' ? 2 : 1;
  return j + 1;
}

/** Label names inside `{...}` starting at `i` (the brace); returns them and the index after `}`. */
function readMatchers(expr: string, i: number): { names: string[]; end: number } {
  const names: string[] = [];
  let j = i + 1;
  while (j < expr.length && expr[j] !== '}') {
    const c = expr[j]!;
    if (c === '"' || c === "'" || c === '`') {
      j = skipString(expr, j);
    } else if (/[a-zA-Z_]/.test(c)) {
      const m = /^[a-zA-Z_][a-zA-Z0-9_]*/.exec(expr.slice(j))!;
      names.push(m[0]);
      j += m[0].length;
    } else {
      j += 1;
    }
  }
  return { names, end: j + 1 };
}

/** Every vector selector of an expression (metric name + matcher labels), and the grouping labels used. */
export function scanPromQL(expr: string): { selectors: Selector[]; groupingLabels: string[] } {
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '"' || c === "'" || c === '`') {
      i = skipString(expr, i);
    } else if (c === '[') {
      i = expr.indexOf(']', i) + 1; // ranges, subquery ranges: durations only
    } else if (c === '{') {
      // A selector without a metric name, e.g. {__name__="x"}: its matchers still count.
      const { names, end } = readMatchers(expr, i);
      selectors.push({ metric: '', matchers: names });
      i = end;
    } else if (/[0-9.]/.test(c)) {
      i += /^[0-9.][0-9a-zA-Z_.]*/.exec(expr.slice(i))![0].length; // numbers and durations (15m, 1e3)
    } else if (/[a-zA-Z_:]/.test(c)) {
      const word = /^[a-zA-Z_:][a-zA-Z0-9_:]*/.exec(expr.slice(i))![0];
      i += word.length;
      const rest = expr.slice(i);
      const ws = /^\s*/.exec(rest)![0].length;
      const next = rest[ws];
      if (GROUPING.has(word)) {
        if (next === '(') {
          const close = expr.indexOf(')', i + ws);
          for (const l of expr.slice(i + ws + 1, close).split(',')) {
            if (l.trim() !== '') groupingLabels.push(l.trim());
          }
          i = close + 1;
        }
      } else if (AGGREGATIONS.has(word) || KEYWORDS.has(word) || next === '(') {
        // an aggregation, a keyword or a function call: not a metric
      } else if (next === '{') {
        const { names, end } = readMatchers(expr, i + ws);
        selectors.push({ metric: word, matchers: names });
        i = end;
      } else {
        selectors.push({ metric: word, matchers: [] });
      }
    } else {
      i += 1;
    }
  }
  return { selectors, groupingLabels };
}

/**
 * Problems with the metric names and label matchers of `expr`: unknown series, and matchers on labels that
 * the series does not have (a typo there silently matches nothing).
 */
export function metricProblems(expr: string, known: Map<string, KnownMetric>): string[] {
  const problems: string[] = [];
  for (const s of scanPromQL(expr).selectors) {
    const metric = known.get(s.metric);
    if (metric === undefined) {
      problems.push(`unknown metric "${s.metric}" in: ${expr}`);
      continue;
    }
    for (const l of s.matchers) {
      if (!metric.labels.has(l) && !TARGET_LABELS.has(l)) {
        problems.push(`"${s.metric}" has no label "${l}" in: ${expr}`);
      }
    }
  }
  return problems;
}
