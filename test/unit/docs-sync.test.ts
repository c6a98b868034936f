import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { configSpec } from '../../src/config.js';
import { retrySchedule } from '../../src/delivery/retry-policy.js';
import { renderTables } from '../../src/docs-tables.js';
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
    const d = (k: keyof typeof configSpec): number => configSpec[k].default as number;
    const schedule = retrySchedule({
      maxAttempts: d('DELIVERY_MAX_ATTEMPTS'),
      initialDelayMs: d('RETRY_INITIAL_DELAY_MS'),
      multiplier: d('RETRY_MULTIPLIER'),
      maxDelayMs: d('RETRY_MAX_DELAY_MS'),
      retryAfterMaxMs: d('RETRY_AFTER_MAX_MS'),
    });
    const backoffMs = schedule.reduce((a, b) => a + b, 0);
    const timeoutsMs = d('DELIVERY_MAX_ATTEMPTS') * d('DELIVERY_TIMEOUT_MS');
    const min = (ms: number): string => (ms / 60_000).toFixed(1).replace(/\.0$/, '');
    // Jitter spreads each delay over 50-100 % of the schedule (retry-policy.ts).
    const ranges = schedule.map((ms) => `${ms / 2_000}–${ms / 1_000}`).join(' + ');
    expect(readme).toContain(
      `${ranges} s of backoff (about ${min(backoffMs / 2)}–${min(backoffMs)} minutes)`,
    );
    expect(readme).toContain(`\`DELIVERY_TIMEOUT_MS\` (${min(timeoutsMs)} minute)`);
    expect(readme).toContain(`\`RETRY_AFTER_MAX_MS\` (${min(d('RETRY_AFTER_MAX_MS'))} minutes)`);
    expect(readme).toContain(
      `at most about ${min(backoffMs + timeoutsMs)} minutes without \`Retry-After\`, ` +
        `${min(schedule.length * d('RETRY_AFTER_MAX_MS') + timeoutsMs)} minutes with it`,
    );
  });

  it('version constant matches package.json', () => {
    expect(VERSION).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  });
});
