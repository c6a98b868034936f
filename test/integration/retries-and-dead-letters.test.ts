/**
 * Issue 3 acceptance: retries, dead letters and isolation on the real broker, Postgres and receivers.
 * One connector per test, each with its own topic, group and dead-letter topic.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type Server } from 'node:net';
import type pg from 'pg';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import type { Subscription } from '../../src/subscriptions/types.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import { committedOffsets, createTopic, produce, readAll, readToEnd, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Answer, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let pool: pg.Pool;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('retries'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await pool.query('delete from webhook_subscriptions');
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

interface Setup {
  topic: string;
  dlq: string;
  groupId: string;
  connector: TestConnector;
}

async function setup(env: Record<string, string> = {}): Promise<Setup> {
  const topic = uniqueName('retry');
  const dlq = `${topic}.dlq`;
  const groupId = uniqueName('retry-group');
  await createTopic(topic, 1);
  const connector = await startConnector({ topic, groupId, databaseUrl: db.url, env });
  cleanups.push(() => connector.stop());
  return { topic, dlq, groupId, connector };
}

async function receiver(answer?: Answer): Promise<Receiver> {
  const r = await startReceiver(answer);
  cleanups.push(() => r.close());
  return r;
}

async function subscribe(
  target: string,
  event = 'request.create',
  idProject = 'P1',
  ordering: 'concurrent' | 'ordered' = 'concurrent',
): Promise<Subscription> {
  return createSubscriptionStore(pool).add({ idProject, event, target, createdBy: 'test', ordering });
}

const event = (id: string, idProject = 'P1', name = 'request.create'): string =>
  JSON.stringify({ id, event: name, id_project: idProject, timestamp: Date.now(), payload: { id } });

describe('retries and dead letters', () => {
  it('500, 500, 200: delivered after 3 attempts with the same body, committed after the 200', async () => {
    const r = await receiver((_req, n) => ({ status: n <= 2 ? 500 : 200 }));
    await subscribe(r.url);
    const s = await setup();
    await produce(s.topic, [{ key: 'P1', value: event('e1') }]);
    await waitFor(async () => (await committedOffsets(s.groupId, s.topic))[0] === '1', {
      timeoutMs: 20_000,
      message: 'committed',
    });
    expect(r.requests.map((q) => q.headers['x-webhook-attempt'])).toEqual(['1', '2', '3']);
    expect(new Set(r.requests.map((q) => q.body)).size).toBe(1);
    expect(new Set(r.requests.map((q) => q.headers['webhook-id'])).size).toBe(1);
    expect(new Set(r.requests.map((q) => q.headers['x-hub-signature-256'])).size).toBe(1);
    expect(await s.connector.metric('webhook_connector_deliveries_total', { outcome: 'delivered' })).toBe(1);
    expect(await readToEnd(s.dlq)).toHaveLength(0);
  });

  it('a permanent 404 is dead-lettered once, with its headers, and then committed', async () => {
    const r = await receiver(() => ({ status: 404 }));
    const sub = await subscribe(`${r.url}/gone`);
    const s = await setup();
    const value = event('e404');
    await produce(s.topic, [{ key: 'P1', value, headers: { 'trace-id': 'abc' } }]);
    const [dl] = await readAll(s.dlq, { expected: 1, timeoutMs: 20_000 });
    expect(r.requests).toHaveLength(1);
    expect(dl!.key?.toString()).toBe('P1');
    expect(dl!.value?.toString()).toBe(value);
    const h = dl!.headers;
    expect(h['trace-id']).toBe('abc');
    expect(h['dlq-reason']).toBe('http_4xx');
    expect(h['dlq-subscription-id']).toBe(sub.id);
    expect(h['dlq-target']).toBe(`${r.url}/gone`);
    expect(h['dlq-attempts']).toBe('1');
    expect(h['dlq-last-status']).toBe('404');
    expect(h['dlq-event']).toBe('request.create');
    expect(h['dlq-event-id']).toBe('e404');
    expect(h['dlq-original-topic']).toBe(s.topic);
    expect(h['dlq-original-partition']).toBe('0');
    expect(h['dlq-original-offset']).toBe('0');
    expect(Number(h['dlq-original-timestamp'])).toBeGreaterThan(0);
    expect(Date.parse(String(h['dlq-first-attempt-at']))).toBeLessThanOrEqual(
      Date.parse(String(h['dlq-last-attempt-at'])),
    );
    expect(JSON.stringify(h)).not.toContain(sub.secret);
    await waitFor(async () => (await committedOffsets(s.groupId, s.topic))[0] === '1', {
      timeoutMs: 10_000,
      message: 'committed after the dead letter',
    });
    expect(await readToEnd(s.dlq)).toHaveLength(1); // once: no second dead letter
  });

  it('503 until retries are exhausted: dead-lettered with the attempt count', async () => {
    const r = await receiver(() => ({ status: 503 }));
    await subscribe(r.url);
    const s = await setup({ RETRY_SCHEDULE: '100ms,400ms,1s' });
    await produce(s.topic, [{ key: 'P1', value: event('e503') }]);
    const [dl] = await readAll(s.dlq, { expected: 1, timeoutMs: 30_000 });
    expect(dl!.headers['dlq-reason']).toBe('retries_exhausted');
    expect(dl!.headers['dlq-attempts']).toBe('4');
    expect(dl!.headers['dlq-last-status']).toBe('503');
    expect(r.requests).toHaveLength(4);
    await waitFor(async () => (await committedOffsets(s.groupId, s.topic))[0] === '1', {
      timeoutMs: 10_000,
      message: 'committed',
    });
  });

  it('retries a timeout and a refused connection, and waits for Retry-After: 2', async () => {
    // Timeout on the first attempt, then Retry-After: 2 on the second, then success.
    const hung = await receiver((_req, n) =>
      n === 1 ? { hang: true } : n === 2 ? { status: 503, headers: { 'retry-after': '2' } } : { status: 200 },
    );
    // A port with nothing listening: refused, then a server appears on it.
    const probe: Server = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await subscribe(hung.url);
    await subscribe(`http://127.0.0.1:${port}/late`);
    const s = await setup({
      DELIVERY_TIMEOUT_MS: '1000',
      RETRY_SCHEDULE: '300ms,1s,1s,1s,1s,1s,1s,1s,1s',
    });
    await produce(s.topic, [{ key: 'P1', value: event('eT') }]);
    await waitFor(() => hung.requests.length >= 3, {
      timeoutMs: 20_000,
      message: 'three attempts at the hung receiver',
    });
    const gap = hung.requests[2]!.receivedAt - hung.requests[1]!.receivedAt;
    expect(gap).toBeGreaterThanOrEqual(1_900);
    expect(gap).toBeLessThan(4_000);
    // The refused target has been retried meanwhile; now start a receiver on its port.
    await waitFor(
      async () =>
        (await s.connector.metric('webhook_connector_delivery_attempts_total', {
          result: 'retryable',
          status_class: 'none',
        })) >= 3,
      {
        timeoutMs: 10_000,
        message: 'connection refused retried',
      },
    );
    const late = await startReceiver(undefined, port);
    cleanups.push(() => late.close());
    await waitFor(async () => (await committedOffsets(s.groupId, s.topic))[0] === '1', {
      timeoutMs: 30_000,
      message: 'both delivered and committed',
    });
    expect(late.requests).toHaveLength(1);
    expect(Number(late.requests[0]!.headers['x-webhook-attempt'])).toBeGreaterThan(1);
    expect(await readToEnd(s.dlq)).toHaveLength(0);
  });

  it('dead-letters a poison record with its reason and delivers the records after it', async () => {
    const r = await receiver();
    await subscribe(r.url);
    const s = await setup();
    await produce(s.topic, [
      { key: 'P1', value: '{not json' },
      {
        key: 'P1',
        value: JSON.stringify({
          event: 'request.create',
          id_project: 'P1',
          timestamp: 'yesterday',
          payload: {},
        }),
      },
      { key: 'P1', value: Buffer.from([0xff, 0xfe, 0x7b]) },
      { key: 'P1', value: event('after-poison') },
    ]);
    await waitFor(() => r.requests.length === 1, {
      timeoutMs: 20_000,
      message: 'the good record is delivered',
    });
    const dls = await readAll(s.dlq, { expected: 3, timeoutMs: 10_000 });
    // Poison records have no lane: their dead letters may be written in any order.
    const byOffset = new Map(dls.map((d) => [d.headers['dlq-original-offset'], d]));
    expect([0, 1, 2].map((o) => byOffset.get(String(o))?.headers['dlq-reason'])).toEqual([
      'undecodable',
      'invalid',
      'undecodable',
    ]);
    expect(byOffset.get('1')!.headers['dlq-error']).toMatch(/timestamp/);
    expect(byOffset.get('0')!.value?.toString()).toBe('{not json');
    await waitFor(async () => (await committedOffsets(s.groupId, s.topic))[0] === '4', {
      timeoutMs: 10_000,
      message: 'all committed',
    });
    expect(await s.connector.metric('webhook_connector_events_poison_total', { reason: 'undecodable' })).toBe(
      2,
    );
  });

  it('isolation: an ordered receiver that never answers does not hold up a healthy one on the same partition', async () => {
    const hung = await receiver(() => ({ hang: true }));
    const healthy = await receiver();
    // Ordered: its deliveries of key P1 wait for the first one (a concurrent one would be attempted for
    // every event at once, see parked-isolation.test.ts).
    await subscribe(hung.url, 'request.create', 'P1', 'ordered');
    await subscribe(healthy.url);
    const s = await setup({
      DELIVERY_TIMEOUT_MS: '3000',
      RETRY_SCHEDULE: '1s,1s,1s,1s,1s',
    });
    const n = 50;
    await produce(
      s.topic,
      Array.from({ length: n }, (_, i) => ({ key: 'P1', value: event(`iso-${i}`) })),
    );
    await waitFor(() => healthy.requests.length === n, {
      timeoutMs: 15_000,
      message: 'healthy receiver got every event',
    });
    // The hung subscriber is still on its first event's retries: its lane keeps order, nothing is dead-lettered yet.
    expect(hung.requests.length).toBeLessThan(6);
    expect(new Set(hung.requests.map((q) => q.headers['webhook-id'])).size).toBe(1);
    expect(await readToEnd(s.dlq)).toHaveLength(0);
    // Nothing is committed past the first event while its hung delivery is unfinished.
    await s.connector.app.consumer.commit();
    expect(Number((await committedOffsets(s.groupId, s.topic))[0] ?? '-1')).toBeLessThan(1);
  });

  it('isolation across keys: a hung receiver takes only its own share of the in-flight limit', async () => {
    const hung = await receiver(() => ({ hang: true }));
    const healthy = await receiver();
    await subscribe(hung.url);
    await subscribe(healthy.url);
    // Every event its own key (its own lane): without a per-receiver limit the hung receiver would hold
    // all 8 global slots until its attempts time out, and the healthy one would wait.
    const s = await setup({
      DELIVERY_TIMEOUT_MS: '20000',
      DELIVERY_CONCURRENCY: '8',
      HTTP_CONNECTIONS_PER_ORIGIN: '4',
    });
    const n = 40;
    await produce(
      s.topic,
      Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: event(`iso-key-${i}`) })),
    );
    await waitFor(() => healthy.requests.length === n, {
      timeoutMs: 12_000,
      message: 'healthy receiver got every event before the hung attempts time out',
    });
    expect(hung.requests.length).toBeLessThanOrEqual(4);
  });
});
