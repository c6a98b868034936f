/**
 * The operator's path: `webhook-connector api-keys create|list|revoke` and `webhook-connector api` as
 * processes, on a migrated database: a key printed once works against the running API at once and is
 * refused once revoked; the api process serves /metrics, /healthz, /readyz on OPS_PORT and exits 0 on
 * SIGTERM; a bad configuration is refused before anything starts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { callApi } from '../../support/api-server.js';
import { spawnApi, type ChildApi } from '../../support/child-api.js';
import { runCli } from '../../support/cli.js';
import { createMigratedDatabase, type TestDatabase } from '../../support/pg.js';

let db: TestDatabase;
let pool: pg.Pool;
let api: ChildApi;

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('api_cli'));
  api = await spawnApi({ DATABASE_URL: db.url, LOG_LEVEL: 'info' });
});
afterAll(async () => {
  await api.stop();
  await pool.end();
  await db.drop();
});

const cli = (...args: string[]) => runCli(args, { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });

describe('api-keys and api', () => {
  it('a created key works at once, is listed without its secret, and is refused once revoked', async () => {
    const created = await cli('api-keys', 'create', '--project', 'p-cli', '--name', 'ci');
    expect(created.code).toBe(0);
    const key = /^key: (whk_[a-z0-9]+_\S+)$/m.exec(created.stdout)![1]!;
    const id = key.split('_')[1]!;
    expect(created.stdout).toContain(`created ${id} "p-cli" "ci"`);

    const r = await callApi(api.apiUrl, 'POST', '/p-cli/subscriptions', {
      key,
      body: { event: 'request.create', target: 'https://cli.example/' },
    });
    expect(r.status).toBe(200);

    const listed = await cli('api-keys', 'list', '--project', 'p-cli');
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).not.toContain(key.split('_').slice(2).join('_'));

    const revoked = await cli('api-keys', 'revoke', id);
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked .* revoked=\d{4}-/m);
    expect((await callApi(api.apiUrl, 'GET', '/p-cli/subscriptions', { key })).status).toBe(401);
    expect(api.output()).not.toContain(key.split('_').slice(2).join('_'));
  });

  it('a platform key; usage errors exit 2', async () => {
    const created = await cli('api-keys', 'create', '--platform');
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('(platform)');
    const both = await cli('api-keys', 'create', '--platform', '--project', 'x');
    expect(both.code).toBe(2);
    expect(both.stderr).toMatch(/^error CONNECTOR_USAGE: create needs exactly one of/m);
    expect((await cli('api-keys', 'revoke', 'nosuchkey')).code).toBe(2);
  });

  it('the api process serves /metrics, /healthz and /readyz on OPS_PORT', async () => {
    await callApi(api.apiUrl, 'GET', '/p-cli/subscriptions');
    const metrics = await (await fetch(`${api.opsUrl}/metrics`)).text();
    expect(metrics).toMatch(
      /webhook_connector_api_requests_total\{route="\/:projectid\/subscriptions",method="GET",status_code="401"\} [1-9]/,
    );
    expect(metrics).toContain('process_cpu_seconds_total');
    expect((await fetch(`${api.opsUrl}/healthz`)).status).toBe(200);
    const ready = await fetch(`${api.opsUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, listening: true, database: 'ok' });
  });

  it("keeps the delivery log's daily partitions: ahead of time, and dropped past the retention", async () => {
    // The migration makes yesterday..tomorrow; the api process's maintenance goes to the day after
    // tomorrow and drops days older than DELIVERY_LOG_RETENTION_DAYS (14).
    const day = (offsetDays: number): string =>
      new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '');
    await pool.query("select webhook_log_ensure_partitions((now() at time zone 'UTC')::date - 30, 1)");
    const other = await spawnApi({ DATABASE_URL: db.url, LOG_LEVEL: 'warn' });
    try {
      const names = async (): Promise<string[]> =>
        (
          await pool.query<{ relname: string }>(
            "select relname from pg_class where relname ~ '^webhook_log_attempts_p[0-9]{8}$' order by 1",
          )
        ).rows.map((r) => r.relname);
      const all = await names();
      expect(all).toContain(`webhook_log_attempts_p${day(2)}`);
      expect(all).not.toContain(`webhook_log_attempts_p${day(-30)}`);
    } finally {
      await other.stop();
    }
  });

  it('refuses a bad configuration before starting', async () => {
    const r = await runCli(['api'], { DATABASE_URL: db.url, API_PORT: 'x', API_JWT_SECRET: 'short' }, 30_000);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('API_PORT');
    expect(r.stderr).toContain('API_JWT_SECRET: must be at least 32 characters');
  });

  it('exits 0 on SIGTERM', async () => {
    const other = await spawnApi({ DATABASE_URL: db.url });
    expect(await other.stop()).toBe(0);
  });
});
