/**
 * Slow receivers and ordering (issue #15): a receiver answering in 200 ms keeps up with a busy project in
 * `concurrent` mode (its deliveries run in parallel); in `ordered` mode it falls behind, its lane spills to
 * the parked store in order, and the partition keeps moving for everyone else. A failing `ordered`
 * subscription that recovers gets every delivery of each key in record order.
 */
import { afterEach, beforeEach, expect, it } from '@jest/globals';
import type pg from 'pg';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import { createTopic, readToEnd, testKafka, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Answer, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

const payload = (body: string): { id: string; seq: number } =>
  (JSON.parse(body) as { payload: { id: string; seq: number } }).payload;

let db: TestDatabase;
let pool: pg.Pool;
const receivers: Receiver[] = [];
let c: TestConnector | undefined;

beforeEach(async () => {
  ({ db, pool } = await createMigratedDatabase('parked_ordering'));
});

afterEach(async () => {
  await c?.stop();
  c = undefined;
  for (const r of receivers.splice(0)) await r.close();
  await pool.end();
  await db.drop();
});

async function receiver(answer?: Answer): Promise<Receiver> {
  const r = await startReceiver(answer);
  receivers.push(r);
  return r;
}

const slow: Answer = () => ({ status: 200, delayMs: 200 });

/** Produces `count` events of `keys` (round robin) at `perSecond`, payload {id, seq}; resolves when sent. */
async function produceSteady(
  topic: string,
  count: number,
  perSecond: number,
  keys: readonly string[],
): Promise<void> {
  const producer = testKafka().producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const perTick = Math.max(1, Math.round(perSecond / 10));
    const started = Date.now();
    for (let n = 0, tick = 0; n < count; tick++) {
      const messages = [];
      for (let i = 0; i < perTick && n < count; i++, n++) {
        const key = keys[n % keys.length]!;
        messages.push({
          key,
          value: JSON.stringify({
            id: `e${n}`,
            event: 'request.create',
            id_project: key,
            timestamp: Date.now(),
            payload: { id: `e${n}`, seq: n },
          }),
        });
      }
      await producer.send({ topic, messages, acks: -1 });
      await new Promise((r) => setTimeout(r, Math.max(0, started + (tick + 1) * 100 - Date.now())));
    }
  } finally {
    await producer.disconnect();
  }
}

/** Samples the most partitions paused at once while `work` runs. */
async function maxPausedDuring(conn: TestConnector, work: Promise<unknown>): Promise<number> {
  let max = 0;
  const t = setInterval(() => {
    void conn.metric('webhook_connector_paused_partitions').then((v) => (max = Math.max(max, v)));
  }, 200);
  try {
    await work;
  } finally {
    clearInterval(t);
  }
  return max;
}

it('concurrent: a 200 ms receiver keeps up with 320 events/s of one project (deliveries in parallel)', async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  const slowOne = await receiver(async () => {
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((r) => setTimeout(r, 200));
    inFlight--;
    return { status: 200 };
  });
  await createSubscriptionStore(pool).add({
    idProject: 'P1',
    event: 'request.create',
    target: slowOne.url,
    createdBy: 't',
  });
  const topic = uniqueName('parked-slow-concurrent');
  await createTopic(topic, 4);
  c = await startConnector({ topic, groupId: uniqueName('g'), databaseUrl: db.url });
  const total = 320 * 15;
  const paused = await maxPausedDuring(
    c,
    (async () => {
      await produceSteady(topic, total, 320, ['P1']);
      await waitFor(() => new Set(slowOne.requests.map((r) => payload(r.body).id)).size === total, {
        timeoutMs: 30_000,
        message: () => `delivered ${slowOne.requests.length} of ${total}`,
      });
    })(),
  );
  expect(paused).toBe(0);
  // 320/s at 200 ms each needs ~64 in flight: the receiver saw them in parallel, not one by one.
  expect(maxInFlight).toBeGreaterThanOrEqual(50);
});

