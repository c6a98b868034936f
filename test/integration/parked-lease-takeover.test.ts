/**
 * `kill -9` of the instance holding claims on parked deliveries (issue #15): its leases run out and
 * another instance delivers them, with their original webhook-id and body and their attempt count going
 * on; nothing is missing, nothing dead-lettered, and no delivery is attempted by two instances at once
 * (the second instance claims only after the lease).
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type pg from 'pg';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { spawnConnector, stopAllChildren } from '../support/child-connector.js';
import { createTopic, produce, readToEnd, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Receiver, type Reply } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let pool: pg.Pool;
let receiver: Receiver;
let mode: 'fail' | 'hang' | 'ok' = 'fail';

const payloadId = (body: string): string => (JSON.parse(body) as { payload: { id: string } }).payload.id;

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('parked_lease'));
  receiver = await startReceiver((): Reply =>
    mode === 'ok' ? { status: 200 } : mode === 'hang' ? { hang: true } : { status: 503 },
  );
  await createSubscriptionStore(pool).add({
    idProject: 'P1',
    event: 'request.create',
    target: receiver.url,
    createdBy: 't',
  });
});

afterAll(async () => {
  await stopAllChildren();
  await receiver?.close();
  await pool?.end();
  await db?.drop();
});

const count = async (sql: string): Promise<number> =>
  Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);

it('delivers the claims of a killed instance after their lease, once, with the same webhook-id', async () => {
  const topic = uniqueName('parked-lease');
  const groupId = uniqueName('parked-lease-group');
  await createTopic(topic, 2);
  const env = {
    RETRY_SCHEDULE: '100ms,3s,3s,3s,3s,3s,3s,3s,3s,3s',
    RETRY_IN_PROCESS_MAX_MS: '200',
    DELIVERY_TIMEOUT_MS: '4000',
    PARKED_LEASE_MS: '9000',
    PARKED_POLL_INTERVAL_MS: '200',
    // No breaker in this test: every parked delivery is claimed and attempted.
    CIRCUIT_MIN_ATTEMPTS: '100000',
  };
  const a = await spawnConnector({ name: 'A', topic, groupId, databaseUrl: db.url, env });
  await a.waitReady();
  const ids = [...Array(40).keys()].map((i) => `e${i}`);
  await produce(
    topic,
    ids.map((id) => ({
      key: id,
      value: JSON.stringify({
        id,
        event: 'request.create',
        id_project: 'P1',
        timestamp: Date.now(),
        payload: { id },
      }),
    })),
  );
  await waitFor(
    async () =>
      (await count(`select count(*) n from webhook_deliveries where state = 'parked'`)) === ids.length,
    {
      timeoutMs: 20_000,
      message: () => 'every delivery parked',
    },
  );
  const firstBodies = new Map<string, { webhookId: string; body: string; attempt: number }>();
  for (const r of receiver.requests) {
    const id = payloadId(r.body);
    const attempt = Number(r.headers['x-webhook-attempt']);
    const prev = firstBodies.get(id);
    if (!prev || attempt > prev.attempt) {
      firstBodies.set(id, { webhookId: r.headers['webhook-id']!, body: r.body, attempt });
    }
  }
  mode = 'hang';
  // A claims them when due and its attempts hang: they are A's, leased.
  await waitFor(
    async () =>
      (await count(
        `select count(*) n from webhook_deliveries where state = 'parked' and lease_until > now()`,
      )) === ids.length,
    { timeoutMs: 20_000, message: () => `A leased every parked delivery\n${a.output().slice(-3000)}` },
  );
  const leaseEnds = Number(
    (
      await pool.query<{ t: string }>(
        `select extract(epoch from min(lease_until)) * 1000 as t from webhook_deliveries where state = 'parked'`,
      )
    ).rows[0]!.t,
  );
  a.signal('SIGKILL');
  await a.exited;
  const requestsAtKill = receiver.requests.length;
  mode = 'ok';
  const b = await spawnConnector({ name: 'B', topic, groupId, databaseUrl: db.url, env });
  await b.waitReady();
  await waitFor(
    async () =>
      (await count(`select count(*) n from webhook_deliveries where state = 'delivered'`)) === ids.length,
    {
      timeoutMs: 40_000,
      message: () => `B delivered them\n${b.output().slice(-3000)}`,
    },
  );
  const after = receiver.requests.slice(requestsAtKill);
  // Nothing was attempted again before A's leases ran out: never two instances on one delivery.
  expect(Math.min(...after.map((r) => r.receivedAt))).toBeGreaterThanOrEqual(leaseEnds - 50);
  expect(await b.metric('webhook_connector_parked_lease_expiries_total')).toBe(ids.length);
  const delivered = new Map(after.map((r) => [payloadId(r.body), r]));
  expect([...delivered.keys()].sort()).toEqual([...ids].sort());
  for (const [id, r] of delivered) {
    const before = firstBodies.get(id)!;
    expect(r.headers['webhook-id']).toBe(before.webhookId);
    expect(r.body).toBe(before.body);
    expect(Number(r.headers['x-webhook-attempt'])).toBeGreaterThan(before.attempt);
  }
  b.signal('SIGTERM');
  await b.exited;
  expect(await readToEnd(`${topic}.dlq`)).toEqual([]);
});
