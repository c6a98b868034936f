/**
 * The delivery log with the real broker, Postgres and connector: every attempt of a delivery (in process,
 * then by the parked runner on a manual resend) is in webhook_log_attempts with what the receiver saw and
 * answered, its event once in webhook_log_messages; and a burst past DELIVERY_LOG_MAX_PENDING while the log
 * cannot be written is delivered at full speed, the log's excess dropped and counted.
 */
import { afterEach, expect, it } from '@jest/globals';
import { MESSAGE_PAYLOAD } from '../../src/api/store/log-sql.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import { payloadId, requestCreate } from '../support/events.js';
import { createTopic, produce, uniqueName } from '../support/kafka.js';
import { startSubscribedReceiver, type SubscribedReceiver } from '../support/subscribed-receiver.js';
import { waitFor } from '../support/wait.js';

let s: SubscribedReceiver | undefined;
let c: TestConnector | undefined;

afterEach(async () => {
  await c?.stop();
  c = undefined;
  await s?.close();
  s = undefined;
});

it('logs each attempt (in process and parked runner) with status, duration, excerpt, webhook-id, and the event once', async () => {
  // Two 503s, then 200: attempt 1 and 2 in process (100 ms apart), then parked for an hour.
  s = await startSubscribedReceiver('delivery_log_e2e', (_req, n) =>
    n <= 2 ? { status: 503, body: `busy ${n}` } : { status: 200, body: 'thanks \u00ff' },
  );
  const topic = uniqueName('dlog-e2e');
  await createTopic(topic, 1);
  c = await startConnector({
    topic,
    groupId: uniqueName('g'),
    databaseUrl: s.db.url,
    env: { RETRY_SCHEDULE: '100ms,1h,1h', RETRY_IN_PROCESS_MAX_MS: '200', PARKED_POLL_INTERVAL_MS: '100' },
  });
  await produce(topic, [{ key: 'P1', value: requestCreate('ev-log-1', { text: 'hello' }) }]);
  const parked = await waitFor(
    async () =>
      (await s!.pool.query(`select id from webhook_deliveries where state = 'parked' and attempts = 2`))
        .rows[0],
    { message: 'the delivery parked after two attempts' },
  );
  // What a resend through the API does (README "Management API"): due now, parked_reason manual.
  await s.pool.query(`update webhook_deliveries set due_at = now(), parked_reason = 'manual' where id = $1`, [
    parked.id,
  ]);
  await waitFor(() => s!.receiver.requests.length === 3, { message: 'the third attempt' });
  const seen = s.receiver.requests.map((r) => r.headers['webhook-id']);
  expect(new Set(seen).size).toBe(1);
  expect(payloadId(s.receiver.requests[0]!.body)).toBe('ev-log-1');

  const attempts = await waitFor(
    async () => {
      const rows = (
        await s!.pool.query(
          `select webhook_id, message_key, subscription_id, id_project, event_name, target, attempt, trigger,
             result, reason, status_code, duration_ms, error, response_excerpt, instance,
             extract(epoch from attempted_at) * 1000 as at
           from webhook_log_attempts order by attempt`,
        )
      ).rows;
      return rows.length === 3 && rows;
    },
    { message: 'three logged attempts' },
  );
  const sub = (await s.pool.query('select id from webhook_subscriptions')).rows[0]!.id as string;
  expect(
    attempts.map((a) => [
      a.attempt,
      a.trigger,
      a.result,
      a.reason,
      a.status_code,
      a.response_excerpt,
      a.error,
    ]),
  ).toEqual([
    // error: what went wrong without an answer (a socket error, a timeout); an answer has its status.
    [1, 'scheduled', 'retryable', 'http_5xx', 503, 'busy 1', null],
    [2, 'scheduled', 'retryable', 'http_5xx', 503, 'busy 2', null],
    [3, 'manual', 'delivered', null, 200, 'thanks \u00ff', null],
  ]);
  for (const a of attempts) {
    expect(a).toMatchObject({
      webhook_id: seen[0],
      subscription_id: sub,
      id_project: 'P1',
      event_name: 'request.create',
      target: s.receiver.url,
      instance: expect.stringMatching(/^.+:\d+:[0-9a-f]{6}$/),
    });
    expect(a.duration_ms).toBeGreaterThanOrEqual(0);
    expect(a.duration_ms).toBeLessThan(2_000);
  }
  // Sent when the receiver got them (the log's time is the send time, before the answer).
  for (const [i, a] of attempts.entries()) {
    expect(Math.abs(Number(a.at) - s.receiver.requests[i]!.receivedAt)).toBeLessThan(1_000);
  }
  const messages = (
    await s.pool.query(
      `select message_key, event_id, event_name, convert_from(id_project, 'UTF8') as id_project,
         ${MESSAGE_PAYLOAD} as payload, topic, partition, record_offset::text as record_offset
       from webhook_log_messages m`,
    )
  ).rows;
  expect(messages).toEqual([
    {
      message_key: attempts[0]!.message_key,
      event_id: 'ev-log-1',
      event_name: 'request.create',
      id_project: 'P1',
      payload: Buffer.from(JSON.stringify({ id: 'ev-log-1', text: 'hello' })),
      topic,
      partition: 0,
      record_offset: '0',
    },
  ]);
  expect(await c.metric('webhook_connector_delivery_log_rows_total', { table: 'attempts' })).toBe(3);
  expect(await c.metric('webhook_connector_delivery_log_rows_total', { table: 'messages' })).toBe(1);
});

