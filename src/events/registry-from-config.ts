/**
 * Builds the schema-registry side from configuration: the `@kafkajs/confluent-schema-registry` client
 * (basic auth, per-request timeout, short retries, and a *bounded* schema cache in place of the library's
 * unbounded one), a raw request helper for the few calls the library does not expose, and the decoder
 * the pipeline uses. With SCHEMA_REGISTRY_URL empty there is no decoder: framed records are then poison.
 */
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import type { RegistryDecoder } from './decode-record.js';
import { LruCache } from './lru.js';
import { createSchemaRegistryDecoder, type RegistryAnswer } from './schema-registry-decoder.js';

/** Per-request timeout towards the registry; a registry slower than this counts as down. */
export const DEFAULT_REGISTRY_TIMEOUT_MS = 5_000;

export interface RegistryConnection {
  /** Base URL of the Confluent API, without a trailing slash (Apicurio: `http://host:8080/apis/ccompat/v7`). */
  readonly url: string;
  readonly username: string;
  readonly password: string;
  readonly timeoutMs: number;
}

export function registryConnection(
  config: Config,
  timeoutMs: number = DEFAULT_REGISTRY_TIMEOUT_MS,
): RegistryConnection {
  return {
    url: config.SCHEMA_REGISTRY_URL.replace(/\/+$/, ''),
    username: config.SCHEMA_REGISTRY_USERNAME,
    password: config.SCHEMA_REGISTRY_PASSWORD,
    timeoutMs,
  };
}

type LibraryCache = SchemaRegistry['cache'];
type CacheEntry = ReturnType<LibraryCache['setSchema']>;
type ClientArgs = ConstructorParameters<typeof SchemaRegistry>[0];
type Middleware = NonNullable<ClientArgs['middlewares']>[number];

/**
 * Drop-in for the library's `Cache` (node_modules/@kafkajs/confluent-schema-registry/dist/cache.js: two
 * plain objects, never evicted). `SchemaRegistry` only calls getSchema/setSchema (writer schemas by id,
 * filled by `getSchema`/`decode`/`register`) and setLatestRegistryId (filled by `register`), so bounding
 * those bounds its memory. Concurrent misses for one id still share one request (the library's
 * `cacheMissRequests`, which is not part of the cache).
 */
export class BoundedSchemaCache implements LibraryCache {
  readonly #schemas: LruCache<number, CacheEntry>;
  readonly #subjects: LruCache<string, number>;

  constructor(maxSchemas: number) {
    this.#schemas = new LruCache(maxSchemas);
    this.#subjects = new LruCache(maxSchemas);
  }

  /** Read-only snapshot (the library declares the field but never reads it). */
  get registryIdBySubject(): Record<string, number> {
    return Object.fromEntries(this.#subjects.keys().map((k) => [k, this.#subjects.peek(k)!]));
  }

  /** Read-only snapshot (the library declares the field but never reads it). */
  get schemasByRegistryId(): Record<string, CacheEntry> {
    return Object.fromEntries(this.#schemas.keys().map((k) => [String(k), this.#schemas.peek(k)!]));
  }

  get size(): number {
    return this.#schemas.size;
  }

  /** Cached ids, least recently used first. */
  ids(): number[] {
    return this.#schemas.keys();
  }

  getLatestRegistryId = (subject: string): number | undefined => this.#subjects.get(subject);
  setLatestRegistryId = (subject: string, id: number): number => this.#subjects.set(subject, id);
  getSchema = (registryId: number): CacheEntry | undefined => this.#schemas.get(registryId);
  setSchema = (registryId: number, type: CacheEntry['type'], schema: CacheEntry['schema']): CacheEntry =>
    this.#schemas.set(registryId, { type, schema });
  clear = (): void => {
    this.#schemas.clear();
    this.#subjects.clear();
  };
}

/** mappersmith has no timeout by default: a registry that accepts and never answers would hang decoding. */
function timeoutMiddleware(timeoutMs: number): Middleware {
  return () => ({
    prepareRequest: (next) => next().then((request) => request.enhance({ timeout: timeoutMs })),
  });
}

export interface RegistryClientOptions {
  readonly cacheSize: number;
  /** Retries of one lookup on 5xx / connection errors (mappersmith retry v2; 404s are never retried). */
  readonly retries?: number;
  readonly clientId?: string;
}

export function createSchemaRegistryClient(
  conn: RegistryConnection,
  o: RegistryClientOptions,
): SchemaRegistry {
  const client = new SchemaRegistry({
    host: conn.url,
    clientId: o.clientId ?? 'tiledesk-webhook-connector',
    auth: conn.username === '' ? undefined : { username: conn.username, password: conn.password },
    // Every field is given: the library Object.assign()s these into its module-level defaults, so a
    // partial object would leak into every client created later in the process.
    retry: {
      retries: o.retries ?? 2,
      initialRetryTimeInSecs: 0.1,
      maxRetryTimeInSecs: 1,
      factor: 0.2,
      multiplier: 2,
    },
    middlewares: [timeoutMiddleware(conn.timeoutMs)],
  });
  client.cache = new BoundedSchemaCache(o.cacheSize);
  return client;
}

/**
 * One raw request to the registry's Confluent API: for what the library hides (the `error_code` of an
 * answer, GET/PUT /config/{subject}). Resolves with any HTTP status; rejects on network errors and timeouts.
 */
export async function registryRequest(
  conn: RegistryConnection,
  method: 'GET' | 'PUT',
  path: string,
  body?: unknown,
): Promise<RegistryAnswer> {
  const headers: Record<string, string> = {
    accept: 'application/vnd.schemaregistry.v1+json, application/json',
  };
  if (conn.username !== '') {
    headers.authorization = `Basic ${Buffer.from(`${conn.username}:${conn.password}`).toString('base64')}`;
  }
  if (body !== undefined) headers['content-type'] = 'application/vnd.schemaregistry.v1+json';
  const res = await fetch(`${conn.url}${path}`, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(conn.timeoutMs),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = text === '' ? null : JSON.parse(text);
  } catch {
    // not JSON (an HTML error page, say): keep the text
  }
  return { status: res.status, body: parsed };
}

export function createRegistryDecoderFromConfig(config: Config, logger: Logger): RegistryDecoder | undefined {
  if (config.SCHEMA_REGISTRY_URL === '') return undefined;
  const conn = registryConnection(config);
  const client = createSchemaRegistryClient(conn, {
    cacheSize: config.SCHEMA_REGISTRY_CACHE_SIZE,
    clientId: config.KAFKA_CLIENT_ID,
  });
  return createSchemaRegistryDecoder({
    schemas: client,
    probeSchemaId: (id) => registryRequest(conn, 'GET', `/schemas/ids/${id}`),
    probeRegistry: () => registryRequest(conn, 'GET', '/schemas/types'),
    logger: logger.child({ component: 'schema-registry' }),
  });
}
