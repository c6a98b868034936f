/**
 * Schema-Registry (Avro) acceptance, end to end: the real connector (createApp over main.ts's productionDeps,
 * so the decoder is the one production builds from the configuration) on the real broker, Postgres, HTTP receivers and Apicurio registry.
 * - JSON and Avro records interleaved on one topic become byte-identical webhooks;
 * - records written with a BACKWARD-evolved v2 writer schema are delivered the same way;
 * - a record naming an unknown schema id is dead-lettered (`unknown_schema`) and the next ones delivered;
 * - the registry going away mid-run pauses consumption (no dead letters) until it is back, and it resumes
 *   when the registry answers even if a rebalance aborted every record that was waiting for it;
 * - a schema the registry refuses to us alone (403 for one subject) is no outage: only its record waits.
 *
 * "Registry down" is a TCP proxy in front of the shared registry that the test switches to refuse
 * connections (test/support/registry.ts), not a stopped Apicurio: other tests share that registry, and a
 * restarted in-memory Apicurio comes back empty and re-issues ids from 1, so ids already in records would be
 * unknown or name another schema (checked by hand on 3.3.3; see docs/schema-registry.md).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { loadConfig, type Config } from '../../src/config.js';
import { sampleEvent, type SampleEvent } from '../../src/commands/demo/sample-events.js';
import {
  eventAvroSchema,
  encodeAvroEvents,
  registerAvroSchema,
  subjectForTopic,
  toAvroEventValue,
  type AvroSchemaJson,
} from '../../src/commands/demo/avro-producer.js';
import { createSchemaRegistryClient, registryConnection } from '../../src/events/registry-from-config.js';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import {
  committedOffsets,
  createTopic,
  produce,
  readAll,
  readToEnd,
  testKafka,
  uniqueName,
} from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import {
  SHARED_REGISTRY_URL,
  schemaAnswer,
  startRegistryProxy,
  startScriptedRegistry,
} from '../support/registry.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

const v2 = JSON.parse(
  readFileSync(new URL('../fixtures/tiledesk-event.v2.avsc', import.meta.url), 'utf8'),
) as AvroSchemaJson;
const registryConfig = (url: string): Config => loadConfig({ SCHEMA_REGISTRY_URL: url });

let db: TestDatabase;
let pool: pg.Pool;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('schema_registry'));
});
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
  await pool.query('delete from webhook_subscriptions');
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

interface Setup {
  topic: string;
  dlq: string;
  groupId: string;
  receiver: Receiver;
  connector: TestConnector;
}

/** A topic, a receiver subscribed to P1's request.create and message.create, and the connector decoding via `registryUrl`. */
async function setup(registryUrl: string = SHARED_REGISTRY_URL): Promise<Setup> {
  const topic = uniqueName('sr');
  const groupId = uniqueName('sr-group');
  await createTopic(topic, 1);
  const receiver = await startReceiver();
  cleanups.push(() => receiver.close());
  const store = createSubscriptionStore(pool);
  await store.add({
    idProject: 'P1',
    event: 'request.create',
    target: `${receiver.url}/request`,
    createdBy: 'test',
  });
  await store.add({
    idProject: 'P1',
    event: 'message.create',
    target: `${receiver.url}/message`,
    createdBy: 'test',
  });
  // The connector builds its decoder from these variables, as in production (main.ts productionDeps).
  const env = { SCHEMA_REGISTRY_URL: registryUrl, SCHEMA_REGISTRY_CACHE_SIZE: '100' };
  const connector = await startConnector({ topic, groupId, databaseUrl: db.url, env });
  cleanups.push(() => connector.stop());
  return { topic, dlq: `${topic}.dlq`, groupId, receiver, connector };
}

/** Payloads the receiver got, as a sorted list of JSON texts: deliveries to different lanes may interleave. */
const payloadsOf = (requests: { body: string }[]): string[] =>
  requests.map((r) => JSON.stringify((JSON.parse(r.body) as { payload: unknown }).payload)).sort();