it('a burst past DELIVERY_LOG_MAX_PENDING while the log is stalled: delivered in full, the excess counted', async () => {
  s = await startSubscribedReceiver('delivery_log_burst');
  const topic = uniqueName('dlog-burst');
  await createTopic(topic, 2);
  c = await startConnector({
    topic,
    groupId: uniqueName('g'),
    databaseUrl: s.db.url,
    env: { DELIVERY_LOG_MAX_PENDING: '100', DELIVERY_LOG_BATCH: '50' },
  });
  await waitFor(() => c!.app.readiness().ready, { message: 'connector ready' });
  // Postgres answers nothing for the log's table: every log write waits behind this lock.
  const locker = await s.pool.connect();
  try {
    await locker.query('begin');
    await locker.query('lock table webhook_log_attempts in access exclusive mode');
    const total = 2_000;
    const started = Date.now();
    // Produced over ~1 s (several flush intervals), not at once.
    for (let b = 0; b < 10; b++) {
      await produce(
        topic,
        Array.from({ length: total / 10 }, (_, i) => ({
          key: `k${i % 7}`,
          value: requestCreate(`b${b}-${i}`),
        })),
      );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await waitFor(() => new Set(s!.receiver.requests.map((r) => payloadId(r.body))).size === total, {
      timeoutMs: 30_000,
      message: () => `delivered ${s!.receiver.requests.length} of ${total}`,
    });
    const tookMs = Date.now() - started;
    // Nothing was logged yet, and at most the bound is held.
    expect(await c.metric('webhook_connector_delivery_log_rows_total', { table: 'attempts' })).toBe(0);
    expect(await c.metric('webhook_connector_delivery_log_pending')).toBeLessThanOrEqual(100);
    // Every attempt (a loaded machine may retry a few: count attempts, not events) is queued or dropped.
    await waitFor(
      async () =>
        (await c!.metric('webhook_connector_delivery_attempts_total')) -
          (await c!.metric('webhook_connector_delivery_log_dropped_total')) ===
        100,
      { message: 'attempts = 100 queued + dropped' },
    );
    expect(await c.metric('webhook_connector_delivery_attempts_total')).toBeGreaterThanOrEqual(total);
    expect(tookMs).toBeLessThan(20_000);
  } finally {
    await locker.query('commit');
    locker.release();
  }
  await waitFor(
    async () =>
      Number((await s!.pool.query('select count(*)::int as n from webhook_log_attempts')).rows[0].n) === 100,
    { message: 'the 100 queued attempts written once the lock is gone' },
  );
  // Each logged attempt's event is there once (a retried event's second attempt adds no message row).
  const keys = await s.pool.query(
    `select (select count(distinct message_key)::int from webhook_log_attempts) as attempts,
       (select count(*)::int from webhook_log_messages) as messages,
       (select count(*)::int from webhook_log_attempts a
          where not exists (select 1 from webhook_log_messages m where m.message_key = a.message_key)) as orphans`,
  );
  expect(keys.rows[0].messages).toBe(keys.rows[0].attempts);
  expect(keys.rows[0].orphans).toBe(0);
});
