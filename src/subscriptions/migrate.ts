/**
 * Applies `schemas/sql/*.sql` in name order, once each, recorded in `webhook_connector_migrations`.
 * Every step runs in its own transaction under one advisory lock, so two processes migrating at the same
 * time serialize (the second finds the work done) and a failing file leaves nothing half applied.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pool, PoolClient } from 'pg';

/** Arbitrary constant shared by every connector process: the key of the migration advisory lock. */
const MIGRATION_LOCK_KEY = 7_261_931_044;

const TRACKING_TABLE = `create table if not exists webhook_connector_migrations (
  name text primary key,
  applied_at timestamptz not null default now()
)`;

/**
 * The sql folder, from this module's location: the nearest `schemas/sql` above it — two levels up from
 * `src/subscriptions` (tsx, jest), three from `dist/src/subscriptions` (after tsc), four from the
 * benchmark's `bench/.build/src/subscriptions`.
 */
export function defaultSqlDir(moduleUrl: string = import.meta.url): string {
  const candidates: string[] = [];
  for (let dir = dirname(fileURLToPath(moduleUrl)); ;) {
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
    candidates.push(join(dir, 'schemas', 'sql'));
  }
  const found = candidates.find((d) => existsSync(d));
  if (found === undefined) throw new Error(`migrations folder not found; looked in ${candidates.join(', ')}`);
  return found;
}

async function inLockedTransaction<T>(pool: Pool, work: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    const result = await work(client);
    await client.query('commit');
    return result;
  } catch (err) {
    await client.query('rollback').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}

/** Applies the pending migrations; returns the names of the files applied by this call. */
export async function migrate(pool: Pool, sqlDir: string = defaultSqlDir()): Promise<string[]> {
  const files = (await readdir(sqlDir)).filter((f) => f.endsWith('.sql')).sort();
  await inLockedTransaction(pool, (client) => client.query(TRACKING_TABLE));
  const applied: string[] = [];
  for (const name of files) {
    const sql = await readFile(join(sqlDir, name), 'utf8');
    const didApply = await inLockedTransaction(pool, async (client) => {
      const done = await client.query('select 1 from webhook_connector_migrations where name = $1', [name]);
      if (done.rowCount !== 0) return false;
      await client.query(sql);
      await client.query('insert into webhook_connector_migrations (name) values ($1)', [name]);
      return true;
    });
    if (didApply) applied.push(name);
  }
  return applied;
}

/**
 * The migrations not applied yet (all of them on a database never migrated). The service checks this at
 * start: a table it needs missing would otherwise show as a store outage, forever.
 */
export async function pendingMigrations(pool: Pool, sqlDir: string = defaultSqlDir()): Promise<string[]> {
  const files = (await readdir(sqlDir)).filter((f) => f.endsWith('.sql')).sort();
  const tracked = await pool.query<{ exists: boolean }>(
    `select to_regclass('webhook_connector_migrations') is not null as exists`,
  );
  if (!tracked.rows[0]!.exists) return files;
  const done = await pool.query<{ name: string }>('select name from webhook_connector_migrations');
  const applied = new Set(done.rows.map((r) => r.name));
  return files.filter((f) => !applied.has(f));
}
