/**
 * A kafkajs crash it will not restart from must not leave a live zombie: the real `run` process, whose
 * group is held by a member speaking another assignment protocol (a misconfiguration: the broker answers
 * INCONSISTENT_GROUP_PROTOCOL, which kafkajs does not retry), answers /healthz 503 and exits non-zero,
 * so the orchestrator restarts it.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { AssignerProtocol, type Consumer, type PartitionAssigner } from 'kafkajs';
import type pg from 'pg';
import { spawnConnector, stopAllChildren, tail } from '../support/child-connector.js';
import { startConnector } from '../support/connector.js';
import { createTopic, testKafka, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let pool: pg.Pool;
let squatter: Consumer | undefined;

/** An assignor no connector speaks: the group's protocol is this one alone. */
const otherAssigner: PartitionAssigner = (() => ({
  name: 'OtherAssigner',
  version: 1,
  async assign({ members, topics }: { members: { memberId: string }[]; topics: string[] }) {
    return members.map((m) => ({
      memberId: m.memberId,
      memberAssignment: AssignerProtocol.MemberAssignment.encode({
        version: 1,
        assignment: Object.fromEntries(topics.map((t) => [t, [0]])),
        userData: Buffer.alloc(0),
      }),
    }));
  },
  protocol: ({ topics }: { topics: string[] }) => ({
    name: 'OtherAssigner',
    metadata: AssignerProtocol.MemberMetadata.encode({ version: 1, topics, userData: Buffer.alloc(0) }),
  }),
})) as unknown as PartitionAssigner;

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('fatal_crash'));
});

afterAll(async () => {
  await stopAllChildren();
  await squatter?.disconnect();
  await pool?.end();
  await db?.drop();
});

it('a crash kafkajs does not restart from: /healthz answers 503, and the run process exits non-zero', async () => {
  const topic = uniqueName('fatal');
  const groupId = uniqueName('fatal-group');
  await createTopic(topic, 1);
  squatter = testKafka().consumer({ groupId, partitionAssigners: [otherAssigner] });
  await squatter.connect();
  await squatter.subscribe({ topics: [topic] });
  let joined = false;
  squatter.on(squatter.events.GROUP_JOIN, () => (joined = true));
  await squatter.run({ eachMessage: async () => {} });
  await waitFor(() => joined, { timeoutMs: 15_000, message: 'the other member joined' });

  // In process (nobody stops the app): the zombie is visible to a liveness probe.
  const inProcess = await startConnector({ topic, groupId, databaseUrl: db.url });
  try {
    await waitFor(
      async () => (await fetch(`http://127.0.0.1:${inProcess.app.opsPort}/healthz`)).status === 503,
      { timeoutMs: 30_000, message: '/healthz 503' },
    );
  } finally {
    await inProcess.stop();
  }

  // The real `run` process drains and exits non-zero.
  const c = await spawnConnector({ name: 'fatal', topic, groupId, databaseUrl: db.url });
  const exit = await waitFor(() => c.exitStatus(), {
    timeoutMs: 45_000,
    message: () => `the process to exit\n${tail(c.output())}`,
  });
  expect(exit).toEqual({ code: 1, signal: null });
  expect(c.logs('kafka consumer crashed for good; exiting')).toHaveLength(1);
});
