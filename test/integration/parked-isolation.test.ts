/**
 * Issue #15's sustained isolation: 4 partitions, 5,040 events at a steady 84/s for 60 s, keyed by project
 * (20 projects), a healthy subscription on every project and one subscription on project P0 whose endpoint
 * fails the whole time (503 in one run, hangs in the other). The healthy subscribers receive every event
 * while the failing endpoint is still failing, none waits on it, and no partition is ever paused. Then the
 * endpoint recovers: every parked delivery arrives with its original webhook-id and body, nothing is
 * dead-lettered.
 *
 * Schedules are compressed by configuration; the failure lasts longer than the whole in-process budget,
 * the partition window's worth of P0 records (PARTITION_MAX_IN_FLIGHT is set to 100, far below the ~250
 * P0 events) and several breaker cool-downs, so a delivery that held its record would pause a partition.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { Producer } from 'kafkajs';
import type pg from 'pg';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import { createTopic, readToEnd, testKafka, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Receiver, type Reply } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

const PROJECTS = 20;
const PER_TICK = 21;
const TICK_MS = 250;
const TICKS = 240; // 60 s, 5,040 events

const payloadId = (body: string): string => (JSON.parse(body) as { payload: { id: string } }).payload.id;

describe.each([
  ['503', { status: 503 } as Reply],
  ['hung', { hang: true } as Reply],
])('a subscription whose endpoint fails (%s) for 60 s of steady load', (_name, failure) => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let healthy: Receiver;
  let failing: Receiver;
  let producer: Producer;
  let c: TestConnector | undefined;
  let failingUp = false;
  /** Payload ids the failing endpoint answered 200 to (after it recovered). */
  const answeredOk = new Set<string>();
  const topic = uniqueName('parked-isolation');

  beforeAll(async () => {
    ({ db, pool } = await createMigratedDatabase('parked_isolation'));
    healthy = await startReceiver();
    failing = await startReceiver((req) => {
      if (!failingUp) return failure;
      answeredOk.add(payloadId(req.body));
      return { status: 200 };
    });
    const store = createSubscriptionStore(pool);
    for (let p = 0; p < PROJECTS; p++) {
      await store.add({
        idProject: `P${p}`,
        event: 'request.create',
        target: `${healthy.url}/h`,
        createdBy: 't',
      });
    }
    await store.add({ idProject: 'P0', event: 'request.create', target: `${failing.url}/f`, createdBy: 't' });
    await createTopic(topic, 4);
    producer = testKafka().producer({ allowAutoTopicCreation: false });
    await producer.connect();
  });

  afterAll(async () => {
    await c?.stop();
    await producer?.disconnect();
    await healthy?.close();
    await failing?.close();
    await pool?.end();
    await db?.drop();
  });

  it('keeps every healthy delivery flowing, never pauses, then delivers every parked one', async () => {
    c = await startConnector({
      topic,
      groupId: uniqueName('parked-isolation-group'),
      databaseUrl: db.url,
      env: {
        DELIVERY_TIMEOUT_MS: '1000',
        RETRY_SCHEDULE: '300ms,2s,5s,10s,20s,20s,20s,20s,20s',
        RETRY_IN_PROCESS_MAX_MS: '500',
        PARKED_POLL_INTERVAL_MS: '200',
        PARKED_LEASE_MS: '6000',
        CIRCUIT_COOLDOWN_MS: '2000',
        PARTITION_MAX_IN_FLIGHT: '100',
      },
    });
    const producedAt = new Map<string, number>();
    let maxPaused = 0;
    const sampler = setInterval(() => {
      void c?.metric('webhook_connector_paused_partitions').then((v) => (maxPaused = Math.max(maxPaused, v)));
    }, 250);
    try {
      let n = 0;
      const started = Date.now();
      for (let tick = 0; tick < TICKS; tick++) {
        const messages = [];
        for (let i = 0; i < PER_TICK; i++, n++) {
          const project = `P${n % PROJECTS}`;
          const id = `e${n}`;
          messages.push({
            key: project,
            value: JSON.stringify({
              id,
              event: 'request.create',
              id_project: project,
              timestamp: Date.now(),
              payload: { id },
            }),
          });
          producedAt.set(id, Date.now());
        }
        await producer.send({ topic, messages, acks: -1 });
        const next = started + (tick + 1) * TICK_MS;
        await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
      }
      const total = n;
      const healthyIds = (): Set<string> => new Set(healthy.requests.map((r) => payloadId(r.body)));
      await waitFor(() => healthyIds().size === total, {
        timeoutMs: 30_000,
        message: () => `healthy received ${healthyIds().size} of ${total}`,
      });
      // Every healthy delivery arrived while the failing endpoint was still failing, and none waited on it:
      // a delivery held behind the failing one would wait out its retries (tens of seconds).
      expect(failingUp).toBe(false);
      const firstArrival = new Map<string, number>();
      for (const r of healthy.requests) {
        const id = payloadId(r.body);
        if (!firstArrival.has(id)) firstArrival.set(id, r.receivedAt);
      }
      const latencies = [...firstArrival].map(([id, at]) => at - producedAt.get(id)!).sort((a, b) => a - b);
      expect(latencies[latencies.length - 1]).toBeLessThan(10_000);
      expect(maxPaused).toBe(0);
      expect(await c.metric('webhook_connector_parks_total')).toBeGreaterThan(0);

      // Recovery: every P0 event reaches the failing subscription, with the webhook-id and body it had.
      const p0 = [...producedAt.keys()].filter((id) => Number(id.slice(1)) % PROJECTS === 0);
      failingUp = true;
      await waitFor(() => p0.every((id) => answeredOk.has(id)), {
        timeoutMs: 90_000,
        message: () => `recovered ${answeredOk.size} of ${p0.length}`,
      });
      expect([...answeredOk].sort()).toEqual([...p0].sort());
      const byWebhookId = new Map<string, Set<string>>();
      for (const r of failing.requests) {
        const wid = r.headers['webhook-id']!;
        const bodies = byWebhookId.get(wid) ?? new Set<string>();
        bodies.add(r.body);
        byWebhookId.set(wid, bodies);
      }
      expect(byWebhookId.size).toBe(p0.length);
      for (const bodies of byWebhookId.values()) expect(bodies.size).toBe(1);
      expect(maxPaused).toBe(0);
    } finally {
      clearInterval(sampler);
      await c.stop();
    }
    expect(await readToEnd(`${topic}.dlq`)).toEqual([]);
  });
});