const sortedPayloads = (events: { payload: unknown }[]): string[] =>
  events.map((e) => JSON.stringify(e.payload)).sort();

const committed = async (s: Setup): Promise<string | undefined> =>
  (await committedOffsets(s.groupId, s.topic))[0];
const json = (e: unknown): Buffer => Buffer.from(JSON.stringify(e));

describe('Schema-Registry encoded (Avro) events, end to end', () => {
  it('delivers JSON and Avro records interleaved on one topic as identical webhooks', async () => {
    const s = await setup();
    const events: SampleEvent[] = [
      sampleEvent('request.create', 'P1'),
      sampleEvent('message.create', 'P1'),
      {
        ...sampleEvent('request.create', 'P1'),
        payload: { text: 'ciao ✓ 👋', nested: { a: [1, 2.5, null, true] } },
      },
      sampleEvent('request.create', 'P2'), // no subscription: delivered in neither encoding
    ];
    const noId: Omit<SampleEvent, 'id'> & { id?: string } = { ...sampleEvent('message.create', 'P1') };
    delete noId.id;
    const all = [...events, noId as SampleEvent];
    const avro = await encodeAvroEvents(all, registryConfig(SHARED_REGISTRY_URL), s.topic);
    // J A J A ...: each event once per encoding, the Avro twin right after its JSON original.
    await produce(
      s.topic,
      all.flatMap((e, i) => [
        { key: e.id_project, value: json(e) },
        { key: e.id_project, value: avro[i]! },
      ]),
    );
    const expected = 2 * 4; // 4 matching events (3 with an id, 1 without), twice each
    await waitFor(() => s.receiver.requests.length === expected, {
      timeoutMs: 30_000,
      message: `${expected} webhooks`,
    });
    await waitFor(async () => (await committed(s)) === String(2 * all.length), {
      timeoutMs: 10_000,
      message: 'all committed',
    });

    const byBody = new Map<string, typeof s.receiver.requests>();
    for (const r of s.receiver.requests) byBody.set(r.body, [...(byBody.get(r.body) ?? []), r]);
    expect(byBody.size).toBe(4);
    for (const [body, pair] of byBody) {
      expect(pair).toHaveLength(2); // the same bytes, once from each encoding
      const [a, b] = pair;
      expect(a!.url).toBe(b!.url);
      expect(a!.headers['x-tiledesk-event']).toBe(b!.headers['x-tiledesk-event']);
      expect(a!.headers['x-hub-signature-256']).toBe(b!.headers['x-hub-signature-256']);
      const payload = (JSON.parse(body) as { payload: unknown }).payload;
      const source = all.find((e) => JSON.stringify(e.payload) === JSON.stringify(payload))!;
      // Same event id → same webhook-id (the idempotency key), whichever encoding it came in.
      if (source.id !== undefined) expect(a!.headers['webhook-id']).toBe(b!.headers['webhook-id']);
    }
    expect(await readToEnd(s.dlq)).toHaveLength(0);
  });

  it('delivers records written with a BACKWARD-evolved v2 writer schema like v1 and JSON ones', async () => {
    const s = await setup();
    const conn = registryConnection(registryConfig(SHARED_REGISTRY_URL));
    const client = createSchemaRegistryClient(conn, { cacheSize: 10 });
    const subject = subjectForTopic(s.topic);
    const first = await registerAvroSchema(client, conn, subject);
    const second = await registerAvroSchema(client, conn, subject, v2);
    expect(second.compatibility).toBe('BACKWARD');
    expect(second.id).not.toBe(first.id);
    const [e1, e2] = [sampleEvent('request.create', 'P1'), sampleEvent('request.create', 'P1')];
    await produce(s.topic, [
      { key: 'P1', value: await client.encode(first.id, toAvroEventValue(e1)) },
      {
        key: 'P1',
        value: await client.encode(second.id, { ...toAvroEventValue(e2), source_channel: 'whatsapp' }),
      },
      { key: 'P1', value: json(e2) },
    ]);
    await waitFor(() => s.receiver.requests.length === 3, { timeoutMs: 30_000, message: '3 webhooks' });
    expect(payloadsOf(s.receiver.requests)).toEqual(sortedPayloads([e1, e2, e2]));
    // e2 from the v2 writer and e2 from JSON: the same bytes.
    const e2Bodies = s.receiver.requests
      .filter((r) => r.body.includes(JSON.stringify(e2.payload)))
      .map((r) => r.body);
    expect(e2Bodies).toHaveLength(2);
    const [v2Body, jsonBody] = e2Bodies;
    expect(v2Body).toBe(jsonBody);
    expect(v2Body).not.toContain('source_channel');
    await waitFor(async () => (await committed(s)) === '3', { timeoutMs: 10_000, message: 'all committed' });
    expect(await readToEnd(s.dlq)).toHaveLength(0);
  });

  it('dead-letters a record with an unknown schema id (reason unknown_schema) and delivers the next ones', async () => {
    const s = await setup();
    const [before, after, last] = [
      sampleEvent('request.create', 'P1'),
      sampleEvent('request.create', 'P1'),
      sampleEvent('message.create', 'P1'),
    ];
    const [beforeAvro, afterAvro] = await encodeAvroEvents(
      [before, after],
      registryConfig(SHARED_REGISTRY_URL),
      s.topic,
    );
    const unknown = Buffer.from(beforeAvro!);
    unknown.writeInt32BE(2_000_000_000, 1); // a well-formed record naming a schema id nobody registered
    await produce(s.topic, [
      { key: 'P1', value: beforeAvro! },
      { key: 'P1', value: unknown },
      { key: 'P1', value: afterAvro! },
      { key: 'P1', value: json(last) },
    ]);
    await waitFor(() => s.receiver.requests.length === 3, {
      timeoutMs: 30_000,
      message: 'the 3 good records delivered',
    });
    const [dl, ...more] = await readAll(s.dlq, { expected: 1, timeoutMs: 10_000 });
    expect(more).toHaveLength(0);
    expect(dl!.headers['dlq-reason']).toBe('unknown_schema');
    expect(dl!.headers['dlq-error']).toMatch(/2000000000/);
    expect(dl!.headers['dlq-original-offset']).toBe('1');
    expect(Buffer.compare(dl!.value!, unknown)).toBe(0);
    expect(payloadsOf(s.receiver.requests)).toEqual(sortedPayloads([before, after, last]));
    await waitFor(async () => (await committed(s)) === '4', { timeoutMs: 10_000, message: 'all committed' });
    expect(
      await s.connector.metric('webhook_connector_events_poison_total', { reason: 'unknown_schema' }),
    ).toBe(1);
  });

  it('pauses consumption while the registry is unreachable (nothing dead-lettered) and resumes when it is back', async () => {
    const proxy = await startRegistryProxy(SHARED_REGISTRY_URL);
    cleanups.push(() => proxy.close());
    const s = await setup(proxy.url);
    const producerConfig = registryConfig(SHARED_REGISTRY_URL); // producers still reach the registry
    const conn = registryConnection(producerConfig);
    const client = createSchemaRegistryClient(conn, { cacheSize: 10 });
    const subject = subjectForTopic(s.topic);

    // Up: a v1 record goes through (its writer schema is now cached by the connector).
    const v1 = await registerAvroSchema(client, conn, subject);
    const warmup = sampleEvent('request.create', 'P1');
    await produce(s.topic, [{ key: 'P1', value: await client.encode(v1.id, toAvroEventValue(warmup)) }]);
    await waitFor(() => s.receiver.requests.length === 1, {
      timeoutMs: 30_000,
      message: 'warm-up delivered',
    });
    await waitFor(async () => (await committed(s)) === '1', {
      timeoutMs: 10_000,
      message: 'warm-up committed',
    });

    // Down: records written with a schema the connector has not seen yet need the registry.
    await proxy.refuse();
    const v2id = (await registerAvroSchema(client, conn, subject, v2)).id;
    const during = [
      sampleEvent('request.create', 'P1'),
      sampleEvent('message.create', 'P1'),
      sampleEvent('request.create', 'P1'),
    ];
    await produce(
      s.topic,
      await Promise.all(
        during.map(async (e) => ({
          key: 'P1',
          value: await client.encode(v2id, { ...toAvroEventValue(e), source_channel: 'web' }),
        })),
      ),
    );
    await waitFor(
      () => (s.connector.app.readiness().detail.outages as string[]).includes('schema_registry'),
      {
        timeoutMs: 20_000,
        message: 'schema_registry outage reported',
      },
    );
    await waitFor(
      () => s.connector.logs.filter((l) => l.includes('schema registry unavailable; will retry')).length >= 3,
      {
        timeoutMs: 20_000,
        message: 'the record is retried',
      },
    );
    expect(s.connector.app.readiness().ready).toBe(false);
    expect(s.connector.logs.some((l) => l.includes('dependency outage: pausing consumption'))).toBe(true);
    expect(s.receiver.requests).toHaveLength(1);
    await s.connector.app.consumer.commit();
    expect(await committed(s)).toBe('1');
    expect(await readToEnd(s.dlq)).toHaveLength(0);

    // Back: everything is delivered and committed; still nothing dead-lettered.
    await proxy.accept();
    await waitFor(() => s.receiver.requests.length === 1 + during.length, {
      timeoutMs: 30_000,
      message: 'delivered after recovery',
    });
    await waitFor(async () => (await committed(s)) === String(1 + during.length), {
      timeoutMs: 10_000,
      message: 'committed after recovery',
    });
    expect(payloadsOf(s.receiver.requests.slice(1))).toEqual(sortedPayloads(during));
    await waitFor(() => s.connector.app.readiness().ready, { timeoutMs: 10_000, message: 'ready again' });
    expect(await readToEnd(s.dlq)).toHaveLength(0);
  });
  it('resumes when the registry is back although a rebalance aborted every record waiting for it', async () => {
    const proxy = await startRegistryProxy(SHARED_REGISTRY_URL);
    cleanups.push(() => proxy.close());
    const s = await setup(proxy.url);
    const producerConfig = registryConfig(SHARED_REGISTRY_URL);
    const conn = registryConnection(producerConfig);
    const client = createSchemaRegistryClient(conn, { cacheSize: 10 });
    const schemaId = (await registerAvroSchema(client, conn, subjectForTopic(s.topic))).id;

    // Down before the connector ever saw this schema: every record needs the registry.
    await proxy.refuse();
    const during = [
      sampleEvent('request.create', 'P1'),
      sampleEvent('message.create', 'P1'),
      sampleEvent('request.create', 'P1'),
    ];
    await produce(
      s.topic,
      await Promise.all(
        during.map(async (e) => ({ key: 'P1', value: await client.encode(schemaId, toAvroEventValue(e)) })),
      ),
    );
    const outageReported = (): boolean =>
      (s.connector.app.readiness().detail.outages as string[]).includes('schema_registry');
    await waitFor(outageReported, { timeoutMs: 20_000, message: 'schema_registry outage reported' });
    expect(await s.connector.metric('webhook_connector_in_flight_records')).toBeGreaterThan(0);

    // A second member joins and takes the only partition (RoundRobinAssigner gives it to the member id
    // that sorts first: "a-thief-…" < "tiledesk-webhook-connector-…"), which aborts the connector's
    // records; it takes nothing itself (pauses at once, commits nothing) and then leaves.
    const thief = testKafka({ clientId: 'a-thief' }).consumer({ groupId: s.groupId, maxWaitTimeInMs: 100 });
    cleanups.push(() => thief.disconnect());
    await thief.connect();
    await thief.subscribe({ topic: s.topic, fromBeginning: true });
    let thiefGotBatch = false;
    await thief.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ pause }) => {
        thiefGotBatch = true;
        pause();
      },
    });
    await waitFor(() => s.connector.app.consumer.assignment().length === 0, {
      timeoutMs: 30_000,
      message: 'the partition moved to the second member',
    });
    await waitFor(async () => (await s.connector.metric('webhook_connector_in_flight_records')) === 0, {
      timeoutMs: 10_000,
      message: 'the connector aborted its records',
    });
    await thief.disconnect();
    await waitFor(() => s.connector.app.consumer.assignment().length === 1, {
      timeoutMs: 30_000,
      message: 'the partition is back',
    });
    expect(thiefGotBatch).toBe(true);
    // The state that used to last forever: outage declared, every partition paused, no record in flight.
    expect(outageReported()).toBe(true);
    expect(await s.connector.metric('webhook_connector_in_flight_records')).toBe(0);
    expect(await s.connector.metric('webhook_connector_paused_partitions')).toBe(1);
    expect(s.receiver.requests).toHaveLength(0);

    // Back: no new record arrives, yet the outage ends and everything is delivered and committed.
    await proxy.accept();
    await waitFor(() => s.receiver.requests.length === during.length, {
      timeoutMs: 30_000,
      message: 'delivered after recovery',
    });
    await waitFor(async () => (await committed(s)) === String(during.length), {
      timeoutMs: 10_000,
      message: 'committed after recovery',
    });
    expect(payloadsOf(s.receiver.requests)).toEqual(sortedPayloads(during));
    await waitFor(() => s.connector.app.readiness().ready, { timeoutMs: 10_000, message: 'ready again' });
    expect(await s.connector.metric('webhook_connector_dead_letters_total')).toBe(0);
  });
  it('a schema the registry refuses to us alone (403 for one subject) holds only its record: no outage, no dead letter', async () => {
    // The bytes come from the real registry; the connector asks a scripted one that refuses that id.
    const conn = registryConnection(registryConfig(SHARED_REGISTRY_URL));
    const client = createSchemaRegistryClient(conn, { cacheSize: 10 });
    const topic = uniqueName('sr-forbidden');
    const schemaId = (await registerAvroSchema(client, conn, subjectForTopic(topic))).id;
    let granted = false;
    const scripted = await startScriptedRegistry((req) => {
      if (req.url === '/schemas/types') return { status: 200, body: ['JSON', 'PROTOBUF', 'AVRO'] };
      if (req.url === `/schemas/ids/${schemaId}`) {
        return granted
          ? schemaAnswer(eventAvroSchema())
          : { status: 403, body: { error_code: 40301, message: 'User is denied operation Read on Subject' } };
      }
      return { status: 404, body: { error_code: 40403, message: 'Schema not found' } };
    });
    cleanups.push(() => scripted.close());
    const s = await setup(scripted.url);
    const refused = sampleEvent('request.create', 'P1');
    const other = sampleEvent('message.create', 'P1');
    await produce(s.topic, [
      { key: 'K1', value: await client.encode(schemaId, toAvroEventValue(refused)) },
      { key: 'K2', value: json(other) }, // same partition, another key
    ]);

    await waitFor(() => s.receiver.requests.length === 1, {
      timeoutMs: 20_000,
      message: 'the record behind it delivered',
    });
    await waitFor(() => scripted.schemaLookups().filter((id) => id === schemaId).length >= 2, {
      timeoutMs: 10_000,
      message: 'the refused record retried',
    });
    expect(payloadsOf(s.receiver.requests)).toEqual(sortedPayloads([other]));
    expect(s.connector.app.readiness()).toMatchObject({ ready: true, detail: { outages: [] } });
    expect(await s.connector.metric('webhook_connector_paused_partitions')).toBe(0);
    await s.connector.app.consumer.commit();
    expect(await committed(s)).toBeUndefined(); // offset 0 waits, so nothing can be committed

    granted = true; // access fixed: the record goes through at its next try, still never dead-lettered
    await waitFor(() => s.receiver.requests.length === 2, {
      timeoutMs: 20_000,
      message: 'the refused record delivered once its schema is readable',
    });
    expect(payloadsOf(s.receiver.requests)).toEqual(sortedPayloads([refused, other]));
    await waitFor(async () => (await committed(s)) === '2', { timeoutMs: 10_000, message: 'all committed' });
    expect(await s.connector.metric('webhook_connector_dead_letters_total')).toBe(0);
  });
});
