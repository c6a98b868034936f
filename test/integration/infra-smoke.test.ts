/**
 * Proves the test infrastructure (test/infra/infra.sh) and the helpers in test/support do what the
 * other integration tests rely on: the Kafka broker on both listeners, consumer-group commits,
 * Apicurio's Confluent API with the kafkajs registry client, a Postgres database per file, and the
 * scripted HTTP receiver.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import {
  KAFKA_SASL_BROKERS,
  KAFKA_SASL_USERNAME,
  PG_ADMIN_URL,
  SCHEMA_REGISTRY_URL,
} from '../support/env.js';
import { committedOffsets, createTopic, produce, readAll, testKafka, uniqueName } from '../support/kafka.js';
import { createTestDatabase, testClient, type TestDatabase } from '../support/pg.js';
import { startReceiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

describe('Kafka', () => {
  it('produces and reads back records with keys and headers on the PLAINTEXT listener', async () => {
    const topic = uniqueName('smoke');
    await createTopic(topic, 2);
    await produce(topic, [
      { key: 'a', value: 'one', headers: { trace: 't1' }, partition: 0 },
      { key: 'b', value: Buffer.from([0, 1, 2]), partition: 1 },
      { key: null, value: 'three', partition: 0 },
    ]);

    const records = await readAll(topic, { expected: 3 });

    expect(records.map((r) => [r.partition, r.offset, r.key?.toString() ?? null])).toEqual([
      [0, 0, 'a'],
      [0, 1, null],
      [1, 0, 'b'],
    ]);
    expect(records[0]!.value?.toString()).toBe('one');
    expect(records[0]!.headers).toEqual({ trace: 't1' });
    expect(records[2]!.value).toEqual(Buffer.from([0, 1, 2]));
    // Without `expected`: everything up to the current end of the topic, without waiting for a deadline.
    expect(await readAll(topic, { timeoutMs: 60_000 })).toHaveLength(3);
    // expected: 0 watches a topic (created if missing, like a dead-letter topic) for the whole window.
    const started = Date.now();
    expect(await readAll(uniqueName('smoke-absent'), { expected: 0, timeoutMs: 500 })).toEqual([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(500);
  });

  it('reads a consumer group commit back through the admin API', async () => {
    const topic = uniqueName('smoke-commit');
    const groupId = uniqueName('smoke-group');
    await createTopic(topic, 1);
    await produce(
      topic,
      ['a', 'b', 'c'].map((value) => ({ value })),
    );
    expect(await committedOffsets(groupId, topic)).toEqual({});

    const consumer = testKafka().consumer({ groupId, maxWaitTimeInMs: 100 });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let seen = 0;
      await consumer.run({ autoCommit: false, eachMessage: async () => void seen++ });
      await waitFor(() => seen === 3, { timeoutMs: 30_000, message: '3 records consumed' });
      await consumer.commitOffsets([{ topic, partition: 0, offset: '2' }]);
    } finally {
      await consumer.disconnect();
    }

    expect(await committedOffsets(groupId, topic)).toEqual({ 0: '2' });
  });

  it('authenticates with SCRAM-SHA-256 on the SASL listener, and refuses a wrong password', async () => {
    const topic = uniqueName('smoke-sasl');
    const producer = testKafka({ sasl: true }).producer();
    await producer.connect();
    try {
      const admin = testKafka({ sasl: true }).admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic }], waitForLeaders: true });
      await admin.disconnect();
      await producer.send({ topic, messages: [{ value: 'over sasl' }] });
    } finally {
      await producer.disconnect();
    }
    // Written over SASL, read over PLAINTEXT: the same broker.
    expect((await readAll(topic, { expected: 1 })).map((r) => r.value?.toString())).toEqual(['over sasl']);

    const intruder = new Kafka({
      brokers: [KAFKA_SASL_BROKERS],
      logLevel: logLevel.NOTHING,
      retry: { retries: 0 },
      sasl: { mechanism: 'scram-sha-256', username: KAFKA_SASL_USERNAME, password: 'wrong' },
    }).admin();
    await expect(intruder.connect()).rejects.toThrow(/authentication failed/i);
    await intruder.disconnect();
  });
});

describe('schema registry (Apicurio, Confluent API)', () => {
  const registry = new SchemaRegistry({ host: SCHEMA_REGISTRY_URL });
  const schema = {
    type: 'record',
    name: 'Smoke',
    namespace: 'test.infra',
    fields: [
      { name: 'id', type: 'string' },
      { name: 'n', type: 'int' },
    ],
  };

  it('registers an Avro schema, encodes with the Confluent wire format, decodes, and carries it through Kafka', async () => {
    const subject = `${uniqueName('smoke')}-value`;
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject },
    );
    expect(await registry.getLatestSchemaId(subject)).toBe(id);

    const value = { id: 'e1', n: 42 };
    const encoded = await registry.encode(id, value);
    expect(encoded[0]).toBe(0); // magic byte
    expect(encoded.readInt32BE(1)).toBe(id);

    const topic = uniqueName('smoke-avro');
    await createTopic(topic, 1);
    await produce(topic, [{ key: 'k', value: encoded }]);
    const [record] = await readAll(topic, { expected: 1 });
    // A fresh client (empty cache) fetches the writer schema by id from the registry.
    expect(await new SchemaRegistry({ host: SCHEMA_REGISTRY_URL }).decode(record!.value!)).toEqual(value);
  });

  it('quirk: a subject registered outside the client reports compatibility NONE (Confluent: BACKWARD or 404)', async () => {
    // Apicurio's global compatibility default is NONE, where Confluent's is BACKWARD. So register()
    // with the client's default BACKWARD throws on such a subject unless the caller passes the
    // subject's level (or sets BACKWARD on the subject first).
    const subject = `${uniqueName('smoke-outside')}-value`;
    const res = await fetch(`${SCHEMA_REGISTRY_URL}/subjects/${subject}/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(schema) }),
    });
    expect(res.status).toBe(200);
    const config = await fetch(`${SCHEMA_REGISTRY_URL}/config/${subject}`);
    expect(await config.json()).toEqual({ compatibilityLevel: 'NONE' });
    await expect(
      registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(schema) }, { subject }),
    ).rejects.toThrow(/compatibility/i);
  });
});

describe('Postgres', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase('infra_smoke');
  });
  afterAll(() => db.drop());

  const databaseExists = async (name: string): Promise<boolean> => {
    const admin = testClient(PG_ADMIN_URL, 'infra-smoke-admin');
    await admin.connect();
    try {
      return (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1;
    } finally {
      await admin.end();
    }
  };

  it('gives each test file its own database, and drops it even with a connection still open', async () => {
    expect(await databaseExists(db.name)).toBe(true);
    const client = testClient(db.url, 'infra-smoke'); // the forced drop below terminates this connection
    await client.connect();
    await client.query('CREATE TABLE t (x int); INSERT INTO t VALUES (7)');
    expect((await client.query<{ x: number }>('SELECT x FROM t')).rows).toEqual([{ x: 7 }]);

    const other = await createTestDatabase('infra_smoke_other');
    expect(other.name).not.toBe(db.name);
    const otherClient = testClient(other.url, 'infra-smoke-other');
    await otherClient.connect();
    await other.drop();
    await other.drop(); // idempotent
    expect(await databaseExists(other.name)).toBe(false);
    await otherClient.end().catch(() => undefined);
    await client.end();
  });
});

describe('scripted receiver', () => {
  it('records each request and answers as scripted: status, delay, hang and destroy', async () => {
    const r = await startReceiver((_req, n) =>
      n === 1
        ? { status: 503, headers: { 'retry-after': '1' }, body: 'busy' }
        : n === 2
          ? { delayMs: 200 }
          : n === 3
            ? { destroy: true }
            : { hang: true },
    );
    try {
      const first = await fetch(`${r.url}/hooks?x=1`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'X-Custom': 'A' },
        body: '{"a":1}',
      });
      expect([first.status, first.headers.get('retry-after'), await first.text()]).toEqual([
        503,
        '1',
        'busy',
      ]);
      expect(r.requests[0]).toMatchObject({ n: 1, method: 'POST', url: '/hooks?x=1', body: '{"a":1}' });
      expect(r.requests[0]!.headers).toMatchObject({ 'content-type': 'application/json', 'x-custom': 'A' });

      const started = Date.now();
      expect((await fetch(r.url, { method: 'POST', body: 'x' })).status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(190);

      await expect(fetch(r.url, { method: 'POST', body: 'y' })).rejects.toThrow();
      await expect(
        fetch(r.url, { method: 'POST', body: 'z', signal: AbortSignal.timeout(300) }),
      ).rejects.toThrow();
      expect(r.requests.map((q) => q.n)).toEqual([1, 2, 3, 4]);
      expect(r.requests[3]!.receivedAt).toBeGreaterThanOrEqual(r.requests[0]!.receivedAt);
    } finally {
      await r.close(); // returns although a request still hangs
    }
  });
});
