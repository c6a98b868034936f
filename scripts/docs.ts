// Rewrites README.md's generated tables (see src/docs-tables.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { renderTables } from '../src/docs-tables.js';

const readme = readFileSync('README.md', 'utf8');
writeFileSync('README.md', renderTables(readme));
