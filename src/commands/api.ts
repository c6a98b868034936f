/**
 * `webhook-connector api`: the management API process. Serves the API on API_HOST:API_PORT and, like the
 * connector, /metrics, /healthz and /readyz on OPS_HOST:OPS_PORT. Ready = listening and Postgres answered
 * the last check (every 5 s; it also proves the API's tables are migrated). It keeps the delivery log's
 * daily partitions like the connector does (at start and hourly: ahead of time, and dropped past
 * DELIVERY_LOG_RETENTION_DAYS), so the log's retention holds while no connector runs.
 */
import type { Pool } from 'pg';
import type { Registry } from 'prom-client';
import { systemClock } from '../clock.js';
import type { Config } from '../config.js';
import { LogPartitions } from '../delivery-log/partitions.js';
import { createOpsServer } from '../http/ops-server.js';
import type { Logger } from '../logger.js';
import { createApiMetrics } from '../metrics/api-metrics.js';
import { createSubscriptionStore } from '../subscriptions/pg-store.js';
import { createApiKeyStore } from '../api/api-keys.js';
import { createAuthenticator } from '../api/auth.js';
import { createApiApp } from '../api/create-api-app.js';
import type { DeliveryLogReader, ManualResends } from '../api/store/types.js';

export const API_USAGE = `usage: webhook-connector api

Serves the management API (README "Management API"; its OpenAPI document at /openapi.json) on
API_HOST:API_PORT, and /metrics, /healthz, /readyz on OPS_HOST:OPS_PORT, until SIGTERM or SIGINT. Runs apart
from the consumers, over the same DATABASE_URL (run \`migrate\` first). Callers authenticate with an API key
(\`webhook-connector api-keys create\`) or a platform JWT (API_JWT_*). Takes no options.`;

const CHECK_INTERVAL_MS = 5_000;

export interface RunningApi {
  readonly apiPort: number;
  readonly opsPort: number;
  stop(): Promise<void>;
}

export async function startApiServer(o: {
  config: Config;
  logger: Logger;
  pool: Pool;
  registry: Registry;
  log: DeliveryLogReader;
  resends: ManualResends;
}): Promise<RunningApi> {
  const { config, pool } = o;
  const { app } = await createApiApp({
    logger: o.logger,
    authenticate: await createAuthenticator({ keys: createApiKeyStore(pool), jwt: config }),
    subscriptions: createSubscriptionStore(pool),
    log: o.log,
    resends: o.resends,
    bodyLimitBytes: config.API_BODY_LIMIT_BYTES,
    metrics: createApiMetrics(o.registry, { defaultMetrics: true }),
  });
  let listening = false;
  let database: 'ok' | 'unavailable' = 'unavailable';
  const check = (): Promise<void> =>
    pool.query('select 1 from webhook_api_keys limit 0').then(
      () => void (database = 'ok'),
      (err: unknown) => {
        if (database === 'ok') o.logger.warn({ err }, 'postgres check failed: not ready');
        database = 'unavailable';
      },
    );
  await check();
  const partitions = new LogPartitions({
    pool,
    retentionDays: config.DELIVERY_LOG_RETENTION_DAYS,
    clock: systemClock,
    logger: o.logger,
  });
  await partitions.start();
  const timer = setInterval(() => void check(), CHECK_INTERVAL_MS);
  timer.unref();
  const ops = createOpsServer({
    registry: o.registry,
    readiness: () => ({
      ready: listening && database === 'ok',
      detail: { listening, database },
    }),
  });
  try {
    const opsPort = await ops.listen(config.OPS_HOST, config.OPS_PORT);
    await app.listen({ host: config.API_HOST, port: config.API_PORT });
    listening = true;
    const address = app.server.address();
    const apiPort = typeof address === 'object' && address !== null ? address.port : config.API_PORT;
    o.logger.info({ apiPort, opsPort }, 'management API listening');
    return {
      apiPort,
      opsPort,
      async stop() {
        listening = false;
        clearInterval(timer);
        partitions.stop();
        await app.close();
        await ops.close();
      },
    };
  } catch (err) {
    clearInterval(timer);
    partitions.stop();
    await app.close().catch(() => undefined);
    await ops.close().catch(() => undefined);
    throw err;
  }
}
