/**
 * Decodes Schema-Registry framed record values (magic byte 0, 4-byte big-endian schema id, Avro binary)
 * into the JSON event shape, which decode-record.ts then validates exactly like a JSON record.
 *
 * Whose fault is a failure? Only a precise answer about the record makes it poison:
 * - the registry says the id does not exist (HTTP 404 with Confluent error code 40403) → `unknown_schema`;
 * - the writer schema exists but the bytes do not decode with it, the schema is not Avro, the registered
 *   schema text is not usable Avro, or the payload field is not JSON text → `undecodable`.
 * Everything else (connection refused, timeout, 5xx, 401/403, a 404 without that error code, which is what
 * a wrong SCHEMA_REGISTRY_URL looks like, an answer that is not a schema) is *ours*: it throws
 * SCHEMA_REGISTRY_UNAVAILABLE, so the pipeline retries instead of dead-lettering. Whether it is an outage
 * is `probe`'s answer (GET /schemas/types, which needs no subject): no good answer → the registry is down
 * for everyone (pause, probe until back); a good one → the failure is this schema's alone (a 401/403 for
 * one subject, a 404 without code for one id), and only the records that need it wait.
 *
 * The library reports every HTTP failure as a `ResponseError` with a status only (a refused connection is
 * a synthetic 400, the body's error code is dropped), so a 404 or a non-HTTP failure is re-checked with one
 * raw GET /schemas/ids/{id} (`probeSchemaId`) before anything is dead-lettered.
 */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import { ConnectorError, ErrorCode } from '../errors.js';
import type { Logger } from '../logger.js';
import type { RegistryDecoder } from './decode-record.js';

/** Confluent API error code for "schema not found" (GET /schemas/ids/{id}); Apicurio's ccompat API uses it too. */
export const SCHEMA_NOT_FOUND_ERROR_CODE = 40403;

/** A raw registry answer: status and parsed JSON body (or the text when it is not JSON). */
export interface RegistryAnswer {
  readonly status: number;
  readonly body: unknown;
}

export interface SchemaRegistryDecoderDeps {
  /** Resolves writer schemas by id: the library client, whose cache createSchemaRegistryClient bounds. */
  readonly schemas: Pick<SchemaRegistry, 'getSchema'>;
  /** One raw GET /schemas/ids/{id}; rejects on network errors and timeouts. */
  readonly probeSchemaId: (id: number) => Promise<RegistryAnswer>;
  /** One raw GET /schemas/types (a request about no subject); rejects on network errors and timeouts. */
  readonly probeRegistry?: () => Promise<RegistryAnswer>;
  readonly logger: Logger;
}

type DecoderResult = Awaited<ReturnType<RegistryDecoder['decode']>>;
type WriterSchema = Awaited<ReturnType<SchemaRegistry['getSchema']>>;
interface AvroType {
  fromBuffer(buffer: Buffer): unknown;
  createResolver: unknown;
}

/** What a failed lookup through the library means: only a 404 can be about the record; the rest is ours. */
export function classifyLookupError(err: unknown): 'http_404' | 'http_other' | 'not_http' {
  const status = typeof err === 'object' && err !== null ? (err as { status?: unknown }).status : undefined;
  if (typeof status !== 'number') return 'not_http';
  return status === 404 ? 'http_404' : 'http_other';
}

function errorCodeOf(body: unknown): number | undefined {
  const code =
    typeof body === 'object' && body !== null ? (body as { error_code?: unknown }).error_code : undefined;
  return typeof code === 'number' ? code : undefined;
}

function isSchemaAnswer(body: unknown): boolean {
  return (
    typeof body === 'object' && body !== null && typeof (body as { schema?: unknown }).schema === 'string'
  );
}

/** avsc types (what the library builds for AVRO) can resolve other schemas; its JSON/Protobuf schemas cannot. */
function isAvroType(schema: WriterSchema): schema is WriterSchema & AvroType {
  return typeof (schema as Partial<AvroType>).createResolver === 'function';
}

function unavailable(id: number, message: string, cause?: unknown): ConnectorError {
  return new ConnectorError(
    ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
    `schema registry: ${message}`,
    { schemaId: id },
    { cause },
  );
}

const short = (err: unknown): string => (err instanceof Error ? err.message : String(err)).slice(0, 300);

/**
 * The decoded Avro record as the JSON event shape: `payload` parsed from its JSON text, a null `id`
 * dropped (the JSON Schema makes `id` optional, not nullable). Other fields (added by a newer writer
 * schema) are kept, as extra JSON properties are. A payload that is JSON but not an object is left for
 * the JSON Schema to refuse (reason `invalid`, as for a JSON record).
 */
