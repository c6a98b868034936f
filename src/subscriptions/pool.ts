import pg from 'pg';
import type { Logger } from '../logger.js';

export type { Pool } from 'pg';

export interface PgPoolOptions {
  readonly connectionString: string;
  readonly logger: Logger;
  readonly max?: number;
  readonly applicationName?: string;
  /** Session settings sent at connect (libpq `options`, e.g. `-c synchronous_commit=off`). */
  readonly sessionOptions?: string;
}

/**
 * The pool the store and the migrations use. Timeouts are set because pg's defaults wait forever: a
 * black-holed database would otherwise hang the snapshot reload instead of letting it fail and retry.
 */
export function createPgPool(options: PgPoolOptions): pg.Pool {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.max ?? 5,
    application_name: options.applicationName ?? 'tiledesk-webhook-connector',
    connectionTimeoutMillis: 10_000,
    query_timeout: 60_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    ...(options.sessionOptions !== undefined && { options: options.sessionOptions }),
  });
  // An idle client whose server went away emits 'error' on the pool; unhandled, it would kill the process.
  pool.on('error', (err) =>
    options.logger.warn({ err: { message: err.message } }, 'postgres: idle connection lost'),
  );
  // pg-pool takes its own 'error' listener off a client while the client is checked out (a transaction's
  // client between two queries): a terminated backend (a restart, a failover) would then emit an 'error'
  // nobody listens to, which kills the process. This listener stays for the client's whole life; the
  // failure itself reaches the caller as the rejection of its next query.
  pool.on('connect', (client) =>
    client.on('error', (err) =>
      options.logger.debug({ err: { message: err.message } }, 'postgres: connection lost'),
    ),
  );
  return pool;
}

/**
 * The delivery log's own pool: two connections (one writes batches, one maintains partitions), sessions
 * with `synchronous_commit = off`. The log is observability: a commit need not wait for the WAL flush, and
 * a Postgres crash may lose the log's last instants, never a delivery (the parked-delivery store and the
 * subscriptions use the main pool, with the server's setting).
 */
export function createDeliveryLogPool(options: Omit<PgPoolOptions, 'max' | 'sessionOptions'>): pg.Pool {
  return createPgPool({
    ...options,
    max: 2,
    applicationName: `${options.applicationName ?? 'tiledesk-webhook-connector'}:delivery-log`,
    sessionOptions: '-c synchronous_commit=off',
  });
}
