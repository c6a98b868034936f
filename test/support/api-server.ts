/**
 * A management API for a test: createApiApp on 127.0.0.1 port 0, over a fresh migrated database, with the
 * real subscription store, API keys and authenticator, and an in-memory delivery log (or the one given).
 *
 *   const api = await startTestApi('api_routes');
 *   const key = await api.projectKey('p1');
 *   const r = await api.call('GET', '/p1/subscriptions', { key });
 *   afterAll(() => api.stop());
 */
import { connect } from 'node:net';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { createApiKeyStore, type ApiKeyStore } from '../../src/api/api-keys.js';
import { createApiStores } from '../../src/api/api-stores.js';
import { createAuthenticator, type JwtConfig } from '../../src/api/auth.js';
import { createApiApp, type ApiApp } from '../../src/api/create-api-app.js';
import type { DeliveryLogReader, ManualResends } from '../../src/api/store/types.js';
import { loadConfig } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { createApiMetrics } from '../../src/metrics/api-metrics.js';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import type { SubscriptionStore } from '../../src/subscriptions/types.js';
import { createMemoryDeliveryLog, type MemoryDeliveryLog } from './memory-delivery-log.js';
import { createMigratedDatabase, type TestDatabase } from './pg.js';

/** The fields of a subscription in Tiledesk's answers (its Mongoose document: models/subscription.js). */
export const TILEDESK_SUBSCRIPTION_FIELDS = [
  '_id',
  'event',
  'target',
  'id_project',
  'createdBy',
  'createdAt',
  'updatedAt',
  '__v',
] as const;

export interface ApiResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: unknown;
}

export interface CallOptions {
  /** An API key, sent as `Authorization: Bearer <key>`. */
  readonly key?: string;
  readonly headers?: Record<string, string>;
  /** Sent as JSON. */
  readonly body?: unknown;
  /** Sent as is (with content-type application/json unless headers say otherwise). */
  readonly rawBody?: string | Buffer;
}

export interface TestApi {
  readonly url: string;
  readonly api: ApiApp;
  readonly db: TestDatabase;
  readonly pool: pg.Pool;
  readonly keys: ApiKeyStore;
  readonly subscriptions: SubscriptionStore;
  readonly memoryLog: MemoryDeliveryLog;
  readonly registry: Registry;
  projectKey(idProject: string): Promise<string>;
  platformKey(): Promise<string>;
  call(method: string, path: string, options?: CallOptions): Promise<ApiResponse>;
  stop(): Promise<void>;
}

export async function callApi(
  baseUrl: string,
  method: string,
  path: string,
  o: CallOptions = {},
): Promise<ApiResponse> {
  const headers: Record<string, string> = {};
  if (o.key !== undefined) headers.authorization = `Bearer ${o.key}`;
  let body: string | Buffer | undefined;
  if (o.body !== undefined || o.rawBody !== undefined) {
    headers['content-type'] = 'application/json';
    body = o.rawBody ?? JSON.stringify(o.body);
  }
  Object.assign(headers, o.headers);
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body });
  const text = await res.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

export async function startTestApi(
  prefix: string,
  o: {
    jwt?: Partial<JwtConfig>;
    bodyLimitBytes?: number;
    log?: DeliveryLogReader & ManualResends;
    /** The real Postgres log reader and re-sends (src/api/api-stores.ts) instead of the in-memory log. */
    pgStores?: boolean;
  } = {},
): Promise<TestApi> {
  const { db, pool } = await createMigratedDatabase(prefix);
  const keys = createApiKeyStore(pool);
  const subscriptions = createSubscriptionStore(pool);
  const memoryLog = createMemoryDeliveryLog();
  const log = o.log ?? memoryLog;
  const stores = o.pgStores === true ? createApiStores(pool) : { log, resends: log };
  const registry = new Registry();
  const defaults = loadConfig({});
  const api = await createApiApp({
    logger: createLogger(process.env.TEST_API_LOG_LEVEL ?? 'silent'),
    authenticate: await createAuthenticator({ keys, jwt: { ...defaults, ...o.jwt } }),
    subscriptions,
    log: stores.log,
    resends: stores.resends,
    bodyLimitBytes: o.bodyLimitBytes ?? defaults.API_BODY_LIMIT_BYTES,
    metrics: createApiMetrics(registry),
  });
  const url = await api.app.listen({ host: '127.0.0.1', port: 0 });
  return {
    url,
    api,
    db,
    pool,
    keys,
    subscriptions,
    memoryLog,
    registry,
    projectKey: async (idProject) => (await keys.create({ idProject, name: 'test' })).key,
    platformKey: async () => (await keys.create({ idProject: null, name: 'test' })).key,
    call: (method, path, options) => callApi(url, method, path, options),
    async stop() {
      await api.app.close();
      await pool.end();
      await db.drop();
    },
  };
}

/**
 * One raw HTTP/1.1 connection to the API, for what fetch cannot do: requests pipelined on one socket (a
 * second request sent while the first is still running).
 */
export interface RawConnection {
  /** Sends `GET path` with the key, without waiting for any answer. */
  get(path: string, key: string): void;
  /** Everything received so far. */
  received(): string;
  /** The responses received so far, in order: status line and headers, and body. */
  responses(): { head: string; body: string }[];
  /** Resolves when the connection is closed. */
  readonly ended: Promise<void>;
  destroy(): void;
}

export function rawConnection(baseUrl: string): RawConnection {
  const socket = connect(Number(new URL(baseUrl).port), '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  return {
    get(path, key) {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${key}\r\n\r\n`);
    },
    received: () => received,
    responses: () =>
      received
        .split(/(?=HTTP\/1\.1 )/)
        .filter((r) => r !== '')
        .map((r) => {
          const at = r.indexOf('\r\n\r\n');
          return { head: r.slice(0, at), body: r.slice(at + 4) };
        }),
    ended,
    destroy: () => socket.destroy(),
  };
}
