/**
 * Renders README's reference tables from the code (config spec, metrics, error codes, dead-letter
 * headers and reasons, webhook headers). `npm run docs` rewrites them in place; a unit test fails when README differs.
 */
import { configSpec } from '../src/config.js';
import { dlqHeaders } from '../src/dead-letter/dead-letter-record.js';
import { deadLetterReasonDocs } from '../src/dead-letter/dead-letter-reasons.js';
import { webhookHeaderSpec, type WebhookHeaderSpec } from '../src/delivery/headers.js';
import { errorDocs } from '../src/errors.js';
import { apiMetricDocs } from '../src/metrics/api-metrics.js';
import { metricDocs } from '../src/metrics/metrics.js';

const cell = (v: unknown): string => String(v).replace(/\|/g, '\\|');

function show(v: unknown): string {
  if (Array.isArray(v)) return v.length === 0 ? '(empty)' : `\`${v.join(',')}\``;
  if (v === '') return '(empty)';
  return `\`${String(v)}\``;
}

const SENT: Readonly<Record<WebhookHeaderSpec['sent'], string>> = {
  always: 'always',
  'legacy-secret-header': 'with `LEGACY_SECRET_HEADER=true`',
};

export const tables: Record<string, () => string> = {
  config: () =>
    [
      '| variable | default | meaning |',
      '| --- | --- | --- |',
      ...Object.entries(configSpec).map(
        ([k, s]) => `| \`${k}\` | ${cell(show(s.default))} | ${cell(s.doc)} |`,
      ),
    ].join('\n'),
  metrics: () =>
    [
      '| metric | type | labels | meaning |',
      '| --- | --- | --- | --- |',
      ...Object.entries({ ...metricDocs, ...apiMetricDocs }).map(
        ([k, m]) => `| \`${k}\` | ${m.type} | ${m.labels || '—'} | ${cell(m.help)} |`,
      ),
    ].join('\n'),
  errors: () =>
    [
      '| code | meaning and what to do |',
      '| --- | --- |',
      ...Object.entries(errorDocs).map(([k, d]) => `| \`${k}\` | ${cell(d)} |`),
    ].join('\n'),
  'dlq-headers': () =>
    [
      '| header | value |',
      '| --- | --- |',
      ...Object.entries(dlqHeaders).map(([k, d]) => `| \`${k}\` | ${cell(d)} |`),
    ].join('\n'),
  'dlq-reasons': () =>
    [
      '| reason | code | meaning |',
      '| --- | --- | --- |',
      ...Object.entries(deadLetterReasonDocs).map(
        ([k, r]) => `| \`${k}\` | \`${r.code}\` | ${cell(r.doc)} |`,
      ),
    ].join('\n'),
  'webhook-headers': () =>
    [
      '| header | sent | on a retry | value |',
      '| --- | --- | --- | --- |',
      ...webhookHeaderSpec.map(
        (h) =>
          `| \`${h.name}\` | ${SENT[h.sent]}${h.setBy === 'http-client' ? ', by the HTTP client' : ''} | ` +
          `${h.changes === 'attempt' ? 'new' : 'same'} | ${cell(h.value)} |`,
      ),
    ].join('\n'),
};

/** Replaces every `<!-- table:NAME -->…<!-- /table:NAME -->` block of `text` with the rendered table. */
export function renderTables(text: string): string {
  return text.replace(/<!-- table:([a-z-]+) -->[\s\S]*?<!-- \/table:\1 -->/g, (_m, name: string) => {
    const render = tables[name];
    if (!render) throw new Error(`unknown table ${name}`);
    return `<!-- table:${name} -->\n${render()}\n<!-- /table:${name} -->`;
  });
}
