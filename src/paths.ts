/**
 * Locates the repository's `schemas/` folder from this module, both when run from source (src/paths.ts)
 * and when compiled (dist/src/paths.js, bench/.build/src/paths.js).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
// src/ → .., dist/src/ → ../.., bench/.build/src/ (the benchmark's build) → ../../..
const candidates = [1, 2, 3].map((up) => join(here, ...Array<string>(up).fill('..'), 'schemas'));
const schemasDir =
  candidates.find((d) => existsSync(join(d, 'tiledesk-event.v1.schema.json'))) ?? candidates[0]!;

export function schemaPath(...parts: string[]): string {
  return join(schemasDir, ...parts);
}
