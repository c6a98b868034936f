/**
 * Delivery guarantees, acceptance: SIGTERM drains. The service (a child process) stops taking records,
 * lets the deliveries in flight finish within SHUTDOWN_DRAIN_TIMEOUT_MS, commits exactly what finished,
 * leaves the group and exits 0; what did not finish stays uncommitted for the next owner. A second signal
 * during a long drain exits at once, non-zero, committing nothing more.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import {
  describeGroup,
  spawnConnector,
  startLedgerReceiver,
  stopAllChildren,
  tail,
  type ChildConnector,
  type LedgerReceiver,
} from '../support/child-connector.js';
import {
  committedOffsets,
  createTopic,
  deleteTopics,
  produce,
  uniqueName,
  type ProducedRecord,
} from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let pool: pg.Pool;
const topics: string[] = [];
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('graceful_shutdown'));
});

afterEach(async () => {
  await stopAllChildren();
  for (const c of cleanups.splice(0).reverse()) await c();
  await pool.query('delete from webhook_subscriptions');
});

afterAll(async () => {
  await stopAllChildren();
  await pool?.end();
  await db?.drop();
  await deleteTopics(...topics).catch(() => undefined);
});

interface Setup {
  topic: string;
  groupId: string;
  receiver: LedgerReceiver;
  child: ChildConnector;
}

/** A receiver (answering as `script` says) subscribed to request.create, a 2-partition topic, and a ready child. */
async function setup(
  script: Parameters<typeof startLedgerReceiver>[0],
  env: Record<string, string>,
): Promise<Setup> {
  const receiver = await startLedgerReceiver(script);
  cleanups.push(() => receiver.close());
  await createSubscriptionStore(pool).add({
    idProject: 'P1',
    event: 'request.create',
    target: `${receiver.url}/slow`,
    createdBy: 'shutdown-test',
  });
  const topic = uniqueName('shutdown');
  const groupId = uniqueName('shutdown-group');
  topics.push(topic, `${topic}.dlq`);
  await createTopic(topic, 2);
  const child = await spawnConnector({
    name: 'draining',
    topic,
    groupId,
    databaseUrl: db.url,
    env: { COMMIT_INTERVAL_MS: '200', ...env },
  });
  await child.waitReady(60_000);
  return { topic, groupId, receiver, child };
}

/** One record per id, each with its own key (its own lane, so all are in flight at once), on the given partition. */
const records = (partition: number, ...ids: string[]): ProducedRecord[] =>
  ids.map((id) => ({
    partition,
    key: id,
    value: JSON.stringify({
      id,
      event: 'request.create',
      id_project: 'P1',
      timestamp: Date.now(),
      payload: { id },
    }),
  }));

const exitWithin = async (
  child: ChildConnector,
  ms: number,
): Promise<{ code: number | null; signal: string | null }> =>
  waitFor(() => child.exitStatus(), {
    timeoutMs: ms,
    intervalMs: 20,
    message: () => `${child.name} to exit\n${tail(child.output())}`,
  });

