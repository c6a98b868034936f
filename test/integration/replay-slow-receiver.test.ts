/**
 * Issue 16 item 7: a replay whose deliveries take longer than the Kafka session timeout (kafkajs default
 * 30 s) must not be evicted from its group and start over. The receiver answers the first request after
 * 40 s (the next at once, to keep the test short): each dead letter must reach it exactly once,
 * `--since-last` must commit, and a second `--since-last` run must re-send nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { loadConfig } from '../../src/config.js';
import { buildDeadLetterRecord } from '../../src/dead-letter/dead-letter-record.js';
import { runReplayCommand } from '../../src/commands/replay.js';
import { createKafka } from '../../src/kafka/create-kafka.js';
import { createLogger } from '../../src/logger.js';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { createTransportFromConfig } from '../../src/transport/create-transport.js';
import { KAFKA_BROKERS } from '../support/env.js';
import { committedOffsets, createTopic, produce, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver } from '../support/receiver.js';

const RECEIVER_DELAY_MS = 40_000; // longer than kafkajs's default 30 s session timeout

let db: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('replay_slow'));
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

describe('replay with a receiver slower than the session timeout', () => {
  it('delivers each dead letter once, commits with --since-last, and a second run re-sends nothing', async () => {
    const r = await startReceiver((_req, n) => ({ status: 200, delayMs: n === 1 ? RECEIVER_DELAY_MS : 0 }));
    const store = createSubscriptionStore(pool);
    const sub = await store.add({ idProject: 'P1', event: 'request.create', target: r.url, createdBy: 't' });
    const groupId = uniqueName('replay-slow-group');
    const dlq = uniqueName('replay-slow-dlq');
    await createTopic(dlq, 1);
    const ids = ['slow-1', 'slow-2'];
    await produce(
      dlq,
      ids.map((id, i) => {
        const value = JSON.stringify({
          id,
          event: 'request.create',
          id_project: 'P1',
          timestamp: Date.now(),
          payload: { id },
        });
        const record = buildDeadLetterRecord(
          {
            topic: 'tiledesk.events',
            partition: 0,
            offset: String(i),
            timestamp: String(Date.now()),
            key: Buffer.from('P1'),
            value: Buffer.from(value),
            headers: {},
          },
          {
            reason: 'retries_exhausted',
            event: 'request.create',
            eventId: id,
            subscriptionId: sub.id,
            attempts: 3,
            lastAttemptAt: Date.now(),
          },
        );
        return { key: record.key, value: record.value, headers: record.headers as Record<string, string> };
      }),
    );
    const config = loadConfig({
      KAFKA_BROKERS,
      KAFKA_GROUP_ID: groupId,
      DLQ_TOPIC: dlq,
      DATABASE_URL: db.url,
      TARGET_ALLOW_CIDRS: '127.0.0.1/32',
      DELIVERY_TIMEOUT_MS: String(RECEIVER_DELAY_MS + 20_000),
      PARKED_LEASE_MS: String(RECEIVER_DELAY_MS + 25_000), // a claim outlives its attempt (config rule)
      RETRY_SCHEDULE: '', // one attempt
    });
    const lines: string[] = [];
    const run = (): Promise<number> => {
      const logger = createLogger('silent');
      return runReplayCommand(['--since-last', '--subscription', sub.id], {
        config,
        logger,
        kafka: createKafka(config, logger),
        store,
        transport: createTransportFromConfig(config),
        out: (l) => lines.push(l),
      });
    };
    try {
      const started = Date.now();
      expect(await run()).toBe(0);
      const tookMs = Date.now() - started;
      expect(tookMs).toBeGreaterThan(RECEIVER_DELAY_MS); // the slow path really ran
      expect(r.requests.map((q) => (JSON.parse(q.body) as { payload: { id: string } }).payload.id)).toEqual(
        ids,
      );
      expect(lines.at(-1)).toMatch(/read 2, matched 2, delivered 2, parked 0, failed 0/);
      expect((await committedOffsets(`${groupId}.replay`, dlq))[0]).toBe('2');

      expect(await run()).toBe(0);
      expect(r.requests).toHaveLength(ids.length);
      expect(lines.at(-1)).toMatch(/read 0/);
    } finally {
      await r.close();
    }
  }, 180_000);
});
