/**
 * Issue 16 item 1: a Postgres restart or failover terminates every connection at any moment, and pg
 * reports it as an 'error' event on the client (57P01, or "Connection terminated unexpectedly"); an
 * 'error' event nobody listens to is thrown, and kills the process. Here, on the real Postgres:
 * - the service's pool (`createPgPool`) survives the termination of a client it has checked out, and
 *   every connection it opens carries an application_name (so a stray one can be traced);
 * - the test databases' pool (test/support/pg.ts) survives its idle connections being terminated, as the
 *   forced `DROP DATABASE` of a teardown does when `pool.end()` has returned but the server has not yet
 *   closed the connections (pg-pool resolves `end()` before its clients' sockets are closed): the
 *   CI failure of hostile-records.test.ts on a fresh clone.
 * The whole service under repeated terminations is in pg-terminate-chaos.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import pg from 'pg';
import { createLogger } from '../../src/logger.js';
import { createPgPool } from '../../src/subscriptions/pool.js';
import { PG_ADMIN_URL } from '../support/env.js';
import { createMigratedDatabase, createTestDatabase, type TestDatabase } from '../support/pg.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let admin: pg.Client;

beforeAll(async () => {
  db = await createTestDatabase('pg_connections');
  admin = new pg.Client({ connectionString: PG_ADMIN_URL, application_name: 'test:pg-connections' });
  admin.on('error', () => undefined);
  await admin.connect();
});
afterAll(async () => {
  await admin?.end();
  await db?.drop();
});

interface Backend {
  pid: number;
  application_name: string;
}

async function backends(database: string): Promise<Backend[]> {
  const { rows } = await admin.query<Backend>(
    'select pid, application_name from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()',
    [database],
  );
  return rows;
}

async function terminate(pids: number[]): Promise<void> {
  await admin.query('select pg_terminate_backend(pid) from unnest($1::int[]) as pid', [pids]);
  await waitFor(
    async () => {
      const left = await admin.query('select 1 from pg_stat_activity where pid = any($1::int[])', [pids]);
      return left.rowCount === 0;
    },
    { timeoutMs: 5_000, message: `backends ${pids.join(', ')} gone` },
  );
}

/** Collects what reaches process-level 'uncaughtException' meanwhile (an unhandled 'error' event lands there). */
function catchUncaught(): { errors: Error[]; restore: () => void } {
  const errors: Error[] = [];
  const listeners = process.listeners('uncaughtException');
  process.removeAllListeners('uncaughtException');
  const mine = (err: Error): void => void errors.push(err);
  process.on('uncaughtException', mine);
  return {
    errors,
    restore: () => {
      process.removeListener('uncaughtException', mine);
      for (const l of listeners) process.on('uncaughtException', l);
    },
  };
}

describe("the service's pool", () => {
  it('names its connections, and survives the termination of a client it has checked out', async () => {
    const pool = createPgPool({ connectionString: db.url, logger: createLogger('silent'), max: 2 });
    const uncaught = catchUncaught();
    try {
      const client = await pool.connect();
      const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      expect(await backends(db.name)).toEqual([{ pid, application_name: 'tiledesk-webhook-connector' }]);

      // Checked out and idle between two queries, as a transaction's client is: pg-pool has taken its own
      // 'error' listener off the client while it is lent out.
      await terminate([pid]);
      await expect(client.query('select 1')).rejects.toThrow();
      client.release(true);
      expect(uncaught.errors.map((e) => e.message)).toEqual([]);

      // And the pool goes on with a new connection.
      expect((await pool.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
    } finally {
      uncaught.restore();
      await pool.end();
    }
  });
});

describe('the test databases (test/support/pg.ts)', () => {
  it("the migrated database's pool is named, and survives its idle connections being terminated", async () => {
    const migrated = await createMigratedDatabase('pg_connections_migrated');
    const uncaught = catchUncaught();
    try {
      await migrated.pool.query('select 1');
      const found = await backends(migrated.db.name);
      expect(found.length).toBeGreaterThan(0);

      await terminate(found.map((b) => b.pid));
      await waitFor(() => migrated.pool.totalCount === 0, {
        timeoutMs: 5_000,
        message: 'the pool dropped its terminated clients',
      });
      expect(uncaught.errors.map((e) => e.message)).toEqual([]);
      expect((await migrated.pool.query<{ one: number }>('select 1 as one')).rows).toEqual([{ one: 1 }]);
      for (const b of found) expect(b.application_name).toBe('test:pg_connections_migrated');
    } finally {
      uncaught.restore();
      await migrated.pool.end();
      await migrated.db.drop();
    }
  });

  it('a teardown (pool.end(), then drop()) never meets a connection the forced drop terminates', async () => {
    // The race is narrow (the server reads the pool's Terminate message before the drop's signal, or not),
    // so the teardown is repeated; it failed on 1 CI run in 2, with a single teardown per file.
    const uncaught = catchUncaught();
    try {
      for (let i = 0; i < 15; i++) {
        const migrated = await createMigratedDatabase('pg_connections_drop');
        // Two clients open when end() is called; then drop at once, as a test file's afterAll does.
        await Promise.all([migrated.pool.query('select 1'), migrated.pool.query('select 1')]);
        await migrated.pool.end();
        await migrated.db.drop();
      }
      expect(uncaught.errors.map((e) => e.message)).toEqual([]);
    } finally {
      uncaught.restore();
    }
  });
});
