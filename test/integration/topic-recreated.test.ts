/**
 * A topic deleted and created again under the same name while the connector runs: its partitions start
 * again at offset 0, below what the connector already took and committed. Every record of the new topic
 * is delivered (the refetch rule "at or below the highest offset taken = already taken" dropped them).
 * kafkajs first finds its position out of range, resets it to the earliest offset, then the loop sees the
 * log went back.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { startConnector } from '../support/connector.js';
import {
  committedOffsets,
  createTopic,
  deleteTopics,
  produce,
  testKafka,
  uniqueName,
} from '../support/kafka.js';
import { payloadId, requestCreate } from '../support/events.js';
import type { TestDatabase } from '../support/pg.js';
import type { Receiver } from '../support/receiver.js';
import { startSubscribedReceiver, type SubscribedReceiver } from '../support/subscribed-receiver.js';
import { waitFor } from '../support/wait.js';

let setup: SubscribedReceiver | undefined;
let db: TestDatabase;
let receiver: Receiver;

const delivered = (): string[] => receiver.requests.map((r) => payloadId(r.body));

beforeAll(async () => {
  setup = await startSubscribedReceiver('topic_recreated');
  ({ db, receiver } = setup);
});

afterAll(async () => {
  await setup?.close();
});

it('delivers every record of a topic recreated under the same name', async () => {
  const topic = uniqueName('recreated');
  const groupId = uniqueName('recreated-group');
  await createTopic(topic, 1);
  await produce(
    topic,
    [0, 1, 2, 3, 4].map((i) => ({ key: 'P1', value: requestCreate(`old${i}`) })),
  );
  const c = await startConnector({ topic, groupId, databaseUrl: db.url });
  try {
    let committed: Partial<Record<number, string>> = {};
    await waitFor(async () => (committed = await committedOffsets(groupId, topic))[0] === '5', {
      timeoutMs: 20_000,
      message: () =>
        `offset 5 committed (committed: ${JSON.stringify(committed)}; delivered: ${delivered().join(',')})\n${c.logs.slice(-30).join('')}`,
    });
    await deleteTopics(topic);
    // The old topic is gone once it is no longer listed, or listed again with an empty log: the connector's
    // own metadata requests recreate it (auto.create.topics.enable) within tens of ms of the delete, so a
    // poll may never see it missing.
    const admin = testKafka().admin();
    await admin.connect();
    let listed = true;
    let ends: string[] = [];
    try {
      await waitFor(
        async () => {
          listed = (await admin.listTopics()).includes(topic);
          if (!listed) return true;
          ends = (await admin.fetchTopicOffsets(topic)).map((p) => p.high);
          return ends.length > 0 && ends.every((high) => high === '0');
        },
        {
          timeoutMs: 20_000,
          message: () =>
            `the old topic gone (listed: ${listed}, end offsets: ${ends.join(',')})\n${c.logs.slice(-30).join('')}`,
        },
      );
    } finally {
      await admin.disconnect();
    }
    // Already recreated by the connector, or created here.
    await createTopic(topic, 1).catch(() => undefined);
    await produce(
      topic,
      [0, 1].map((i) => ({ key: 'P1', value: requestCreate(`new${i}`) })),
    );
    await waitFor(() => ['new0', 'new1'].every((id) => delivered().includes(id)), {
      timeoutMs: 30_000,
      message: () =>
        `both new records delivered (delivered: ${delivered().join(',')})\n${c.logs.slice(-15).join('')}`,
    });
    expect(await c.metric('webhook_connector_offset_resets_total', { reason: 'log_went_back' })).toBe(1);
    expect(c.logs.join('')).toMatch(/partition log went back below the committed offset/);
  } finally {
    await c.stop();
  }
});
