/**
 * Issue 16 item 1: a Postgres restart or failover terminates every connection at any moment. The service
 * runs as a child process (an unhandled 'error' event from pg would kill it, as in production) while
 * events flow and subscriptions change, and every backend of its database is terminated every 500 ms for
 * 12 s: its pool's idle and busy clients, the LISTEN connection, the snapshot reloads in flight.
 * It must stay up, deliver every (event, subscription) pair (the snapshot keeps serving meanwhile),
 * dead-letter nothing, and pick up a subscription added after the storm (LISTEN restored, snapshot fresh).
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
  type LedgerReceiver,
} from '../support/child-connector.js';
import { PG_ADMIN_URL } from '../support/env.js';
import {
  committedOffsets,
  createTopic,
  deleteTopics,
  produce,
  readToEnd,
  uniqueName,
} from '../support/kafka.js';
import { createMigratedDatabase, testClient, type TestDatabase } from '../support/pg.js';
import { waitFor } from '../support/wait.js';

const PARTITIONS = 2;
const STORM_MS = 12_000;
const TERMINATE_EVERY_MS = 500;
const SERVICE = 'tiledesk-webhook-connector';

const topic = uniqueName('pg-chaos');
const dlq = `${topic}.dlq`;
const groupId = uniqueName('pg-chaos-group');
let db: TestDatabase;
let pool: pg.Pool;
let admin: pg.Client;
const receivers: LedgerReceiver[] = [];
const subscriptionIds: string[] = [];

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('pg_chaos'));
  admin = testClient(PG_ADMIN_URL, 'pg-chaos-terminator');
  await admin.connect();
  await createTopic(topic, PARTITIONS);
  const store = createSubscriptionStore(pool);
  for (const name of ['a', 'b']) {
    const r = await startLedgerReceiver(() => ({ status: 200, delayMs: Math.floor(Math.random() * 10) }));
    receivers.push(r);
    const sub = await store.add({
      idProject: 'P1',
      event: 'request.create',
      target: `${r.url}/${name}`,
      createdBy: 'pg-chaos',
    });
    subscriptionIds.push(sub.id);
  }
});

afterAll(async () => {
  await stopAllChildren();
  await Promise.all(receivers.map((r) => r.close()));
  await admin?.end();
  await pool?.end();
  await db?.drop();
  await deleteTopics(topic, dlq).catch(() => undefined);
});

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Retries `work` until it succeeds: the test's own connections are terminated by the storm too. */
async function retrying<T>(work: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (err) {
      if (attempt >= 50) throw err;
      await sleep(50);
    }
  }
}

const event = (id: string, name = 'request.create'): string =>
  JSON.stringify({ id, event: name, id_project: 'P1', timestamp: Date.now(), payload: { id } });

