/**
 * Migrations 006 and 007 on a delivery log written before them: the attempts' two btrees (by project, by
 * subscription) give way to one (id_project, subscription_id, attempted_at) on every day partition, each
 * attempts partition (existing or made later) gets its (project, subscription) dependency statistics, and
 * what was logged before reads the same afterwards — the project's history and a subscription's
 * deliveries, in order, nothing missing.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type pg from 'pg';
import { createPgDeliveryLogReader } from '../../src/api/store/pg-delivery-log-reader.js';
import { webhookId } from '../../src/delivery/webhook-id.js';
import { defaultSqlDir, migrate } from '../../src/subscriptions/migrate.js';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { logAttempts, logMessage, type AttemptInput } from '../support/delivery-log.js';
import { createTestDatabase, testPool, type TestDatabase } from '../support/pg.js';

let db: TestDatabase;
let pool: pg.Pool;
let before: string;

beforeAll(async () => {
  db = await createTestDatabase('log_upgrade');
  pool = testPool(db.url, 'log-upgrade');
  // The schema as it was before 006.
  before = mkdtempSync(join(tmpdir(), 'sql-before-006-'));
  for (const f of readdirSync(defaultSqlDir()).filter((f) => f.endsWith('.sql') && f < '006')) {
    cpSync(join(defaultSqlDir(), f), join(before, f));
  }
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
  rmSync(before, { recursive: true, force: true });
});

/** The indexes of today's attempts partition, by name → definition. */
async function attemptIndexes(): Promise<string[]> {
  const r = await pool.query<{ indexdef: string }>(
    `select regexp_replace(indexdef, '^.* USING ', '') as indexdef from pg_indexes
      where tablename = 'webhook_log_attempts_p' || to_char(now() at time zone 'UTC', 'YYYYMMDD')
      order by 1`,
  );
  return r.rows.map((x) => x.indexdef);
}

it('keeps what was logged, readable in the same order, on one btree', async () => {
  expect(await migrate(pool, before)).toEqual([
    '001_webhook_subscriptions.sql',
    '002_parked_deliveries.sql',
    '003_delivery_log.sql',
    '004_delivery_log_lz4.sql',
    '005_delivery_log_payload_slice.sql',
  ]);
  expect(await attemptIndexes()).toEqual([
    'btree (id_project, attempted_at DESC)',
    'btree (subscription_id, attempted_at DESC)',
    'hash (webhook_id)',
  ]);
  const store = createSubscriptionStore(pool);
  const subs = [];
  for (let k = 0; k < 2; k++) {
    const s = await store.add({
      idProject: 'P1',
      event: 'request.create',
      target: `http://127.0.0.1:9/h${k}`,
      createdBy: 't',
    });
    subs.push(s.id);
  }
  const base = Date.now() - 60_000;
  const inputs: AttemptInput[] = [];
  for (let i = 0; i < 50; i++) {
    const m = await logMessage(pool, { eventId: `e${i}`, idProject: 'P1', offset: String(i) });
    inputs.push({ message: m, subscriptionId: subs[i % 2]!, attemptedAt: new Date(base + i * 100) });
  }
  await logAttempts(pool, inputs);
  const reader = createPgDeliveryLogReader(pool);
  const history = async (): Promise<string[]> =>
    [...(await reader.history('P1', 0)), ...(await reader.history('P1', 1))].map((r) => r.webhook_id);
  const deliveries = async (sub: string): Promise<string[]> =>
    (await reader.deliveries({ idProject: 'P1', subscriptionId: sub, limit: 250 })).items.map((d) => d.id);
  const historyBefore = await history();
  const deliveriesBefore = await Promise.all(subs.map(deliveries));
  expect(historyBefore).toEqual(inputs.map((a) => webhookId(a.message.eventId, a.subscriptionId)).reverse());
  expect(deliveriesBefore.map((d) => d.length)).toEqual([25, 25]);

  expect(await migrate(pool)).toEqual([
    '006_delivery_log_one_index.sql',
    '007_delivery_log_attempt_statistics.sql',
  ]);
  expect(await attemptIndexes()).toEqual([
    'btree (id_project, subscription_id, attempted_at)',
    'hash (webhook_id)',
  ]);
  // Every day partition, and those made from now on, have the same.
  const perPartition = await pool.query<{ n: string }>(
    `select count(*) as n from pg_indexes
      where tablename like 'webhook_log_attempts_p%' and indexdef like '%(id_project, subscription_id, attempted_at)'`,
  );
  const partitions = await pool.query<{ n: string }>(
    `select count(*) as n from pg_inherits i join pg_class p on p.oid = i.inhparent
      where p.relname = 'webhook_log_attempts'`,
  );
  expect(perPartition.rows[0]!.n).toBe(partitions.rows[0]!.n);
  // 007: each attempts partition has its (project, subscription) dependency statistics.
  const statistics = async (): Promise<string[]> =>
    (
      await pool.query<{ rel: string; cols: string }>(
        `select c.relname as rel, array_to_string(array(select a.attname from pg_attribute a
                 where a.attrelid = s.stxrelid and a.attnum = any(s.stxkeys) order by a.attnum), ',') as cols
           from pg_statistic_ext s join pg_class c on c.oid = s.stxrelid
          where c.relname like 'webhook_log_attempts_p%' and 'f' = any(s.stxkind) order by 1`,
      )
    ).rows.map((r) => `${r.rel}:${r.cols}`);
  const withStats = await statistics();
  expect(withStats).toHaveLength(Number(partitions.rows[0]!.n));
  expect(new Set(withStats.map((x) => x.split(':')[1]))).toEqual(new Set(['subscription_id,id_project']));
  await pool.query(`select webhook_log_ensure_partitions((now() at time zone 'UTC')::date + 5, 1)`);
  const later = await pool.query<{ indexdef: string }>(
    `select indexdef from pg_indexes where tablename = 'webhook_log_attempts_p' ||
      to_char((now() at time zone 'UTC')::date + 5, 'YYYYMMDD')`,
  );
  expect(later.rows.map((r) => r.indexdef.replace(/^.* USING /, '')).sort()).toEqual([
    'btree (id_project, subscription_id, attempted_at)',
    'hash (webhook_id)',
  ]);
  expect(await statistics()).toHaveLength(withStats.length + 1);

  expect(await history()).toEqual(historyBefore);
  expect(await Promise.all(subs.map(deliveries))).toEqual(deliveriesBefore);
});
