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
    drop: () => admin((c) => c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}

/** A fresh database with the subscription table migrated, and a small pool on it (end it before `drop`). */
export async function createMigratedDatabase(prefix: string): Promise<{ db: TestDatabase; pool: pg.Pool }> {
  const db = await createTestDatabase(prefix);
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  await migrate(pool);
  return { db, pool };
}

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}
