/**
 * Delivery guarantees, acceptance: `kill -9` of the service while many deliveries are in flight loses
 * nothing. The service runs as a child process (as in production); a second one with the same group
 * takes over from the last commit, and every (event, subscription) pair must end up answered 2xx by its
 * receiver or in the dead-letter topic. Duplicates are allowed (at-least-once) and printed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import {
  accountFor,
  deadLetteredPairs,
  spawnConnector,
  startLedgerReceiver,
  stopAllChildren,
  tail,
  type ChildConnector,
  type LedgerReceiver,
} from '../support/child-connector.js';
import { committedOffsets, createTopic, deleteTopics, produce, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { waitFor } from '../support/wait.js';

const EVENTS = 1_000;
const PARTITIONS = 4;
/** Few keys: deliveries are ordered per (key, subscription) lane, so 8 keys × 3 subscriptions keep ~24 lanes busy for seconds. */
const KEYS = 8;

const topic = uniqueName('crash');
const dlq = `${topic}.dlq`;
const groupId = uniqueName('crash-group');
let db: TestDatabase;
let pool: pg.Pool;
const receivers: LedgerReceiver[] = [];
const subscriptionIds: string[] = [];

/** 20–50 ms per answer, so work is in flight when the process dies. */
const slowish = (): number => 20 + Math.floor(Math.random() * 30);

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('crash_no_loss'));
  await createTopic(topic, PARTITIONS);
  const store = createSubscriptionStore(pool);
  const scripts = {
    // Always 2xx.
    steady: () => ({ status: 200, delayMs: slowish() }),
    // ~10% of requests get a 500: retried until a 2xx.
    flaky: () => ({ status: Math.random() < 0.1 ? 500 : 200, delayMs: slowish() }),
    // A permanent 404 for every event whose number ends in 7: dead-lettered at once.
    picky: ({ eventId }: { eventId: string }) => ({
      status: eventId.endsWith('7') ? 404 : 200,
      delayMs: slowish(),
    }),
  };
  for (const [name, script] of Object.entries(scripts)) {
    const r = await startLedgerReceiver(script);
    receivers.push(r);
    const sub = await store.add({
      idProject: 'P1',
      event: 'request.create',
      target: `${r.url}/${name}`,
      createdBy: 'crash-test',
    });
    subscriptionIds.push(sub.id);
  }
});

afterAll(async () => {
  await stopAllChildren();
  await Promise.all(receivers.map((r) => r.close()));
  await pool?.end();
  await db?.drop();
  await deleteTopics(topic, dlq).catch(() => undefined);
});

const spawn = (name: string): Promise<ChildConnector> =>
  spawnConnector({
    name,
    topic,
    groupId,
    dlqTopic: dlq,
    databaseUrl: db.url,
    env: {
      KAFKA_SESSION_TIMEOUT_MS: '6000', // the dead member's partitions are reassigned after this
      // 10 attempts: 50 ms doubling to a 200 ms cap.
      RETRY_SCHEDULE: '50ms,100ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms',
      DELIVERY_TIMEOUT_MS: '5000',
      // The killed instance's claims on parked deliveries (a slow subscriber's spill) go to the restarted
      // one after their lease: 10 s, not the default minute.
      PARKED_LEASE_MS: '10000',
      COMMIT_INTERVAL_MS: '200',
      // A small window, so partitions fill up, pause and resume while the process dies.
      PARTITION_MAX_IN_FLIGHT: '100',
    },
  });

const sum = (offsets: Partial<Record<number, string>>): number =>
  Object.values(offsets).reduce((n, o) => n + Number(o), 0);

describe('crash: kill -9 with deliveries in flight', () => {
  it('a restarted instance redelivers what was not committed: every delivery is 2xx or dead-lettered', async () => {
    const eventIds = Array.from({ length: EVENTS }, (_, i) => `ev-${i}`);
    await produce(
      topic,
      eventIds.map((id, i) => ({
        partition: i % PARTITIONS,
        key: `K${i % KEYS}`,
        value: JSON.stringify({
          id,
          event: 'request.create',
          id_project: 'P1',
          timestamp: Date.now(),
          payload: { id, n: i },
        }),
      })),
    );
    const pairs = EVENTS * subscriptionIds.length;
    const answered = (): number => receivers.reduce((n, r) => n + r.okCount(), 0);
    const started = Date.now();

    const first = await spawn('crash-first');
    await waitFor(() => answered() >= pairs * 0.3, {
      timeoutMs: 60_000,
      intervalMs: 10,
      message: () => `30% of the deliveries answered (${answered()}/${pairs})\n${tail(first.output())}`,
    });
    first.signal('SIGKILL');
    const killedAt = Date.now();
    expect(await first.exited).toEqual({ code: null, signal: 'SIGKILL' });
    const answeredAtKill = answered();
    const committedAtKill = await committedOffsets(groupId, topic);
    // Really mid-stream: much was still to do, and commits had not reached the end.
    expect(answeredAtKill).toBeLessThan(pairs * 0.8);
    expect(sum(committedAtKill)).toBeLessThan(EVENTS);

    const second = await spawn('crash-second');
    const drained = await waitFor(
      async () => {
        const c = await committedOffsets(groupId, topic);
        return sum(c) === EVENTS && c;
      },
      {
        timeoutMs: 90_000,
        intervalMs: 250,
        message: () => `everything committed after the restart\n${tail(second.output())}`,
      },
    );
    expect(drained).toEqual({ 0: '250', 1: '250', 2: '250', 3: '250' });
    // Committed = every delivery delivered, dead-lettered or parked: the parked ones (a slow subscriber's
    // spill) are delivered by the runner, after their record's commit.
    await waitFor(async () => (await parkedCount(pool)) === 0, {
      timeoutMs: 90_000,
      intervalMs: 250,
      message: () => `parked deliveries drained\n${tail(second.output())}`,
    });
    const drainedAt = Date.now();

    const deadLettered = await deadLetteredPairs(dlq);
    const result = accountFor(
      eventIds,
      subscriptionIds,
      receivers.map((r) => r.delivered),
      deadLettered,
    );
    console.log(
      `crash-no-loss: ${pairs} deliveries (${EVENTS} events × ${subscriptionIds.length} subscriptions); ` +
        `kill -9 after ${killedAt - started} ms with ${answeredAtKill} answered 2xx and committed ${JSON.stringify(committedAtKill)}; ` +
        `restart drained in ${drainedAt - killedAt} ms. delivered ${result.delivered}, dead-lettered ${result.deadLettered}, ` +
        `missing ${result.missing.length}, duplicated pairs ${result.duplicated} (extra deliveries ${result.extraDeliveries}; e.g. ${result.duplicateSample.join(', ')})`,
    );
    expect(result.missing).toEqual([]);
    // The dead letters are exactly the picky receiver's 404s (retries of the flaky one always end in a 2xx).
    const picky = subscriptionIds[2]!;
    expect([...deadLettered.keys()].sort()).toEqual(
      eventIds
        .filter((id) => id.endsWith('7'))
        .map((id) => `${id}|${picky}`)
        .sort(),
    );

    second.signal('SIGTERM');
    expect((await second.exited).code).toBe(0);
  });
});

async function parkedCount(p: pg.Pool): Promise<number> {
  const r = await p.query<{ n: string }>(`select count(*) n from webhook_deliveries where state = 'parked'`);
  return Number(r.rows[0]!.n);
}
