import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { configSpec, loadConfig } from '../../src/config.js';
import { retryPolicyFromConfig } from '../../src/delivery/deliver-deps.js';
import { maxAttempts, retrySchedule } from '../../src/delivery/retry-policy.js';
import { renderTables } from '../../scripts/docs-tables.js';
import { VERSION } from '../../src/version.js';

describe('README reference tables', () => {
  it('equal what the code defines (run `npm run docs` after changing config, metrics, errors or headers)', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(renderTables(readme)).toBe(readme);
  });

  it('describe the in-flight window as the code counts it: records taken and not yet done', () => {
    // PartitionOffsets.pending: a done record waiting behind an unfinished one for its commit is not counted.
    const readme = readFileSync('README.md', 'utf8');
    expect(configSpec.PARTITION_MAX_IN_FLIGHT.doc).toMatch(/taken and not yet done/);
    expect(readme).toMatch(/window of `PARTITION_MAX_IN_FLIGHT` records taken and not yet done/);
    expect(`${readme}\n${configSpec.PARTITION_MAX_IN_FLIGHT.doc}`).not.toMatch(/taken but not committed/);
  });

  it('say how long a delivery under way keeps a changed subscription, with the numbers of the defaults', () => {
    const readme = readFileSync('README.md', 'utf8').replace(/\s+/g, ' ');
    const c = loadConfig({});
    const schedule = retrySchedule(retryPolicyFromConfig(c));
    // In process: attempt 1 and the retries whose (unjittered, hence longest) wait is within the budget.
    let inProcess = 0;
    while (inProcess < schedule.length && schedule[inProcess]! <= c.RETRY_IN_PROCESS_MAX_MS) inProcess++;
    const attempts = inProcess + 1;
    const sleepsMs = schedule.slice(0, inProcess);
    const timeoutsMs = attempts * c.DELIVERY_TIMEOUT_MS;
    const s = (ms: number): string => String(Math.round(ms / 100) / 10);
    const ranges = sleepsMs.map((ms) => `${s(ms * (1 - c.RETRY_JITTER))}–${s(ms)} s`).join(' + ');
    expect(readme).toContain(
      `with the defaults ${attempts} attempts, ${ranges} apart, plus up to ${attempts} × ` +
        `\`DELIVERY_TIMEOUT_MS\` (${s(timeoutsMs)} s) when they time out`,
    );
    const totalMs = sleepsMs.reduce((a, b) => a + b, 0) + timeoutsMs;
    expect(readme).toContain(`expect requests to the old target for about ${s(totalMs)} s`);
  });

  it('show the default retry schedule as the code has it', () => {
    const readme = readFileSync('README.md', 'utf8').replace(/\s+/g, ' ');
    const c = loadConfig({});
    const schedule = retrySchedule(retryPolicyFromConfig(c));
    const fmt = (ms: number): string => {
      const [unit, size] = ms >= 3_600_000 ? ['h', 3_600_000] : ms >= 60_000 ? ['min', 60_000] : ['s', 1_000];
      const n = (v: number): string => String(Math.round((v / (size as number)) * 10) / 10);
      return `${n(ms * (1 - c.RETRY_JITTER))}–${n(ms)} ${unit as string}`;
    };
    expect(readme).toContain(
      `With the defaults (${maxAttempts(retryPolicyFromConfig(c))} attempts, Svix's schedule): ` +
        `| attempt | ${schedule.map((_, i) => i + 1).join(' | ')} | ${schedule.length + 1} |`,
    );
    expect(readme).toContain(`| sent after the previous one | — | ${schedule.map(fmt).join(' | ')} |`);
    const total = schedule.reduce((a, b) => a + b, 0) / 3_600_000;
    const h = (v: number): string => String(Math.round(v * 10) / 10);
    expect(readme).toContain(
      `dead-lettered after about ${Math.round(total * (1 - c.RETRY_JITTER))}–${h(total)} hours of failures`,
    );
    expect(readme).toContain(`\`RETRY_IN_PROCESS_MAX_MS\` (${c.RETRY_IN_PROCESS_MAX_MS / 1_000} s) is slept`);
  });

  it('version constant matches package.json', () => {
    expect(VERSION).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  });
});
