/**
 * Turns a Kafka record value into a TiledeskEvent. Plain JSON needs nothing else; a value starting with the
 * Confluent magic byte (0) plus a 4-byte schema id is decoded by the schema-registry decoder, when one is
 * configured. Every failure that is the record's fault is a `poison` result with a reason (it will be
 * dead-lettered); a registry outage is *our* fault and is thrown as SCHEMA_REGISTRY_UNAVAILABLE so the
 * caller retries instead of dead-lettering.
 */
import type { RecordCoordinates, TiledeskEvent } from './event.js';
import { validateEvent } from './validate-event.js';

export type PoisonReason = 'too_large' | 'undecodable' | 'invalid' | 'unknown_schema' | 'empty';

export type DecodeResult =
  | { readonly ok: true; readonly event: TiledeskEvent }
  | { readonly ok: false; readonly reason: PoisonReason; readonly message: string };

/** Decodes Schema-Registry framed values. Throws ConnectorError SCHEMA_REGISTRY_UNAVAILABLE on outages. */
export interface RegistryDecoder {
  decode(
    value: Buffer,
  ): Promise<
    { ok: true; value: unknown } | { ok: false; reason: 'unknown_schema' | 'undecodable'; message: string }
  >;
  /** One cheap request about no record: does the registry answer? (Ends an outage; see outage-probe.ts.) */
  probe?(): Promise<{ ok: true } | { ok: false; message: string }>;
}

export interface DecodeOptions {
  readonly maxRecordBytes: number;
  readonly registry?: RegistryDecoder;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function isRegistryFramed(value: Buffer): boolean {
  return value.length >= 5 && value[0] === 0;
}

/** Synchronous for plain JSON (the common case: no promise, no async step); a promise for registry-framed values. */
export function decodeRecord(
  value: Buffer | null,
  at: RecordCoordinates,
  o: DecodeOptions,
): DecodeResult | Promise<DecodeResult> {
  if (value === null || value.length === 0) {
    return { ok: false, reason: 'empty', message: 'record has no value' };
  }
  if (value.length > o.maxRecordBytes) {
    return {
      ok: false,
      reason: 'too_large',
      message: `record value is ${value.length} bytes, limit ${o.maxRecordBytes}`,
    };
  }
  if (isRegistryFramed(value)) {
    if (!o.registry) {
      return {
        ok: false,
        reason: 'undecodable',
        message: 'schema-registry framed record but SCHEMA_REGISTRY_URL is not set',
      };
    }
    return decodeFramed(value, at, o.registry);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(utf8.decode(value));
  } catch (err) {
    return {
      ok: false,
      reason: 'undecodable',
      message: `not UTF-8 JSON: ${(err as Error).message.slice(0, 200)}`,
    };
  }
  return toResult(parsed, at, 'json');
}

async function decodeFramed(
  value: Buffer,
  at: RecordCoordinates,
  registry: RegistryDecoder,
): Promise<DecodeResult> {
  const decoded = await registry.decode(value);
  if (!decoded.ok) return decoded;
  return toResult(decoded.value, at, 'avro');
}

function toResult(value: unknown, at: RecordCoordinates, encoding: TiledeskEvent['encoding']): DecodeResult {
  const v = validateEvent(value, at, encoding);
  return v.ok ? v : { ok: false, reason: 'invalid', message: v.message };
}
