/**
 * Locates the repository's `schemas/` folder from this module, both when run from source (src/paths.ts)
 * and when compiled (dist/src/paths.js).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const candidates = [join(here, '..', 'schemas'), join(here, '..', '..', 'schemas')];
const schemasDir =
  candidates.find((d) => existsSync(join(d, 'tiledesk-event.v1.schema.json'))) ?? candidates[0]!;

export function schemaPath(...parts: string[]): string {
  return join(schemasDir, ...parts);
}
