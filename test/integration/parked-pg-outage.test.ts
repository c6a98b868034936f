/**
 * Our outage stays ours (issue #15): Postgres becomes unreachable for the connector (a TCP proxy in front
 * of it is cut: every connection dropped, new ones refused) while a receiver fails. Deliveries that should
 * park stay in process, their records uncommitted; nothing is dead-lettered for the outage. When Postgres
 * is back, they park; when the receiver recovers, every one arrives: 0 missing, 0 dead letters.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type pg from 'pg';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import { createTopic, produce, readToEnd, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { startTcpProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let pool: pg.Pool;
let receiver: Receiver;
let proxy: TcpProxy;
let c: TestConnector | undefined;
let up = false;
const answeredOk = new Set<string>();

const payloadId = (body: string): string => (JSON.parse(body) as { payload: { id: string } }).payload.id;

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('parked_pg_outage'));
  receiver = await startReceiver((req) => {
    if (!up) return { status: 503 };
    answeredOk.add(payloadId(req.body));
    return { status: 200 };
  });
  await createSubscriptionStore(pool).add({
    idProject: 'P1',
    event: 'request.create',
    target: receiver.url,
    createdBy: 't',
  });
  proxy = await startTcpProxy(Number(new URL(db.url).port || 5432));
});

afterAll(async () => {
  await c?.stop();
  await proxy?.close();
  await receiver?.close();
  await pool?.end();
  await db?.drop();
});

it('keeps deliveries in process while Postgres is down, parks them when it is back, loses none', async () => {
  const topic = uniqueName('parked-pg-outage');
  await createTopic(topic, 2);
  const viaProxy = new URL(db.url);
  viaProxy.port = String(proxy.port);
  c = await startConnector({
    topic,
    groupId: uniqueName('parked-pg-outage-group'),
    databaseUrl: viaProxy.toString(),
    env: {
      RETRY_SCHEDULE: '100ms,2s,3s,20s,20s',
      RETRY_IN_PROCESS_MAX_MS: '200',
      PARKED_POLL_INTERVAL_MS: '200',
      CIRCUIT_COOLDOWN_MS: '1000',
    },
  });
  const conn = c;
  proxy.cut();
  const ids = [...Array(60).keys()].map((i) => `e${i}`);
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
  // Deliveries failed and could not park: they wait in process.
  await waitFor(async () => (await conn.metric('webhook_connector_park_failures_total')) >= ids.length, {
    timeoutMs: 20_000,
    message: () => `park failures while Postgres is down\n${conn.logs.slice(-10).join('')}`,
  });
  await new Promise((r) => setTimeout(r, 3_000));
  expect(await conn.metric('webhook_connector_dead_letters_total')).toBe(0);
  proxy.restore();
  await waitFor(
    async () =>
      Number((await pool.query<{ n: string }>(`select count(*) n from webhook_deliveries`)).rows[0]!.n) ===
      ids.length,
    {
      timeoutMs: 30_000,
      message: () => `every delivery parked once Postgres was back\n${conn.logs.slice(-10).join('')}`,
    },
  );
  up = true;
  await waitFor(() => ids.every((id) => answeredOk.has(id)), {
    timeoutMs: 40_000,
    message: () => `delivered ${answeredOk.size} of ${ids.length}`,
  });
  await conn.stop();
  expect(await readToEnd(`${topic}.dlq`)).toEqual([]);
});
