/**
 * How long a partition stops delivering when the group changes, on the real broker with two real `run`
 * processes and a steady stream (~25 records/s per partition, 4 partitions): when a second instance joins
 * (scale-out), and when one of two is killed with `kill -9` (its partitions wait for its session to time
 * out: eager rebalancing). The numbers are the README's (Operating it, scaling rule) and the reason for
 * KAFKA_SESSION_TIMEOUT_MS's default; MEASURE_SESSION_TIMEOUT_MS measures another session timeout.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import type { Producer } from 'kafkajs';
import { configSpec } from '../../src/config.js';
import { spawnConnector, stopAllChildren, type ChildConnector } from '../support/child-connector.js';
import { requestCreate } from '../support/events.js';
import { createTopic, testKafka, uniqueName } from '../support/kafka.js';
import type { TestDatabase } from '../support/pg.js';
import type { Receiver } from '../support/receiver.js';
import { startSubscribedReceiver, type SubscribedReceiver } from '../support/subscribed-receiver.js';
import { waitFor } from '../support/wait.js';

const PARTITIONS = 4;
const SESSION_MS = Number(
  process.env.MEASURE_SESSION_TIMEOUT_MS ?? configSpec.KAFKA_SESSION_TIMEOUT_MS.default,
);

let setup: SubscribedReceiver | undefined;
let db: TestDatabase;
let receiver: Receiver;
let producer: Producer | undefined;
let producing = true;

beforeAll(async () => {
  setup = await startSubscribedReceiver('group_stop');
  ({ db, receiver } = setup);
});

afterAll(async () => {
  producing = false;
  await stopAllChildren();
  await producer?.disconnect();
  await setup?.close();
});

/** Per partition, the longest time without a delivery from `from` to its first delivery after `to`. */
function longestGaps(from: number, to: number): number[] {
  return Array.from({ length: PARTITIONS }, (_, p) => {
    const times = receiver.requests
      .filter((r) => (JSON.parse(r.body) as { payload: { p: number } }).payload.p === p)
      .map((r) => r.receivedAt)
      .filter((t) => t >= from)
      .sort((a, b) => a - b);
    const end = times.findIndex((t) => t > to);
    const window = [from, ...times.slice(0, end < 0 ? times.length : end + 1)];
    let longest = 0;
    for (let i = 1; i < window.length; i++) longest = Math.max(longest, window[i]! - window[i - 1]!);
    return longest;
  });
}

it('measures the stop per scale-out and per kill -9 of one of two instances', async () => {
  const topic = uniqueName('group-stop');
  const groupId = uniqueName('group-stop-group');
  await createTopic(topic, PARTITIONS);
  producer = testKafka().producer();
  await producer.connect();
  let n = 0;
  const stream = (async () => {
    while (producing) {
      const p = n % PARTITIONS;
      const id = `e${n++}`;
      await producer!.send({
        topic,
        messages: [
          {
            partition: p,
            value: requestCreate(id, { p }),
          },
        ],
      });
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
  const env = { KAFKA_SESSION_TIMEOUT_MS: String(SESSION_MS) };
  const a: ChildConnector = await spawnConnector({ name: 'a', topic, groupId, databaseUrl: db.url, env });
  await a.waitReady();
  await waitFor(() => receiver.requests.length > 200, { timeoutMs: 20_000, message: 'steady deliveries' });

  // Scale-out: a second instance joins; every partition pauses for the rebalance.
  const scaleAt = Date.now();
  const b = await spawnConnector({ name: 'b', topic, groupId, databaseUrl: db.url, env });
  await b.waitReady();
  const balancedAt = await waitFor(() => (b.logs('joined group').length > 0 ? Date.now() : 0), {
    timeoutMs: 30_000,
  });
  await waitFor(() => receiver.requests.some((r) => r.receivedAt > balancedAt + 2_000), {
    timeoutMs: 20_000,
  });
  const scaleOut = longestGaps(scaleAt, balancedAt + 2_000);

  // kill -9 of b: its partitions wait for its session to expire, then a takes them over.
  const killAt = Date.now();
  await b.kill();
  const takeoverAt = await waitFor(() => (a.logs('joined group').length >= 3 ? Date.now() : 0), {
    timeoutMs: SESSION_MS + 30_000,
    message: 'a takes over the partitions of b',
  });
  await waitFor(() => receiver.requests.some((r) => r.receivedAt > takeoverAt + 2_000), {
    timeoutMs: 20_000,
  });
  const crash = longestGaps(killAt, takeoverAt + 2_000);
  producing = false;
  await stream;

  process.stderr.write(
    `group-stop (session ${SESSION_MS} ms): longest stop per partition, scale-out ${JSON.stringify(scaleOut)} ms, ` +
      `kill -9 of one of two ${JSON.stringify(crash)} ms\n`,
  );
  // Scale-out costs one rebalance (a heartbeat interval plus the join), never a session.
  expect(Math.max(...scaleOut)).toBeLessThan(SESSION_MS / 2);
  // The killed instance's partitions stop for up to its session; the survivor's only for the rebalance.
  expect(Math.max(...crash)).toBeGreaterThan(SESSION_MS / 2);
  expect(Math.max(...crash)).toBeLessThan(SESSION_MS + 10_000);
  expect(Math.min(...crash)).toBeLessThan(SESSION_MS / 2);
});
