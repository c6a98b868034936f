/**
 * Endpoint health end to end (issue #15), on the real connector: `410 Gone` disables a subscription at
 * once; a subscription failing continuously past SUBSCRIPTION_DISABLE_AFTER_MS (compressed) is disabled and
 * its parked deliveries are dead-lettered with reason `subscription_disabled`; the circuit breaker opens,
 * lets one probe through per cool-down, and closes when the receiver is back.
 */
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import type pg from 'pg';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import { createTopic, produce, readToEnd, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Answer, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let pool: pg.Pool;
let receiver: Receiver | undefined;
let c: TestConnector | undefined;

beforeEach(async () => {
  ({ db, pool } = await createMigratedDatabase('parked_health'));
});

afterEach(async () => {
  await c?.stop();
  c = undefined;
  await receiver?.close();
  await pool.end();
  await db.drop();
});

async function setup(answer: Answer, env: Record<string, string>): Promise<{ topic: string; subId: string }> {
  receiver = await startReceiver(answer);
  const sub = await createSubscriptionStore(pool).add({
    idProject: 'P1',
    event: 'request.create',
    target: receiver.url,
    createdBy: 't',
  });
  const topic = uniqueName('parked-health');
  await createTopic(topic, 1);
  c = await startConnector({ topic, groupId: uniqueName('g'), databaseUrl: db.url, env });
  return { topic, subId: sub.id };
}

const events = (n: number, from = 0): { key: string; value: string }[] =>
  [...Array(n).keys()].map((i) => {
    const id = `e${from + i}`;
    return {
      key: 'P1',
      value: JSON.stringify({
        id,
        event: 'request.create',
        id_project: 'P1',
        timestamp: Date.now(),
        payload: { id },
      }),
    };
  });

async function subscriptionRow(id: string): Promise<{ enabled: boolean; disabled_reason: string | null }> {
  const r = await pool.query<{ enabled: boolean; disabled_reason: string | null }>(
    'select enabled, disabled_reason from webhook_subscriptions where id = $1',
    [id],
  );
  return r.rows[0]!;
}

it('410 Gone disables the subscription at once, with the reason', async () => {
  const { topic, subId } = await setup(() => ({ status: 410 }), {});
  await produce(topic, events(3));
  await waitFor(async () => !(await subscriptionRow(subId)).enabled, { timeoutMs: 15_000 });
  expect(await subscriptionRow(subId)).toEqual({ enabled: false, disabled_reason: 'gone' });
  await waitFor(
    async () => (await c!.metric('webhook_connector_subscriptions_disabled_total', { reason: 'gone' })) === 1,
    {
      timeoutMs: 5_000,
    },
  );
  // Disabled: once the snapshot has it (LISTEN/NOTIFY), later events are not sent to it.
  await waitFor(async () => (await c!.metric('webhook_connector_subscriptions_cached')) === 0, {
    timeoutMs: 5_000,
  });
  const before = receiver!.requests.length;
  await produce(topic, events(5, 100));
  await new Promise((r) => setTimeout(r, 1_500));
  expect(receiver!.requests.length).toBe(before);
});

it('failing past SUBSCRIPTION_DISABLE_AFTER_MS disables it and dead-letters its parked deliveries', async () => {
  const { topic, subId } = await setup(() => ({ status: 503 }), {
    SUBSCRIPTION_DISABLE_AFTER_MS: '3000',
    RETRY_SCHEDULE: '100ms,1h',
    RETRY_IN_PROCESS_MAX_MS: '200',
    PARKED_POLL_INTERVAL_MS: '200',
  });
  await produce(topic, events(10));
  await waitFor(async () => !(await subscriptionRow(subId)).enabled, { timeoutMs: 20_000 });
  expect((await subscriptionRow(subId)).disabled_reason).toBe('failing');
  await waitFor(
    async () =>
      Number(
        (await pool.query<{ n: string }>(`select count(*) n from webhook_deliveries where state = 'dead'`))
          .rows[0]!.n,
      ) === 10,
    { timeoutMs: 15_000, message: () => `parked deliveries dead-lettered\n${c!.logs.slice(-10).join('')}` },
  );
  await c!.stop();
  const dead = await readToEnd(`${topic}.dlq`);
  expect(dead).toHaveLength(10);
  expect(new Set(dead.map((r) => r.headers['dlq-reason']))).toEqual(new Set(['subscription_disabled']));
});

it('the breaker opens, probes once per cool-down, and closes when the receiver is back', async () => {
  let up = false;
  const { topic } = await setup(() => (up ? { status: 200 } : { status: 503 }), {
    CIRCUIT_MIN_ATTEMPTS: '5',
    CIRCUIT_FAILURE_PERCENT: '70',
    CIRCUIT_COOLDOWN_MS: '1000',
    RETRY_SCHEDULE: '100ms,500ms,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s,1s',
    RETRY_IN_PROCESS_MAX_MS: '200',
    PARKED_POLL_INTERVAL_MS: '100',
  });
  const conn = c!;
  await produce(topic, events(50));
  await waitFor(
    async () => (await conn.metric('webhook_connector_circuit_transitions_total', { to: 'open' })) >= 1,
    {
      timeoutMs: 15_000,
    },
  );
  await waitFor(async () => (await conn.metric('webhook_connector_parks_total', { reason: 'circuit' })) > 0, {
    timeoutMs: 15_000,
  });
  // While open: about one probe per cool-down, not one attempt per delivery.
  const openedAt = receiver!.requests.length;
  await new Promise((r) => setTimeout(r, 4_000));
  const during = receiver!.requests.length - openedAt;
  expect(during).toBeLessThanOrEqual(8);
  expect(
    await conn.metric('webhook_connector_circuit_transitions_total', { to: 'half_open' }),
  ).toBeGreaterThanOrEqual(1);
  up = true;
  await waitFor(
    async () => (await conn.metric('webhook_connector_circuit_transitions_total', { to: 'closed' })) >= 1,
    {
      timeoutMs: 15_000,
    },
  );
  const ids = (): Set<string> =>
    new Set(
      receiver!.requests
        .filter(() => up)
        .map((r) => (JSON.parse(r.body) as { payload: { id: string } }).payload.id),
    );
  await waitFor(
    async () => (await conn.metric('webhook_connector_deliveries_total', { outcome: 'delivered' })) === 50,
    {
      timeoutMs: 30_000,
      message: () => `delivered: ${ids().size}`,
    },
  );
});
