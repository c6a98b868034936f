/**
 * The delivery log's cost in isolation: the CPU of turning N delivered attempts (fan-out 1, each of a new
 * event, ~1 KiB bench events of 1,000 projects) into log rows and writing them through the production writer, on this
 * process and on Postgres (the writer's backend and the WAL writer, checkpointer, background writer and
 * autovacuum). No broker, no HTTP: the whole-system `log` group of `npm run bench` swings by tens of per
 * cent between runs on a shared machine, this one by a few.
 *
 *   node --import tsx bench/log-write.ts [events=100000] [rounds=5]
 */
import pg from 'pg';
import { performance } from 'node:perf_hooks';
import { decodeRecord } from '../src/events/decode-record.js';
import type { InboundRecord, TiledeskEvent } from '../src/events/event.js';
import { createDeliveryLog } from '../src/delivery-log/delivery-log.js';
import { createLogger } from '../src/logger.js';
import { createMetrics } from '../src/metrics/metrics.js';
import { Registry } from 'prom-client';
import { createDeliveryLogPool, createPgPool } from '../src/subscriptions/pool.js';
import { migrate } from '../src/subscriptions/migrate.js';
import { benchEvent } from './lib/data.js';
import { PgBackendMonitor } from './lib/pg-backends.js';
import type { Subscription } from '../src/subscriptions/types.js';

const EVENTS = Number(process.argv[2] ?? 100_000);
const ROUNDS = Number(process.argv[3] ?? 5);
const DB = 'bench_log_write';
const URL = `postgres://postgres@127.0.0.1:5432/${DB}`;

async function main(): Promise<void> {
  const admin = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await admin.connect();
  await admin.query(`drop database if exists ${DB} with (force)`);
  await admin.query(`create database ${DB}`);
  await admin.end();
  const logger = createLogger('warn');
  const setup = createPgPool({ connectionString: URL, logger, max: 1 });
  await migrate(setup);
  // One subscription per project, as the whole-system fan-out-1 runs have: attempts land on 1,000
  // subscriptions of 1,000 projects, each at its own point of the log's indexes.
  const subs = new Map<string, Subscription>();
  const subscriptionOf = (idProject: string): Subscription => {
    let sub = subs.get(idProject);
    if (sub === undefined) {
      sub = {
        id: `sub-${idProject}-bench`,
        idProject,
        event: 'request.create',
        target: `http://127.0.0.1:1/hooks/${idProject}`,
        global: false,
      } as unknown as Subscription;
      subs.set(idProject, sub);
    }
    return sub;
  };
  const results: { connector: number; log: number; background: number; ms: number }[] = [];
  for (let round = 0; round <= ROUNDS; round++) {
    await setup.query('truncate webhook_log_attempts, webhook_log_messages');
    await setup.query('checkpoint');
    const items: { event: TiledeskEvent; record: InboundRecord }[] = [];
    const now = Date.now();
    for (let i = 0; i < EVENTS; i++) {
      const e = benchEvent(`r${round}`, i, now);
      const record: InboundRecord = {
        topic: 'bench',
        partition: i % 8,
        offset: String(i),
        timestamp: String(now + Math.floor(i / 10)),
        key: Buffer.from(e.key),
        value: e.value,
        headers: {},
      };
      const d = decodeRecord(e.value, record, { maxRecordBytes: 1 << 20 });
      if (d instanceof Promise || !d.ok) throw new Error('bench event did not decode');
      items.push({ event: d.event, record });
    }
    const pool = createDeliveryLogPool({ connectionString: URL, logger });
    const metrics = createMetrics(new Registry());
    const log = createDeliveryLog({
      config: {
        DELIVERY_LOG: 'all',
        DELIVERY_LOG_RETENTION_DAYS: 14,
        DELIVERY_LOG_MAX_PENDING: 50_000,
        DELIVERY_LOG_BATCH: 1_000,
      },
      pool,
      instance: 'bench-host:1234:abcdef',
      clock: { now: () => Date.now() } as never,
      logger,
      metrics,
    })!;
    await log.start();
    // Round 0 measures the loop alone (no log): what the other rounds pay beyond it is the log.
    const observe = round === 0 ? () => undefined : log.observe;
    const monitor = await PgBackendMonitor.start(URL);
    // A warm backend: the first connection's setup is not the log's cost.
    await pool.query('select 1');
    const t0 = performance.now();
    const wall0 = Date.now();
    const cpu0 = process.cpuUsage();
    const result = { kind: 'response', status: 200, durationMs: 1.5, excerpt: Buffer.from('ok') } as never;
    const outcome = { kind: 'delivered' } as never;
    // 10,000 deliveries per second, as the whole-system run does: batches of 100 every 10 ms.
    for (let i = 0; i < EVENTS; i++) {
      const it = items[i]!;
      observe(outcome, result, 1, subscriptionOf(it.event.idProject ?? ''), {
        event: it.event,
        webhookId: `msg_${i.toString(36).padStart(22, '0')}`,
        sentAt: Date.now(),
        origin: { record: it.record, trigger: 'scheduled' } as never,
        exhausted: false,
      });
      if (i % 100 === 99) {
        await new Promise((r) => setTimeout(r, 10 - ((performance.now() - t0) % 10)));
      }
    }
    await log.stop(60_000);
    const cpu = process.cpuUsage(cpu0);
    const wall1 = Date.now();
    await new Promise((r) => setTimeout(r, 600));
    await monitor.stop();
    const r = {
      connector: (cpu.user + cpu.system) / EVENTS,
      log: ((monitor.cpuBetween('log', wall0, wall1) ?? NaN) * 1000) / EVENTS,
      background: ((monitor.cpuBetween('background', wall0, wall1) ?? NaN) * 1000) / EVENTS,
      ms: performance.now() - t0,
    };
    results.push(r);
    const rows = (await setup.query<{ n: string }>('select count(*) as n from webhook_log_attempts')).rows[0]!
      .n;
    console.log(
      `round ${round}: ${rows} rows; µs per delivery: connector ${r.connector.toFixed(1)}, ` +
        `Postgres log ${r.log.toFixed(1)}, background ${r.background.toFixed(1)} (${r.ms.toFixed(0)} ms)`,
    );
    await pool.end();
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  results.shift();
  console.log(
    `median µs per delivery: connector ${med(results.map((r) => r.connector)).toFixed(1)}, Postgres log ` +
      `${med(results.map((r) => r.log)).toFixed(1)}, background ${med(results.map((r) => r.background)).toFixed(1)}`,
  );
  await setup.end();
}

await main();