it('ordered: a 200 ms receiver falls behind, spills in order, and the partition keeps moving', async () => {
  const slowOrdered = await receiver(slow);
  const fast = await receiver();
  const store = createSubscriptionStore(pool);
  await store.add({
    idProject: 'P1',
    event: 'request.create',
    target: slowOrdered.url,
    createdBy: 't',
    ordering: 'ordered',
  });
  await store.add({ idProject: 'P1', event: 'request.create', target: fast.url, createdBy: 't' });
  const topic = uniqueName('parked-slow-ordered');
  await createTopic(topic, 1);
  c = await startConnector({
    topic,
    groupId: uniqueName('g'),
    databaseUrl: db.url,
    env: { PARTITION_MAX_IN_FLIGHT: '50', PARKED_POLL_INTERVAL_MS: '200' },
  });
  const total = 200;
  const conn = c;
  const paused = await maxPausedDuring(
    c,
    (async () => {
      await produceSteady(topic, total, 50, ['P1']);
      // The fast subscriber of the same key and partition gets everything while the slow lane lags.
      await waitFor(() => new Set(fast.requests.map((r) => payload(r.body).id)).size === total, {
        timeoutMs: 20_000,
        message: () => `fast got ${fast.requests.length} of ${total}`,
      });
      expect(slowOrdered.requests.length).toBeLessThan(total);
      expect(await conn.metric('webhook_connector_parks_total', { reason: 'spill' })).toBeGreaterThan(0);
    })(),
  );
  expect(paused).toBe(0);
  await waitFor(() => slowOrdered.requests.length >= total, {
    timeoutMs: 120_000,
    message: () => `slow ordered got ${slowOrdered.requests.length} of ${total}`,
  });
  expect(slowOrdered.requests.map((r) => payload(r.body).seq)).toEqual([...Array(total).keys()]);
});

it('ordered: a failing subscription that recovers gets each key in record order, nothing dead-lettered', async () => {
  let up = false;
  /** Seqs answered 200, in the order the receiver got them. */
  const okOrder: number[] = [];
  const ordered = await receiver((req) => {
    if (!up) return { status: 503 };
    okOrder.push(payload(req.body).seq);
    return { status: 200 };
  });
  await createSubscriptionStore(pool).add({
    idProject: 'K',
    event: 'request.create',
    target: ordered.url,
    createdBy: 't',
    ordering: 'ordered',
  });
  const topic = uniqueName('parked-ordered-recovery');
  await createTopic(topic, 2);
  c = await startConnector({
    topic,
    groupId: uniqueName('g'),
    databaseUrl: db.url,
    env: {
      RETRY_SCHEDULE: '200ms,1s,2s,3s,30s',
      RETRY_IN_PROCESS_MAX_MS: '300',
      PARKED_POLL_INTERVAL_MS: '200',
      CIRCUIT_COOLDOWN_MS: '1000',
    },
  });
  // id_project is K for all three keys (one subscription); the record key differs: three lanes.
  const keys = ['K', 'K:a', 'K:b'];
  const producer = testKafka().producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const total = 90;
  try {
    for (let n = 0; n < total; n++) {
      await producer.send({
        topic,
        acks: -1,
        messages: [
          {
            key: keys[n % 3]!,
            value: JSON.stringify({
              id: `e${n}`,
              event: 'request.create',
              id_project: 'K',
              timestamp: Date.now(),
              payload: { id: `e${n}`, seq: n },
            }),
          },
        ],
      });
    }
  } finally {
    await producer.disconnect();
  }
  const conn = c;
  await waitFor(async () => (await conn.metric('webhook_connector_parks_total')) >= total, {
    timeoutMs: 20_000,
    message: () => 'every delivery parked (failed, behind, or refused by the breaker)',
  });
  up = true;
  await waitFor(() => new Set(okOrder).size === total, {
    timeoutMs: 60_000,
    message: () => `got ${new Set(okOrder).size} of ${total}`,
  });
  for (const [k, key] of keys.entries()) {
    const firsts = [...new Set(okOrder.filter((seq) => seq % 3 === k))];
    expect({ key, firsts }).toEqual({ key, firsts: [...firsts].sort((a, b) => a - b) });
  }
  await conn.stop();
  expect(await readToEnd(`${topic}.dlq`)).toEqual([]);
});
