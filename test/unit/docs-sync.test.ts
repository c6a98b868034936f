import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { renderTables } from '../../src/docs-tables.js';
import { VERSION } from '../../src/version.js';

describe('README reference tables', () => {
  it('equal what the code defines (run `npm run docs` after changing config, metrics, errors or headers)', () => {
    const readme = readFileSync('README.md', 'utf8');
    expect(renderTables(readme)).toBe(readme);
  });

  it('version constant matches package.json', () => {
    expect(VERSION).toBe((JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version);
  });
});
