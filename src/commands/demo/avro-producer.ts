/**
 * Encodes events in the Confluent wire format (Avro) through the schema registry, for
 * `produce-sample --format avro` and the tests: registers schemas/tiledesk-event.v1.avsc under
 * `<topic>-value` with BACKWARD compatibility, then encodes each event with the registered id.
 *
 * Compatibility and Apicurio: `SchemaRegistry.register()` first reads GET /config/{subject} and throws
 * unless the level equals the one asked for (404 = new subject, which it then sets after registering).
 * Apicurio answers 200 `NONE` (not 404) for a subject that exists without a compatibility rule, e.g. one
 * registered by another tool. `ensureSubjectCompatibility` therefore sets BACKWARD explicitly on a subject
 * that reports NONE, and keeps any other explicit level (FORWARD, FULL...) that an operator chose.
 */
import { readFileSync } from 'node:fs';
import { COMPATIBILITY, SchemaType, type SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../../config.js';
import { ConnectorError, ErrorCode } from '../../errors.js';
import { schemaPath } from '../../paths.js';
import {
  createSchemaRegistryClient,
  registryConnection,
  registryRequest,
  type RegistryConnection,
} from '../../events/registry-from-config.js';

/** An Avro schema as JSON (what .avsc files hold). */
export type AvroSchemaJson = {
  readonly type: 'record';
  readonly name: string;
  readonly fields: readonly unknown[];
} & Record<string, unknown>;

/** The fields of tiledesk-event.v1.avsc, as avsc reads and writes them. */
export interface AvroEventValue {
  id: string | null;
  event: string;
  id_project: string | null;
  timestamp: number;
  /** The JSON payload object, serialised. */
  payload: string;
}

/** The JSON-encoding shape (schemas/tiledesk-event.v1.schema.json). */
export interface JsonEventShape {
  readonly id?: string;
  readonly event: string;
  readonly id_project?: string | null;
  readonly timestamp: number;
  readonly payload: Record<string, unknown>;
}

let v1: AvroSchemaJson | undefined;

/** schemas/tiledesk-event.v1.avsc, parsed once. */
export function eventAvroSchema(): AvroSchemaJson {
  v1 ??= JSON.parse(readFileSync(schemaPath('tiledesk-event.v1.avsc'), 'utf8')) as AvroSchemaJson;
  return v1;
}

/** The JSON-encoding event as the Avro record value (the inverse of the decoder's mapping). */
export function toAvroEventValue(e: JsonEventShape): AvroEventValue {
  return {
    id: e.id ?? null,
    event: e.event,
    id_project: e.id_project ?? null,
    timestamp: e.timestamp,
    payload: JSON.stringify(e.payload),
  };
}

export function subjectForTopic(topic: string): string {
  return `${topic}-value`;
}

const LEVELS = new Set<string>(Object.values(COMPATIBILITY));

/**
 * Makes the subject's compatibility level one `register()` accepts and returns it: `wanted` for a new
 * subject or one reporting NONE (set explicitly first: Apicurio's answer for "no rule"), else the level
 * the subject already has.
 */
export async function ensureSubjectCompatibility(
  conn: RegistryConnection,
  subject: string,
  wanted: COMPATIBILITY = COMPATIBILITY.BACKWARD,
): Promise<COMPATIBILITY> {
  const path = `/config/${encodeURIComponent(subject)}`;
  const current = await registryRequest(conn, 'GET', path);
  if (current.status === 404) return wanted;
  const level = String(
    (current.body as { compatibilityLevel?: unknown } | null)?.compatibilityLevel ?? '',
  ).toUpperCase();
  if (current.status !== 200 || !LEVELS.has(level)) {
    throw new ConnectorError(
      ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
      `GET ${path}: unexpected answer HTTP ${current.status} ${JSON.stringify(current.body)}`,
    );
  }
  if (level === wanted) return wanted;
  if (level === COMPATIBILITY.NONE) {
    const set = await registryRequest(conn, 'PUT', path, { compatibility: wanted });
    if (set.status !== 200) {
      throw new ConnectorError(
        ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
        `PUT ${path}: HTTP ${set.status} ${JSON.stringify(set.body)}`,
      );
    }
    return wanted;
  }
  return level as COMPATIBILITY;
}

/** Registers `schema` under `subject` (see the note on compatibility above); returns the schema id. */
export async function registerAvroSchema(
  client: SchemaRegistry,
  conn: RegistryConnection,
  subject: string,
  schema: AvroSchemaJson = eventAvroSchema(),
): Promise<{ id: number; compatibility: COMPATIBILITY }> {
  const compatibility = await ensureSubjectCompatibility(conn, subject);
  const { id } = await client.register(
    { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
    { subject, compatibility },
  );
  return { id, compatibility };
}

/** Confluent-framed Avro values of `events`, in order, registered under `<topic>-value`. */
export async function encodeAvroEvents(
  events: readonly JsonEventShape[],
  config: Config,
  topic: string = config.KAFKA_TOPICS[0]!,
): Promise<Buffer[]> {
  if (config.SCHEMA_REGISTRY_URL === '') {
    throw new ConnectorError(ErrorCode.USAGE, '--format avro needs SCHEMA_REGISTRY_URL');
  }
  const conn = registryConnection(config);
  const client = createSchemaRegistryClient(conn, {
    cacheSize: config.SCHEMA_REGISTRY_CACHE_SIZE,
    clientId: config.KAFKA_CLIENT_ID,
  });
  let id: number;
  try {
    ({ id } = await registerAvroSchema(client, conn, subjectForTopic(topic)));
  } catch (err) {
    if (err instanceof ConnectorError) throw err;
    throw new ConnectorError(
      ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE,
      `could not register the event schema at ${conn.url}: ${(err as Error).message}`,
      {},
      { cause: err },
    );
  }
  return Promise.all(events.map((e) => client.encode(id, toAvroEventValue(e))));
}
