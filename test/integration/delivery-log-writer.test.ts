/**
 * The delivery log writer against a real Postgres: batching, failures-only, the bound while Postgres is
 * unreachable or stalled (deliveries never wait), and daily partition maintenance.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { Registry } from 'prom-client';
import { systemClock } from '../../src/clock.js';
import type { InboundRecord, TiledeskEvent } from '../../src/events/event.js';
import { createDeliveryLog } from '../../src/delivery-log/delivery-log.js';
import { messageKey } from '../../src/delivery-log/message-key.js';
import { MESSAGE_PAYLOAD } from '../../src/api/store/log-sql.js';
import { LogPartitions, utcDay } from '../../src/delivery-log/partitions.js';
import type { AttemptRow, MessageRow } from '../../src/delivery-log/rows.js';
import { DeliveryLogWriter, ENCODER_KEEP_BYTES } from '../../src/delivery-log/writer.js';
import type { AttemptOutcome } from '../../src/delivery/classify.js';
import { createLogger } from '../../src/logger.js';
import { createMetrics, type Metrics } from '../../src/metrics/metrics.js';
import { createDeliveryLogPool } from '../../src/subscriptions/pool.js';
import type { Subscription } from '../../src/subscriptions/types.js';
import type { TransportResult } from '../../src/transport/types.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startTcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';

const DAY = 86_400_000;
const logger = createLogger('silent');
let db: TestDatabase;
let check: pg.Pool;
const ends: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  ({ db, pool: check } = await createMigratedDatabase('delivery_log_writer'));
});
afterAll(async () => {
  for (const end of ends.splice(0).reverse()) await end();
  await check.end();
  await db.drop();
});
beforeEach(async () => {
  await check.query('truncate webhook_log_attempts, webhook_log_messages');
});

function logPool(url = db.url): pg.Pool {
  const pool = createDeliveryLogPool({ connectionString: url, logger, applicationName: 'test' });
  ends.push(() => pool.end());
  return pool;
}

function freshMetrics(): Metrics {
  return createMetrics(new Registry(), { defaultMetrics: false });
}

async function value(
  metric: { get(): Promise<{ values: { value: number; metricName?: string }[] }> },
  name?: string,
) {
  const v = (await metric.get()).values.filter((x) => name === undefined || x.metricName === name);
  return v.reduce((s, x) => s + x.value, 0);
}

const record = (offset: number): InboundRecord => ({
  topic: 'tiledesk.events',
  partition: 1,
  offset: String(offset),
  timestamp: '1700000000000',
  key: Buffer.from('k'),
  value: Buffer.from(`{"id":"ev-${offset}","payload":{"n":${offset}}}`),
  headers: { 'x-a': Buffer.from([0, 255]), 'x-b': 'text' },
});
const event = (offset: number): TiledeskEvent => ({
  id: `ev-${offset}`,
  event: 'request.create',
  idProject: 'P\u00001',
  timestamp: 1_700_000_000_123,
  payload: Buffer.from(`{"n":${offset}}`),
  encoding: 'json',
});

function row(offset: number, n: number, at = Date.now()): { attempt: AttemptRow; message: () => MessageRow } {
  const rec = record(offset);
  const ev = event(offset);
  const key = messageKey(rec, ev);
  const attempt: AttemptRow = {
    attemptedAt: at,
    webhookId: `msg_${offset}`,
    messageKey: key,
    subscriptionId: 'sub-1',
    idProject: 'P1',
    subscriptionGlobal: false,
    eventName: ev.event,
    target: 'https://example.com/h',
    attempt: n,
    trigger: 'scheduled',
    result: n < 5 ? 'retryable' : 'delivered',
    reason: n < 5 ? 'http_5xx' : null,
    statusCode: n < 5 ? 503 : 200,
    durationMs: 1.5,
    error: n < 5 ? 'HTTP 503' : null,
    responseExcerpt: n < 5 ? 'busy' : 'ok',
    instance: 'host:1:abc',
  };
  return { attempt, message: () => ({ loggedAt: at, messageKey: key, event: ev, record: rec }) };
}

function writer(pool: pg.Pool, metrics: Metrics, o: { maxPending?: number; batch?: number } = {}) {
  const partitions = new LogPartitions({ pool, retentionDays: 14, clock: systemClock, logger });
  const w = new DeliveryLogWriter({
    pool,
    partitions,
    instance: 'host:1:abc',
    maxPending: o.maxPending ?? 10_000,
    batch: o.batch ?? 500,
    metrics,
    logger,
  });
  w.start();
  ends.push(() => w.stop(1_000));
  return w;
}

const count = async (table: string): Promise<number> =>
  Number((await check.query(`select count(*)::int as n from ${table}`)).rows[0].n);

describe('delivery log writer', () => {
  it('writes 1000 attempts in a few statements, each event once, fields as given', async () => {
    const metrics = freshMetrics();
    const w = writer(logPool(), metrics, { batch: 500 });
    // 200 events, five attempts each (four 503s, then a 200).
    for (let n = 1; n <= 5; n++) {
      for (let e = 0; e < 200; e++) {
        const r = row(e, n);
        w.record(r.attempt, r.message);
      }
    }
    await waitFor(async () => (await count('webhook_log_attempts')) === 1_000, { message: '1000 rows' });
    expect(await count('webhook_log_messages')).toBe(200);
    const statements = await value(
      metrics.logWriteSeconds,
      'webhook_connector_delivery_log_write_seconds_count',
    );
    expect(statements).toBeGreaterThanOrEqual(2);
    expect(statements).toBeLessThanOrEqual(4);
    expect(await value(metrics.logRows)).toBe(1_200);

    const a = (
      await check.query(
        `select webhook_id, message_key, subscription_id, id_project, event_name, target, attempt, trigger,
           result, reason, status_code, duration_ms, error, response_excerpt, instance
         from webhook_log_attempts where webhook_id = 'msg_7' order by attempt`,
      )
    ).rows;
    expect(a.map((x) => [x.attempt, x.result, x.status_code, x.response_excerpt])).toEqual([
      [1, 'retryable', 503, 'busy'],
      [2, 'retryable', 503, 'busy'],
      [3, 'retryable', 503, 'busy'],
      [4, 'retryable', 503, 'busy'],
      [5, 'delivered', 200, 'ok'],
    ]);
    expect(a[0]).toMatchObject({
      message_key: messageKey(record(7), event(7)),
      subscription_id: 'sub-1',
      id_project: 'P1',
      event_name: 'request.create',
      target: 'https://example.com/h',
      trigger: 'scheduled',
      reason: 'http_5xx',
      duration_ms: 1.5,
      error: 'HTTP 503',
      instance: 'host:1:abc',
    });
    const m = (
      await check.query(
        `select event_id, event_name, id_project, event_ts, encoding, payload, payload_at, payload_len,
           ${MESSAGE_PAYLOAD} as sent, topic, partition, record_offset::text, record_ts, record_key,
           record_value, record_headers
         from webhook_log_messages m where message_key = $1`,
        [messageKey(record(7), event(7))],
      )
    ).rows;
    expect(m).toEqual([
      {
        event_id: 'ev-7',
        event_name: 'request.create',
        id_project: Buffer.from('P\u00001'),
        event_ts: 1_700_000_000_123,
        encoding: 'json',
        // The payload is the record value's last field: the row points to it instead of storing it.
        payload: null,
        payload_at: 23,
        payload_len: 7,
        sent: Buffer.from('{"n":7}'),
        topic: 'tiledesk.events',
        partition: 1,
        record_offset: '7',
        record_ts: '1700000000000',
        record_key: Buffer.from('k'),
        record_value: Buffer.from('{"id":"ev-7","payload":{"n":7}}'),
        record_headers: {
          'x-a': [Buffer.from([0, 255]).toString('base64')],
          'x-b': [Buffer.from('text').toString('base64')],
        },
      },
    ]);
  });

  it('keeps null and empty byte fields apart (binary COPY: length -1 is null)', async () => {
    const w = writer(logPool(), freshMetrics());
    const shapes: [number, Partial<InboundRecord>, Partial<TiledeskEvent>][] = [
      [40, { key: null, value: null }, { idProject: null }],
      [41, { key: Buffer.alloc(0), value: Buffer.from([1, 2]) }, { payload: Buffer.alloc(0) }],
      [42, { key: Buffer.from('z') }, { idProject: '' }],
    ];
    for (const [offset, rec, ev] of shapes) {
      const r = row(offset, 1);
      const base = r.message();
      w.record(r.attempt, () => ({
        ...base,
        record: { ...base.record, ...rec },
        event: { ...base.event, ...ev },
      }));
    }
    const rows = await waitFor(
      async () => {
        const got = (
          await check.query(
            `select record_offset::int as o, id_project, ${MESSAGE_PAYLOAD} as payload, record_key, record_value
             from webhook_log_messages m order by record_offset`,
          )
        ).rows;
        return got.length === 3 && got;
      },
      { message: 'three message rows' },
    );
    expect(rows).toEqual([
      { o: 40, id_project: null, payload: Buffer.from('{"n":40}'), record_key: null, record_value: null },
      {
        o: 41,
        id_project: Buffer.from('P\u00001'),
        payload: Buffer.alloc(0),
        record_key: Buffer.alloc(0),
        record_value: Buffer.from([1, 2]),
      },
      {
        o: 42,
        id_project: Buffer.alloc(0),
        payload: Buffer.from('{"n":42}'),
        record_key: Buffer.from('z'),
        record_value: Buffer.from('{"id":"ev-42","payload":{"n":42}}'),
      },
    ]);
  });

  it('stores a payload once: a slice of the record value is pointed to, any other payload is stored', async () => {
    const w = writer(logPool(), freshMetrics());
    const payload = Buffer.from('{"text":"héllo ✓","n":[1,2]}');
    const shapes: [string, Buffer | null][] = [
      [
        'compact JSON, payload last',
        Buffer.concat([Buffer.from('{"id":"a","payload":'), payload, Buffer.from('}')]),
      ],
      [
        'compact JSON, payload first',
        Buffer.concat([Buffer.from('{"payload":'), payload, Buffer.from(',"id":"a"}')]),
      ],
      ['JSON with spaces', Buffer.from('{"payload": {"text": "héllo ✓", "n": [1, 2]}}')],
      ['Avro (bytes without the JSON)', Buffer.from([0, 0, 0, 0, 7, 2, 97, 4])],
      ['the payload is the whole value', Buffer.from(payload)],
      ['no value', null],
    ];
    shapes.forEach(([, value], k) => {
      const r = row(700 + k, 1);
      const base = r.message();
      w.record(r.attempt, () => ({
        ...base,
        record: { ...base.record, value },
        event: { ...base.event, payload },
      }));
    });
    const rows = await waitFor(
      async () => {
        const got = (
          await check.query<{ stored: boolean; payload: Buffer }>(
            `select payload is not null as stored, ${MESSAGE_PAYLOAD} as payload
               from webhook_log_messages m order by record_offset`,
          )
        ).rows;
        return got.length === shapes.length && got;
      },
      { message: 'six message rows' },
    );
    expect(rows.map((r) => [r.stored, r.payload.toString('utf8')])).toEqual(
      shapes.map(([, value]) => [value === null || !value.includes(payload), payload.toString('utf8')]),
    );
    expect(rows.map((r) => r.stored)).toEqual([false, false, true, true, false, true]);
  });

  it('adds an event row of a retry whose key it does not remember only if that day has none', async () => {
    const metrics = freshMetrics();
    // Another instance (or this one before a restart) logged event 800 today, and event 801 yesterday.
    const other = writer(logPool(), freshMetrics());
    const first = row(800, 1);
    other.record(first.attempt, first.message);
    const yesterday = row(801, 1, Date.now() - DAY);
    other.record(yesterday.attempt, yesterday.message);
    await waitFor(async () => (await count('webhook_log_messages')) === 2, { message: 'the first rows' });
    // This writer sees their retries by the parked runner (new event objects, attempt 2): rows unsure.
    const w = writer(logPool(), metrics);
    for (const offset of [800, 801, 802]) {
      const r = row(offset, 2);
      w.record(r.attempt, r.message, {});
    }
    await waitFor(async () => (await count('webhook_log_attempts')) === 5, { message: 'five attempts' });
    const rows = await check.query(
      `select record_offset::int as o, count(*)::int as n from webhook_log_messages group by 1 order by 1`,
    );
    // 800: already there today. 801: logged yesterday, so today's partition gets it. 802: new.
    expect(rows.rows).toEqual([
      { o: 800, n: 1 },
      { o: 801, n: 2 },
      { o: 802, n: 1 },
    ]);
    // Three attempts, two event rows added.
    expect(await value(metrics.logRows)).toBe(3 + 2);
  });

  it('encodes every batch into the same memory, and lets go of it past its bound', async () => {
    const w = writer(logPool(), freshMetrics(), { batch: 50 });
    const kept = w.encoderBytes;
    // Five batches through three sets of Buffers: reused ones are overwritten, so every row must still
    // arrive intact.
    for (let e = 0; e < 250; e++) {
      const r = row(1_000 + e, 5);
      w.record(r.attempt, r.message);
    }
    await waitFor(async () => (await count('webhook_log_messages')) === 250, { message: '250 event rows' });
    const wrong = await check.query(
      `select record_offset from webhook_log_messages m
        where ${MESSAGE_PAYLOAD} <> convert_to('{"n":' || record_offset || '}', 'UTF8')
           or event_id <> 'ev-' || record_offset`,
    );
    expect(wrong.rows).toEqual([]);
    expect(w.encoderBytes).toBe(kept);
    // One event whose record is larger than the bound: the Buffers grow for it, then are let go.
    const big = row(2_000, 5);
    const base = big.message();
    const value = Buffer.alloc(ENCODER_KEEP_BYTES + 1, 'x');
    w.record(big.attempt, () => ({ ...base, record: { ...base.record, value } }));
    await waitFor(async () => (await count('webhook_log_messages')) === 251, { message: 'the large row' });
    // Let go once written: what is held is back within the batches it started with.
    await waitFor(async () => w.encoderBytes <= kept, {
      message: 'encoder memory back within its first size',
    });
    const got = await check.query(
      `select octet_length(record_value) as n from webhook_log_messages where record_offset = 2000`,
    );
    expect(got.rows).toEqual([{ n: ENCODER_KEEP_BYTES + 1 }]);
  });

  it('compresses event rows with lz4 (004), on every partition and on ones created later', async () => {
    await check.query(`select webhook_log_ensure_partitions(current_date + 20, 1)`);
    const { rows } = await check.query<{ relname: string; methods: string }>(
      `select c.relname, string_agg(a.attcompression::text, '' order by a.attname) as methods
         from pg_class c join pg_attribute a on a.attrelid = c.oid
        where c.relname like 'webhook_log_messages%' and c.relkind in ('r', 'p') and c.relpersistence <> 't'
          and a.attname in ('payload', 'record_key', 'record_value')
        group by c.relname`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const r of rows) expect(r).toEqual({ relname: r.relname, methods: 'lll' });
  });

  it('runs its sessions with synchronous_commit off', async () => {
    expect((await logPool().query('show synchronous_commit')).rows[0].synchronous_commit).toBe('off');
  });

  it('drops and counts a batch Postgres refuses as data, whole (its event rows too), then goes on', async () => {
    const metrics = freshMetrics();
    const w = writer(logPool(), metrics);
    const bad = row(600, 1);
    // A NUL in a text column: Postgres refuses the whole batch (SQLSTATE 22P05).
    w.record({ ...bad.attempt, eventName: 'request\u0000create' }, bad.message);
    await waitFor(async () => (await value(metrics.logDropped)) === 1, { message: 'the bad batch dropped' });
    const good = row(601, 1);
    w.record(good.attempt, good.message);
    await waitFor(async () => (await count('webhook_log_attempts')) === 1, { message: 'the next row' });
    // Whole or nothing: the refused batch's event row (copied before its attempts) was rolled back too.
    const messages = await check.query('select record_offset::int as o from webhook_log_messages');
    expect(messages.rows).toEqual([{ o: 601 }]);
  });

  it('stop writes what is still queued (the shutdown drain)', async () => {
    const metrics = freshMetrics();
    const pool = logPool();
    const partitions = new LogPartitions({ pool, retentionDays: 14, clock: systemClock, logger });
    const w = new DeliveryLogWriter({
      pool,
      partitions,
      instance: 'host:1:abc',
      maxPending: 10_000,
      batch: 100,
      metrics,
      logger,
      // No timer flush before stop: only the drain can write them.
      flushIntervalMs: 3_600_000,
    });
    w.start();
    for (let e = 500; e < 550; e++) {
      const r = row(e, 1);
      w.record(r.attempt, r.message);
    }
    expect(await count('webhook_log_attempts')).toBe(0);
    await w.stop(5_000);
    expect(await count('webhook_log_attempts')).toBe(50);
    expect(await value(metrics.logDropped)).toBe(0);
  });

  it('DELIVERY_LOG=failures records only attempts without a 2xx, and their events', async () => {
    const metrics = freshMetrics();
    const log = createDeliveryLog({
      config: {
        DELIVERY_LOG: 'failures',
        DELIVERY_LOG_RETENTION_DAYS: 14,
        DELIVERY_LOG_MAX_PENDING: 1_000,
        DELIVERY_LOG_BATCH: 100,
      },
      pool: logPool(),
      instance: 'host:2:def',
      clock: systemClock,
      logger,
      metrics,
    })!;
    await log.start();
    ends.push(() => log.stop(1_000));
    const sub = {
      id: 'sub-f',
      idProject: 'P1',
      global: false,
      target: 'https://example.com/f',
    } as Subscription;
    const ok: AttemptOutcome = { kind: 'delivered', status: 204 };
    const bad: AttemptOutcome = { kind: 'permanent', reason: 'http_4xx', status: 404 };
    const res = (status: number): TransportResult => ({
      kind: 'response',
      status,
      headers: {},
      durationMs: 2,
    });
    for (let e = 100; e < 110; e++) {
      const context = {
        event: event(e),
        webhookId: `msg_${e}`,
        sentAt: Date.now(),
        origin: { record: record(e), trigger: 'manual' as const },
        exhausted: false,
      };
      // Even events fail, odd ones are delivered.
      if (e % 2 === 0) log.observe(bad, res(404), 1, sub, context);
      else log.observe(ok, res(204), 1, sub, context);
    }
    await log.stop(5_000);
    const rows = (
      await check.query('select webhook_id, status_code, trigger from webhook_log_attempts order by 1')
    ).rows;
    expect(rows).toEqual(
      [100, 102, 104, 106, 108].map((e) => ({ webhook_id: `msg_${e}`, status_code: 404, trigger: 'manual' })),
    );
    expect(await count('webhook_log_messages')).toBe(5);
  });

  it('Postgres unreachable: the queue stays bounded, the rest is dropped and counted, recording stays instant', async () => {
    const proxy = await startTcpProxy(Number(new URL(db.url).port || 5432));
    ends.push(() => proxy.close());
    const url = new URL(db.url);
    url.port = String(proxy.port);
    url.hostname = '127.0.0.1';
    const metrics = freshMetrics();
    const w = writer(logPool(url.toString()), metrics, { maxPending: 1_000, batch: 200 });
    proxy.cut();
    // A sustained burst past the bound for longer than several flush intervals (200 ms).
    let offset = 1_000;
    let slowest = 0;
    const started = Date.now();
    while (Date.now() - started < 1_500) {
      const t = performance.now();
      for (let i = 0; i < 500; i++) {
        const r = row(offset++, 1);
        w.record(r.attempt, r.message);
      }
      slowest = Math.max(slowest, performance.now() - t);
      expect(w.size).toBeLessThanOrEqual(1_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const offered = offset - 1_000;
    expect(offered).toBeGreaterThan(5_000);
    // 500 attempts recorded in well under a millisecond each, Postgres down or not.
    expect(slowest).toBeLessThan(100);
    expect(await value(metrics.logDropped)).toBe(offered - 1_000);
    expect(await value(metrics.logPending)).toBeLessThanOrEqual(1_000);
    proxy.restore();
    await waitFor(async () => (await count('webhook_log_attempts')) === 1_000, {
      timeoutMs: 20_000,
      message: 'the 1000 queued attempts written once Postgres is back',
    });
    expect(await count('webhook_log_messages')).toBe(1_000);
    expect(w.size).toBe(0);
  });

  it('Postgres stalled (table locked): bounded, counted, written once it answers again', async () => {
    const metrics = freshMetrics();
    const w = writer(logPool(), metrics, { maxPending: 500, batch: 100 });
    const locker = await check.connect();
    await locker.query('begin');
    await locker.query('lock table webhook_log_attempts in access exclusive mode');
    let offset = 20_000;
    const started = Date.now();
    while (Date.now() - started < 1_000) {
      for (let i = 0; i < 200; i++) {
        const r = row(offset++, 1);
        w.record(r.attempt, r.message);
      }
      expect(w.size).toBeLessThanOrEqual(500);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const offered = offset - 20_000;
    expect(await value(metrics.logDropped)).toBe(offered - 500);
    await locker.query('commit');
    locker.release();
    await waitFor(async () => (await count('webhook_log_attempts')) === 500, { message: '500 rows' });
  });
});

describe('delivery log partitions', () => {
  const partitionsOf = async (): Promise<string[]> =>
    (
      await check.query(
        `select c.relname from pg_inherits i join pg_class c on c.oid = i.inhrelid
          join pg_class p on p.oid = i.inhparent where p.relname = 'webhook_log_attempts' order by 1`,
      )
    ).rows.map((r) => String(r.relname));
  const name = (at: number): string => `webhook_log_attempts_p${utcDay(at).replaceAll('-', '')}`;

  it('keeps yesterday to today+2 and drops days older than the retention, both tables', async () => {
    const now = Date.now();
    await check.query('select webhook_log_ensure_partitions($1::date, 3)', [utcDay(now - 30 * DAY)]);
    await check.query('select webhook_log_ensure_partitions($1::date, 2)', [utcDay(now - 15 * DAY)]);
    await check.query(`insert into webhook_log_attempts (attempted_at, webhook_id, message_key, subscription_id,
        id_project, event_name, target, attempt, trigger, result, duration_ms, instance)
      values (now() - interval '29 days', 'msg_old', 'k', 's', 'P', 'e', 't', 1, 'scheduled', 'delivered', 1, 'i')`);
    const dropped: number[] = [];
    const p = new LogPartitions({
      pool: logPool(),
      retentionDays: 14,
      clock: systemClock,
      logger,
      onDropped: (n) => dropped.push(n),
    });
    await p.runOnce();
    const names = await partitionsOf();
    for (const d of [-30, -29, -28, -15]) expect(names).not.toContain(name(now + d * DAY));
    // 14 days back is kept (at least 14 days of log), as are yesterday..today+2.
    for (const d of [-14, -1, 0, 1, 2]) expect(names).toContain(name(now + d * DAY));
    expect(dropped).toEqual([8]);
    expect(await count('webhook_log_attempts')).toBe(0);
  });

  it('a write for a day without a partition creates it and succeeds', async () => {
    const metrics = freshMetrics();
    const w = writer(logPool(), metrics);
    const future = Date.now() + 40 * DAY;
    expect(await partitionsOf()).not.toContain(name(future));
    const r = row(30_000, 1, future);
    w.record(r.attempt, r.message);
    await waitFor(async () => (await count('webhook_log_attempts')) === 1, { message: 'the row' });
    expect(await partitionsOf()).toContain(name(future));
    expect(await count('webhook_log_messages')).toBe(1);
    expect(await value(metrics.logDropped)).toBe(0);
  });

  it('two maintainers creating the same partitions at once both succeed', async () => {
    const a = new LogPartitions({ pool: logPool(), retentionDays: 14, clock: systemClock, logger });
    const b = new LogPartitions({ pool: logPool(), retentionDays: 14, clock: systemClock, logger });
    for (let round = 0; round < 5; round++) {
      const days = Array.from({ length: 10 }, (_, i) => Date.now() + (100 + round * 10 + i) * DAY);
      await Promise.all([a.ensureDays(days), b.ensureDays([...days].reverse())]);
    }
    const names = await partitionsOf();
    for (let i = 0; i < 50; i++) expect(names).toContain(name(Date.now() + (100 + i) * DAY));
  });
});