describe('graceful shutdown', () => {
  it('SIGTERM while deliveries are in flight: finishes them, commits them, takes nothing new, leaves the group, exits 0', async () => {
    const DRAIN_MS = 10_000;
    const s = await setup(() => ({ status: 200, delayMs: 1_500 }), {
      SHUTDOWN_DRAIN_TIMEOUT_MS: String(DRAIN_MS),
    });
    await produce(s.topic, [...records(0, 'a0', 'a1', 'a2', 'a3'), ...records(1, 'b0', 'b1', 'b2', 'b3')]);
    await waitFor(() => s.receiver.requests.length === 8, {
      timeoutMs: 20_000,
      message: 'all eight deliveries in flight',
    });
    expect(s.receiver.okCount()).toBe(0); // each answer takes 1.5 s: all eight are being held

    s.child.signal('SIGTERM');
    const signalledAt = Date.now();
    await waitFor(
      () => s.child.logs('draining before exit (send the signal again to exit at once)').length === 1,
      { message: 'the drain to start' },
    );
    // Records that arrive while draining are not taken.
    await produce(s.topic, [...records(0, 'late-a'), ...records(1, 'late-b')]);

    const exit = await exitWithin(s.child, DRAIN_MS + 5_000);
    const exitedAfter = Date.now() - signalledAt;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitedAfter).toBeLessThan(DRAIN_MS);
    expect(s.child.logs().find((entry) => 'drained' in entry)).toMatchObject({
      drained: true,
      inFlightRecords: 0,
    });
    // All eight held deliveries were answered 2xx, and nothing was sent for the late records.
    expect(s.receiver.okCount()).toBe(8);
    expect(
      s.receiver.requests.map((r) => (JSON.parse(r.body) as { payload: { id: string } }).payload.id).sort(),
    ).toEqual(['a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2', 'b3']);
    // Committed: exactly the records whose deliveries finished (the late ones stay for the next owner) ...
    expect(await committedOffsets(s.groupId, s.topic)).toEqual({ 0: '4', 1: '4' });
    // ... and the member left the group (no member waits for a session timeout).
    expect(await describeGroup(s.groupId, s.topic)).toEqual({ state: 'Empty', members: [] });
    console.log(
      `graceful-shutdown: 8 held deliveries finished, committed and left; exit 0 ${exitedAfter} ms after SIGTERM`,
    );
  });

  it('a delivery that outlasts the drain budget: the finished prefix is committed and the group left at the budget; the record stays uncommitted', async () => {
    const DRAIN_MS = 2_000;
    const DELIVERY_TIMEOUT_MS = 20_000;
    const s = await setup(
      ({ eventId }) => (eventId === 'hang' ? { hang: true } : { status: 200, delayMs: 1_000 }),
      {
        SHUTDOWN_DRAIN_TIMEOUT_MS: String(DRAIN_MS),
        DELIVERY_TIMEOUT_MS: String(DELIVERY_TIMEOUT_MS),
      },
    );
    // Partition 0: a finished record, the hung one, another finished one. Partition 1: two finished ones.
    await produce(s.topic, [...records(0, 'a0', 'hang', 'a2'), ...records(1, 'b0', 'b1')]);
    await waitFor(() => s.receiver.requests.length === 5, {
      timeoutMs: 20_000,
      message: 'five deliveries in flight',
    });
    s.child.signal('SIGTERM');
    const signalledAt = Date.now();

    // By the end of the budget (plus slack for commit and leave), what finished is committed, up to the hung record.
    await waitFor(
      async () => {
        expect(await committedOffsets(s.groupId, s.topic)).toEqual({ 0: '1', 1: '2' });
        expect(await describeGroup(s.groupId, s.topic)).toEqual({ state: 'Empty', members: [] });
        return true;
      },
      {
        timeoutMs: DRAIN_MS + 4_000,
        intervalMs: 100,
        message: () => `commit of the finished prefix and leave\n${tail(s.child.output())}`,
      },
    );
    const committedAfter = Date.now() - signalledAt;
    expect(s.child.logs('drain budget spent; aborting the rest')).toEqual([
      expect.objectContaining({ drained: false, inFlightRecords: 1 }),
    ]);
    expect(s.receiver.okCount()).toBe(4);

    // Exit 0 soon after the budget: the abandoned attempt is destroyed, not waited for (it would hold the
    // exit for DELIVERY_TIMEOUT_MS, past Kubernetes' grace period with a long timeout).
    const exit = await exitWithin(s.child, DRAIN_MS + 6_000);
    const exitedAfter = Date.now() - signalledAt;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitedAfter).toBeLessThan(DELIVERY_TIMEOUT_MS);
    expect(await committedOffsets(s.groupId, s.topic)).toEqual({ 0: '1', 1: '2' });
    console.log(
      `graceful-shutdown (budget ${DRAIN_MS} ms): prefix committed and group left ≤ ${committedAfter} ms after SIGTERM; ` +
        `exit 0 after ${exitedAfter} ms (attempt timeout ${DELIVERY_TIMEOUT_MS} ms not waited for)`,
    );
  });

  it('a second SIGTERM during a long drain exits at once, non-zero, and commits nothing more', async () => {
    const s = await setup(() => ({ hang: true }), {
      SHUTDOWN_DRAIN_TIMEOUT_MS: '30000',
      DELIVERY_TIMEOUT_MS: '30000',
    });
    await produce(s.topic, [...records(0, 'h0', 'h1'), ...records(1, 'h2')]);
    await waitFor(() => s.receiver.requests.length === 3, {
      timeoutMs: 20_000,
      message: 'three hung deliveries',
    });
    s.child.signal('SIGTERM');
    await waitFor(
      () => s.child.logs('draining before exit (send the signal again to exit at once)').length === 1,
      { message: 'the drain to start' },
    );
    expect(s.child.exitStatus()).toBeNull(); // still draining

    s.child.signal('SIGTERM');
    const secondAt = Date.now();
    const exit = await exitWithin(s.child, 3_000);
    const exitedAfter = Date.now() - secondAt;
    expect(exit.code).not.toBe(0);
    expect(exit.code).not.toBeNull();
    expect(s.child.logs('second signal: exiting now')).toHaveLength(1);
    // Nothing finished, so nothing was committed: all three records are redelivered by the next owner.
    expect(await committedOffsets(s.groupId, s.topic)).toEqual({});
    console.log(`graceful-shutdown: second SIGTERM → exit code ${exit.code} after ${exitedAfter} ms`);
  });
});