describe('Postgres connections terminated again and again, under load', () => {
  it('the service stays up, delivers every event, dead-letters nothing and sees later changes', async () => {
    const child = await spawnConnector({
      name: 'pg-chaos',
      topic,
      groupId,
      dlqTopic: dlq,
      databaseUrl: db.url,
      env: { SUBSCRIPTIONS_RESYNC_INTERVAL_MS: '1000', COMMIT_INTERVAL_MS: '200' },
    });
    await child.waitReady();
    const store = createSubscriptionStore(pool);
    const churn = await store.add({
      idProject: 'P1',
      event: 'lead.create', // never produced: its changes only exercise NOTIFY and the reloads
      target: `${receivers[0]!.url}/churn`,
      createdBy: 'pg-chaos',
    });

    const eventIds: string[] = [];
    const terminatedNames = new Map<string, number>();
    let rounds = 0;
    let changes = 0;
    let stormEnds = Date.now() + STORM_MS;
    const endStorm = (err: unknown): never => {
      stormEnds = 0; // the other loops stop too
      throw err;
    };

    const producing = (async () => {
      for (let batch = 0; Date.now() < stormEnds; batch++) {
        const ids = Array.from({ length: 20 }, (_, i) => `ev-${batch}-${i}`);
        eventIds.push(...ids);
        await produce(
          topic,
          ids.map((id, i) => ({ key: `K${i % 8}`, value: event(id), partition: i % PARTITIONS })),
        );
        await sleep(100);
      }
    })().catch(endStorm);
    const changing = (async () => {
      for (let i = 0; Date.now() < stormEnds; i++) {
        await retrying(() => store.setEnabled(churn.id, i % 2 === 1));
        changes++;
        await sleep(150);
      }
    })().catch(endStorm);
    const terminating = (async () => {
      while (Date.now() < stormEnds) {
        const { rows } = await admin.query<{ name: string }>(
          // Materialized first: in one WHERE, Postgres may call pg_terminate_backend before the filters.
          `with victims as materialized (
             select pid, application_name from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()
           )
           select application_name as name from victims where pg_terminate_backend(pid)`,
          [db.name],
        );
        rounds++;
        for (const { name } of rows) terminatedNames.set(name, (terminatedNames.get(name) ?? 0) + 1);
        await sleep(TERMINATE_EVERY_MS);
      }
    })().catch(endStorm);
    const storm = await Promise.allSettled([producing, changing, terminating]);
    for (const r of storm) if (r.status === 'rejected') throw r.reason;

    // The storm reached the service: its pool and its LISTEN connection, again and again.
    const summary = JSON.stringify(Object.fromEntries(terminatedNames));
    expect(child.exitStatus()).toBeNull();
    expect(terminatedNames.get(`${SERVICE}:listener`) ?? 0).toBeGreaterThanOrEqual(10);
    expect(terminatedNames.get(SERVICE) ?? 0).toBeGreaterThanOrEqual(5);
    // Every connection in that database was named: the service's, or a test's.
    for (const name of terminatedNames.keys()) expect(name).toMatch(/^(tiledesk-webhook-connector|test:)/);

    // A subscription added after the storm is in the snapshot, and the snapshot is fresh again (which
    // needs the LISTEN connection up and a full reload since): the service has reconnected everything.
    const late = await startLedgerReceiver(() => ({ status: 200 }));
    receivers.push(late);
    const lateSub = await store.add({
      idProject: 'P1',
      event: 'request.close',
      target: `${late.url}/late`,
      createdBy: 'pg-chaos',
    });
    const enabled = Number(
      (await pool.query<{ n: string }>('select count(*) as n from webhook_subscriptions where enabled'))
        .rows[0]!.n,
    );
    await waitFor(
      async () =>
        (await child.get('/readyz')).body.includes('"subscriptions":"fresh"') &&
        (await child.metric('webhook_connector_subscriptions_cached')) === enabled,
      {
        timeoutMs: 15_000,
        message: () =>
          `the snapshot fresh again, with the late subscription (${enabled})\n${tail(child.output())}`,
      },
    );
    const lateIds = Array.from({ length: 10 }, (_, i) => `late-${i}`);
    await produce(
      topic,
      lateIds.map((id) => ({ key: 'P1', value: event(id, 'request.close') })),
    );
    await waitFor(() => late.okCount() === lateIds.length, {
      timeoutMs: 20_000,
      message: () => `the late subscription's ${lateIds.length} deliveries\n${tail(child.output())}`,
    });

    const total = eventIds.length + lateIds.length;
    await waitFor(
      async () =>
        Object.values(await committedOffsets(groupId, topic)).reduce((n, o) => n + Number(o), 0) === total,
      {
        timeoutMs: 60_000,
        intervalMs: 250,
        message: () => `all ${total} committed\n${tail(child.output())}`,
      },
    );
    const result = accountFor(
      eventIds,
      subscriptionIds,
      receivers.map((r) => r.delivered),
      await deadLetteredPairs(dlq),
    );
    console.log(
      `pg-terminate-chaos: ${rounds} rounds of pg_terminate_backend in ${STORM_MS} ms terminated ${summary}; ` +
        `${changes} subscription changes; ${eventIds.length} events × ${subscriptionIds.length} subscriptions: ` +
        `delivered ${result.delivered}, missing ${result.missing.length}, dead-lettered ${result.deadLettered}, ` +
        `duplicated ${result.duplicated}; LISTEN restored ${child.logs('subscriptions: LISTEN connection restored').length} times`,
    );
    expect(result.missing).toEqual([]);
    expect(await readToEnd(dlq)).toEqual([]);
    expect(lateSub.id).toBeDefined();
    expect(child.exitStatus()).toBeNull();

    child.signal('SIGTERM');
    expect((await child.exited).code).toBe(0);
  });
});
