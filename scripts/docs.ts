// Rewrites README.md's generated tables (see scripts/docs-tables.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { renderTables } from './docs-tables.js';

const readme = readFileSync('README.md', 'utf8');
writeFileSync('README.md', renderTables(readme));
