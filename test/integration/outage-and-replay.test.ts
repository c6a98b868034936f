/**
 * Issue 3 acceptance: a Postgres outage is ours, not the receivers' (deliveries continue from the
 * snapshot, nothing is dead-lettered, it heals); replay re-sends dead letters once the receiver is fixed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { createLogger } from '../../src/logger.js';
import { createKafka } from '../../src/kafka/create-kafka.js';
import { runReplayCommand } from '../../src/commands/replay.js';
import { migrate } from '../../src/subscriptions/migrate.js';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { createTransport } from '../../src/transport/create-transport.js';
import { startConnector } from '../support/connector.js';
import { committedOffsets, createTopic, produce, readAll, readToEnd, uniqueName } from '../support/kafka.js';
import { PG_ADMIN_URL } from '../support/env.js';
import { createTestDatabase, testClient, testPool, type TestDatabase } from '../support/pg.js';
import { startReceiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let pool: pg.Pool;
let admin: pg.Client;
const dbName = (url: string): string => new URL(url).pathname.slice(1);

beforeAll(async () => {
  db = await createTestDatabase('outage');
  pool = testPool(db.url, 'outage'); // its clients are terminated on purpose below
  await migrate(pool);
  admin = testClient(PG_ADMIN_URL, 'outage-admin');
  await admin.connect();
});
afterAll(async () => {
  await admin.query(`alter database "${dbName(db.url)}" allow_connections true`).catch(() => undefined);
  await admin.end();
  await pool.end();
  await db.drop();
});

const event = (id: string): string =>
  JSON.stringify({ id, event: 'request.create', id_project: 'P1', timestamp: Date.now(), payload: { id } });

describe('Postgres outage', () => {
  it('keeps delivering from the snapshot, dead-letters nothing, pauses past the staleness bound and recovers', async () => {
    const r = await startReceiver();
    await createSubscriptionStore(pool).add({
      idProject: 'P1',
      event: 'request.create',
      target: r.url,
      createdBy: 't',
    });
    const topic = uniqueName('outage');
    const groupId = uniqueName('outage-group');
    await createTopic(topic, 1);
    const c = await startConnector({
      topic,
      groupId,
      databaseUrl: db.url,
      env: { SUBSCRIPTIONS_MAX_STALENESS_MS: '6000', SUBSCRIPTIONS_RESYNC_INTERVAL_MS: '1000' },
    });
    try {
      await produce(topic, [{ key: 'P1', value: event('before') }]);
      await waitFor(() => r.requests.length === 1, {
        timeoutMs: 15_000,
        message: 'delivered before the outage',
      });

      // The outage: no new connections, and every existing backend of that database terminated.
      const name = dbName(db.url);
      await admin.query(`alter database "${name}" allow_connections false`);
      await admin.query(
        `select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()`,
        [name],
      );

      await produce(topic, [
        { key: 'P1', value: event('during-1') },
        { key: 'P1', value: event('during-2') },
      ]);
      await waitFor(() => r.requests.length === 3, {
        timeoutMs: 10_000,
        message: 'delivered from the snapshot during the outage',
      });

      // Past the staleness bound the service pauses and says it is not ready; events wait, uncommitted.
      await waitFor(() => !c.app.readiness().ready, {
        timeoutMs: 15_000,
        message: 'not ready once the snapshot is stale',
      });
      await produce(topic, [{ key: 'P1', value: event('while-paused') }]);
      await waitFor(
        async () => (await c.metric('webhook_connector_consumer_lag', { topic, partition: '0' })) > 0,
        {
          timeoutMs: 10_000,
          message: 'lag grows while paused',
        },
      );
      expect(r.requests).toHaveLength(3);

      await admin.query(`alter database "${name}" allow_connections true`);
      await waitFor(() => c.app.readiness().ready, { timeoutMs: 20_000, message: 'ready again' });
      await waitFor(() => r.requests.length === 4, {
        timeoutMs: 15_000,
        message: 'the paused event is delivered',
      });
      await waitFor(async () => (await committedOffsets(groupId, topic))[0] === '4', {
        timeoutMs: 10_000,
        message: 'all committed',
      });
      expect(await readToEnd(`${topic}.dlq`)).toHaveLength(0);
      expect(await c.metric('webhook_connector_dead_letters_total')).toBe(0);
    } finally {
      await c.stop();
      await r.close();
    }
  });
});

describe('replay', () => {
  it('re-sends dead letters after the receiver is fixed; dry-run sends nothing; --since-last never twice', async () => {
    let broken = true;
    const r = await startReceiver(() => ({ status: broken ? 500 : 200 }));
    const store = createSubscriptionStore(pool);
    await pool.query('delete from webhook_subscriptions');
    const sub = await store.add({ idProject: 'P1', event: 'request.create', target: r.url, createdBy: 't' });
    const topic = uniqueName('replay');
    const groupId = uniqueName('replay-group');
    await createTopic(topic, 1);
    const c = await startConnector({
      topic,
      groupId,
      databaseUrl: db.url,
      env: { RETRY_SCHEDULE: '50ms' },
    });
    try {
      await produce(topic, [
        { key: 'P1', value: event('r1') },
        { key: 'P1', value: event('r2') },
        { key: 'P1', value: event('r3') },
      ]);
      await readAll(`${topic}.dlq`, { expected: 3, timeoutMs: 20_000 });
    } finally {
      await c.stop();
    }
    const firstIds = new Set(r.requests.map((q) => q.headers['webhook-id']));
    expect(firstIds.size).toBe(3);
    broken = false;
    const before = r.requests.length;
    const lines: string[] = [];
    const run = async (...args: string[]): Promise<number> => {
      const logger = createLogger('silent');
      const config = { ...c.config };
      return runReplayCommand(args, {
        config,
        logger,
        kafka: createKafka(config, logger),
        store,
        transport: createTransport('undici', {
          timeoutMs: 2_000,
          connectionsPerOrigin: 4,
          maxResponseBytes: 1024,
          allowCidrs: ['127.0.0.1/32'],
        }),
        out: (l) => lines.push(l),
      });
    };

    expect(await run('--dry-run')).toBe(0);
    expect(r.requests).toHaveLength(before);
    expect(lines.filter((l) => l.startsWith('would replay'))).toHaveLength(3);

    expect(await run('--since-last', '--subscription', sub.id)).toBe(0);
    const replayed = r.requests.slice(before);
    expect(replayed).toHaveLength(3);
    // Same idempotency keys as the failed attempts, so a receiver can deduplicate.
    expect(new Set(replayed.map((q) => q.headers['webhook-id']))).toEqual(firstIds);

    expect(await run('--since-last', '--subscription', sub.id)).toBe(0);
    expect(r.requests).toHaveLength(before + 3);
    expect(lines.at(-1)).toMatch(/read 0/);
    await r.close();
  });
});
