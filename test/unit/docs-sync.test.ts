import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { configSpec } from '../../src/config.js';
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

  it('version constant matches package.json', () => {
    expect(VERSION).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  });
});
