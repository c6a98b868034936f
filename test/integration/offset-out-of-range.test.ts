/**
 * Where the connector starts reading, on the real broker: a committed offset that retention has since
 * deleted past resumes at the earliest retained offset (every record still on disk is delivered, as Kafka
 * Connect sinks do), whatever KAFKA_FROM_BEGINNING says; that setting only decides where a group with no
 * committed offset starts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startConnector } from '../support/connector.js';
import { payloadId, requestCreate } from '../support/events.js';
import { committedOffsets, createTopic, produce, testKafka, uniqueName } from '../support/kafka.js';
import type { TestDatabase } from '../support/pg.js';
import type { Receiver } from '../support/receiver.js';
import { startSubscribedReceiver, type SubscribedReceiver } from '../support/subscribed-receiver.js';
import { waitFor } from '../support/wait.js';

let setup: SubscribedReceiver | undefined;
let db: TestDatabase;
let receiver: Receiver;

const delivered = (): string[] => receiver.requests.map((r) => payloadId(r.body));

beforeAll(async () => {
  setup = await startSubscribedReceiver('out_of_range');
  ({ db, receiver } = setup);
});

afterAll(async () => {
  await setup?.close();
});

describe('start position', () => {
  it('a committed offset deleted by retention resumes at the earliest retained offset, with KAFKA_FROM_BEGINNING=false', async () => {
    receiver.requests.length = 0;
    const topic = uniqueName('oor');
    const groupId = uniqueName('oor-group');
    await createTopic(topic, 1);
    await produce(
      topic,
      Array.from({ length: 10 }, (_, i) => ({ key: 'P1', value: requestCreate(`e${i}`) })),
    );
    // The group had read up to offset 2; then records 0-5 were deleted (retention), so 2 is out of range.
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await admin.setOffsets({ groupId, topic, partitions: [{ partition: 0, offset: '2' }] });
      await admin.deleteTopicRecords({ topic, partitions: [{ partition: 0, offset: '6' }] });
      const [p0] = await admin.fetchTopicOffsets(topic);
      expect(p0).toMatchObject({ low: '6', high: '10' });
    } finally {
      await admin.disconnect();
    }
    expect(await committedOffsets(groupId, topic)).toEqual({ 0: '2' });

    const c = await startConnector({
      topic,
      groupId,
      databaseUrl: db.url,
      env: { KAFKA_FROM_BEGINNING: 'false' },
    });
    try {
      await waitFor(async () => (await committedOffsets(groupId, topic))[0] === '10', {
        timeoutMs: 20_000,
        message: () => `offset 10 committed (delivered: ${delivered().join(',')})`,
      });
      expect(delivered().sort()).toEqual(['e6', 'e7', 'e8', 'e9']);
      expect(await c.metric('webhook_connector_offset_resets_total', { reason: 'out_of_range' })).toBe(1);
      expect(c.logs.join('')).toMatch(/resuming at the earliest retained offset/);
      expect(await c.metric('webhook_connector_offset_commits_total', { result: 'ok' })).toBeGreaterThan(0);
    } finally {
      await c.stop();
    }
  });

  it('a group with no committed offset and KAFKA_FROM_BEGINNING=false starts at the end, and keeps that start', async () => {
    receiver.requests.length = 0;
    const topic = uniqueName('oor-new');
    const groupId = uniqueName('oor-new-group');
    await createTopic(topic, 1);
    await produce(
      topic,
      [0, 1, 2].map((i) => ({ key: 'P1', value: requestCreate(`old${i}`) })),
    );
    const env = { KAFKA_FROM_BEGINNING: 'false' };
    const first = await startConnector({ topic, groupId, databaseUrl: db.url, env });
    try {
      // The start is committed at once: a restart or the next owner does not skip what comes after it.
      await waitFor(async () => (await committedOffsets(groupId, topic))[0] === '3', {
        timeoutMs: 20_000,
        message: 'the end offset committed as the start',
      });
    } finally {
      await first.stop();
    }
    await produce(topic, [{ key: 'P1', value: requestCreate('new0') }]); // while no instance runs
    const second = await startConnector({ topic, groupId, databaseUrl: db.url, env });
    try {
      await produce(topic, [{ key: 'P1', value: requestCreate('new1') }]);
      await waitFor(async () => (await committedOffsets(groupId, topic))[0] === '5', {
        timeoutMs: 20_000,
        message: () => `offset 5 committed (delivered: ${delivered().join(',')})`,
      });
      expect(delivered().sort()).toEqual(['new0', 'new1']);
    } finally {
      await second.stop();
    }
  });
});
