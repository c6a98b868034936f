/**
 * Validates a parsed event against schemas/tiledesk-event.v1.schema.json (compiled once by ajv) and turns
 * it into a TiledeskEvent. Payloads that cannot be re-serialised (too deeply nested) are invalid here,
 * so no delivery ever fails on them later.
 */
import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';
import { derivedEventId, type RecordCoordinates, type TiledeskEvent } from './event.js';
import { schemaPath } from '../paths.js';

const schema = JSON.parse(readFileSync(schemaPath('tiledesk-event.v1.schema.json'), 'utf8')) as object;
const ajv = new Ajv2020({ allErrors: false, strict: true });
const check = ajv.compile(schema);

export type Validation = { ok: true; event: TiledeskEvent } | { ok: false; message: string };

function describe(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'does not match the event schema';
  return `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}`;
}

export function validateEvent(
  value: unknown,
  at: RecordCoordinates,
  encoding: TiledeskEvent['encoding'],
): Validation {
  if (!check(value)) return { ok: false, message: describe(check.errors) };
  const v = value as {
    id?: string;
    event: string;
    id_project?: string | null;
    timestamp: number;
    payload: Record<string, unknown>;
  };
  let payload: Buffer;
  try {
    payload = Buffer.from(JSON.stringify(v.payload), 'utf8');
  } catch (err) {
    // RangeError on absurd nesting: refuse it now rather than at every delivery.
    return { ok: false, message: `payload cannot be serialised: ${(err as Error).message}` };
  }
  return {
    ok: true,
    event: {
      id: v.id ?? derivedEventId(at),
      event: v.event,
      idProject: v.id_project ?? null,
      timestamp: v.timestamp,
      payload,
      encoding,
    },
  };
}