export function avroValueToEventShape(value: unknown): DecoderResult {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, reason: 'undecodable', message: 'the writer schema is not an Avro record' };
  }
  const shape: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  if (shape.id === null) delete shape.id;
  if (typeof shape.payload === 'string') {
    try {
      shape.payload = JSON.parse(shape.payload);
    } catch (err) {
      return { ok: false, reason: 'undecodable', message: `payload is not JSON text: ${short(err)}` };
    }
  }
  return { ok: true, value: shape };
}

/** Is the registry up for us? A 200 with a JSON list to GET /schemas/types (Confluent >= 5.5, Apicurio). */
export function probeResultOf(answer: RegistryAnswer): { ok: true } | { ok: false; message: string } {
  if (answer.status === 200 && Array.isArray(answer.body)) return { ok: true };
  return { ok: false, message: `GET /schemas/types answered HTTP ${answer.status}` };
}

export function createSchemaRegistryDecoder(d: SchemaRegistryDecoderDeps): RegistryDecoder {
  let warnedAboutUrl = false;
  const probeRegistry = d.probeRegistry;

  /** After the library failed with a 404 or a non-HTTP error: decide from the raw answer. */
  async function recheck(
    id: number,
    lookupErr: unknown,
    kind: 'http_404' | 'not_http',
  ): Promise<DecoderResult> {
    let answer: RegistryAnswer;
    try {
      answer = await d.probeSchemaId(id);
    } catch (err) {
      throw unavailable(id, `GET /schemas/ids/${id} failed: ${short(err)}`, err);
    }
    if (answer.status === 404 && errorCodeOf(answer.body) === SCHEMA_NOT_FOUND_ERROR_CODE) {
      return {
        ok: false,
        reason: 'unknown_schema',
        message: `schema id ${id} is not in the registry (error ${SCHEMA_NOT_FOUND_ERROR_CODE})`,
      };
    }
    if (answer.status === 200 && isSchemaAnswer(answer.body)) {
      // The registry has a schema under this id. After a 404 it was registered meanwhile: retry. After a
      // parse failure it is a schema the library cannot use: no retry will ever decode the record.
      if (kind === 'http_404') {
        throw unavailable(id, `schema id ${id} appeared after a 404; retrying`, lookupErr);
      }
      return {
        ok: false,
        reason: 'undecodable',
        message: `writer schema ${id} is not usable Avro: ${short(lookupErr)}`,
      };
    }
    if (answer.status === 404 && !warnedAboutUrl) {
      warnedAboutUrl = true;
      d.logger.error(
        { schemaId: id, status: answer.status, body: answer.body },
        'the schema registry answers 404 without a Confluent error code: SCHEMA_REGISTRY_URL must be the Confluent API base (Apicurio: .../apis/ccompat/v7)',
      );
    }
    throw unavailable(
      id,
      `unexpected answer to GET /schemas/ids/${id}: HTTP ${answer.status}, error code ${errorCodeOf(answer.body) ?? 'none'}`,
      lookupErr,
    );
  }

  return {
    probe:
      probeRegistry &&
      (async () => {
        try {
          return probeResultOf(await probeRegistry());
        } catch (err) {
          return { ok: false, message: `GET /schemas/types failed: ${short(err)}` };
        }
      }),
    async decode(value: Buffer): Promise<DecoderResult> {
      if (value.length < 5 || value[0] !== 0) {
        return { ok: false, reason: 'undecodable', message: 'not in the Schema-Registry wire format' };
      }
      const id = value.readInt32BE(1);
      // Registries hand out positive ids only: no lookup needed to know these do not exist.
      if (id <= 0) {
        return { ok: false, reason: 'unknown_schema', message: `schema id ${id} is not a registry id` };
      }
      let schema: WriterSchema;
      try {
        schema = await d.schemas.getSchema(id);
      } catch (err) {
        const kind = classifyLookupError(err);
        if (kind === 'http_other') {
          throw unavailable(id, `lookup of schema id ${id} failed: ${short(err)}`, err);
        }
        return recheck(id, err, kind);
      }
      if (!isAvroType(schema)) {
        return {
          ok: false,
          reason: 'undecodable',
          message: `schema id ${id} is not an Avro schema (JSON Schema and Protobuf framed records are not supported)`,
        };
      }
      let decoded: unknown;
      try {
        decoded = schema.fromBuffer(value.subarray(5));
      } catch (err) {
        return {
          ok: false,
          reason: 'undecodable',
          message: `body does not match writer schema ${id}: ${short(err)}`,
        };
      }
      return avroValueToEventShape(decoded);
    },
  };
}
