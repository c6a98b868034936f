/**
 * A fresh Postgres database per test file, on the local server (see PG_ADMIN_URL):
 *
 *   let db: TestDatabase;
 *   beforeAll(async () => { db = await createTestDatabase('subscriptions'); });
 *   afterAll(() => db.drop());
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { migrate } from '../../src/subscriptions/migrate.js';
import { PG_ADMIN_URL } from './env.js';

export interface TestDatabase {
  /** Its name (lower case, `<prefix>_<random>`). */
  name: string;
  /** Connection string for it, as the superuser. */
  url: string;
  /** Drops it, closing whatever connections are still open on it (WITH (FORCE)). Idempotent. */
  drop(): Promise<void>;
}

/**
 * A pool for a test's own connections: named `test:<name>` in pg_stat_activity (a connection left open
 * at a teardown can be traced to its owner), and with 'error' handlers on the pool and on every client,
 * checked out or not. pg reports a terminated connection (a forced drop, pg_terminate_backend) as an
 * 'error' event, and an unhandled one fails the whole test file ("Unhandled error. (error: terminating
 * connection due to administrator command").
 */
export function testPool(connectionString: string, name: string, max = 2): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, application_name: `test:${name}` });
  pool.on('error', () => undefined); // the client is already out of the pool; its next user gets a new one
  pool.on('connect', (client) => client.on('error', () => undefined)); // the query in progress rejects
  return pool;
}

/** An unconnected client, named and guarded as `testPool`'s. */
export function testClient(connectionString: string, name: string): pg.Client {
  const client = new pg.Client({ connectionString, application_name: `test:${name}` });
  client.on('error', () => undefined); // a query in progress rejects; later ones fail at once
  return client;
}

/** Creates an empty database named after `prefix` (which is lower-cased; other characters than [a-z0-9_] become `_`). */
export async function createTestDatabase(prefix: string): Promise<TestDatabase> {
  const safe = prefix
    .toLowerCase()
    .replace(/[^a-z0-9_]/g, '_')
    .slice(0, 40);
  const name = `${safe}_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  await admin((c) => c.query(`CREATE DATABASE "${name}"`));
  const url = new URL(PG_ADMIN_URL);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    drop: () =>
      admin(async (c) => {
        // pg-pool's end() resolves before its connections are closed: give them a moment to go by
        // themselves, so that FORCE terminates only what was really left open.
        const deadline = Date.now() + 2_000;
        while (Date.now() < deadline) {
          const open = await c.query('select 1 from pg_stat_activity where datname = $1', [name]);
          if (open.rowCount === 0) break;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      }),
  };
}

/** A fresh database with the subscription table migrated, and a small pool on it (end it before `drop`). */
export async function createMigratedDatabase(prefix: string): Promise<{ db: TestDatabase; pool: pg.Pool }> {
  const db = await createTestDatabase(prefix);
  const pool = testPool(db.url, prefix);
  await migrate(pool);
  return { db, pool };
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = testClient(PG_ADMIN_URL, 'admin');
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
