/**
 * The registry side on its own, over real HTTP: the decoder and the producer against the real Apicurio
 * (Confluent API), and against a local server scripting the answers a real registry does not give on
 * demand (5xx, 401, hangs, wrong base URL), to check which failures are poison and which are our outage,
 * and that schema lookups go through a bounded cache.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { loadConfig } from '../../src/config.js';
import { SAMPLE_EVENT_NAMES, sampleEvent } from '../../src/commands/demo/sample-events.js';
import {
  encodeAvroEvents,
  eventAvroSchema,
  registerAvroSchema,
  subjectForTopic,
  toAvroEventValue,
  type AvroSchemaJson,
} from '../../src/commands/demo/avro-producer.js';
import { decodeRecord, type RegistryDecoder } from '../../src/events/decode-record.js';
import type { RecordCoordinates } from '../../src/events/event.js';
import {
  createRegistryDecoderFromConfig,
  createSchemaRegistryClient,
  registryConnection,
  registryRequest,
  type RegistryConnection,
} from '../../src/events/registry-from-config.js';
import { createSchemaRegistryDecoder } from '../../src/events/schema-registry-decoder.js';
import { ErrorCode, isConnectorError } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import {
  SHARED_REGISTRY_URL,
  schemaAnswer,
  schemaNotFound,
  startScriptedRegistry,
  type ScriptedAnswer,
  type ScriptedRegistry,
} from '../support/registry.js';

const AT: RecordCoordinates = { topic: 'sr-client', partition: 0, offset: '3' };
const logger = createLogger('silent');
const v2 = JSON.parse(
  readFileSync(new URL('../fixtures/tiledesk-event.v2.avsc', import.meta.url), 'utf8'),
) as AvroSchemaJson;
const unique = (p: string): string =>
  `${p}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
const configFor = (url: string, env: Record<string, string> = {}) =>
  loadConfig({ SCHEMA_REGISTRY_URL: url, ...env });

function frame(id: number, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.writeInt32BE(id, 1);
  return Buffer.concat([head, body]);
}

/** 'ok' | a poison reason | 'outage' (SCHEMA_REGISTRY_UNAVAILABLE thrown). */
async function outcome(decoder: RegistryDecoder, value: Buffer): Promise<string> {
  try {
    const r = await decodeRecord(value, AT, { maxRecordBytes: 1_048_576, registry: decoder });
    return r.ok ? 'ok' : r.reason;
  } catch (err) {
    if (isConnectorError(err, ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE)) return 'outage';
    throw err;
  }
}

async function freePortThatRefuses(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('against the real registry (Apicurio, Confluent API)', () => {
  const conn: RegistryConnection = registryConnection(configFor(SHARED_REGISTRY_URL));
  const decoder = createRegistryDecoderFromConfig(configFor(SHARED_REGISTRY_URL), logger)!;

  it('encodes sample events for a topic (subject <topic>-value, BACKWARD) and decodes them to the JSON envelope', async () => {
    const topic = unique('sr-encode');
    const samples = SAMPLE_EVENT_NAMES.map((name) => sampleEvent(name, 'P1'));
    const values = await encodeAvroEvents(
      samples,
      configFor(SHARED_REGISTRY_URL, { KAFKA_TOPICS: topic }),
      topic,
    );
    const config = await registryRequest(conn, 'GET', `/config/${subjectForTopic(topic)}`);
    expect(config).toEqual({ status: 200, body: { compatibilityLevel: 'BACKWARD' } });
    const latest = await registryRequest(conn, 'GET', `/subjects/${subjectForTopic(topic)}/versions/latest`);
    const id = (latest.body as { id: number }).id;
    for (const [i, value] of values.entries()) {
      expect(value[0]).toBe(0);
      expect(value.readInt32BE(1)).toBe(id);
      const avro = await decodeRecord(value, AT, { maxRecordBytes: 1_048_576, registry: decoder });
      const json = await decodeRecord(Buffer.from(JSON.stringify(samples[i])), AT, {
        maxRecordBytes: 1_048_576,
      });
      if (!avro.ok || !json.ok) throw new Error('not decoded');
      expect({ ...avro.event, encoding: 'json' }).toEqual(json.event);
    }
  });

  it('accepts a BACKWARD-compatible v2 under the same subject and refuses an incompatible one', async () => {
    const subject = subjectForTopic(unique('sr-evolve'));
    const client = createSchemaRegistryClient(conn, { cacheSize: 10 });
    const first = await registerAvroSchema(client, conn, subject);
    const second = await registerAvroSchema(client, conn, subject, v2);
    expect(second.id).not.toBe(first.id);
    expect(second.compatibility).toBe(COMPATIBILITY.BACKWARD);
    const required = { ...v2, fields: [...v2.fields, { name: 'mandatory', type: 'string' }] };
    await expect(registerAvroSchema(client, conn, subject, required)).rejects.toThrow(/Incompatible|409/i);
    // v2 records decode to the same envelope, the extra field ignored by the envelope.
    const e = sampleEvent('request.create', 'P1');
    const value = await client.encode(second.id, { ...toAvroEventValue(e), source_channel: 'whatsapp' });
    const r = await decodeRecord(value, AT, { maxRecordBytes: 1_048_576, registry: decoder });
    expect(r.ok && JSON.parse(r.event.payload.toString('utf8'))).toEqual(e.payload);
  });

  it('Apicurio quirk: a subject registered outside the client reports NONE; plain register() throws, ours sets BACKWARD', async () => {
    const subject = subjectForTopic(unique('sr-quirk'));
    const raw = await fetch(`${SHARED_REGISTRY_URL}/subjects/${subject}/versions`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: JSON.stringify({ schema: JSON.stringify(eventAvroSchema()) }),
    });
    expect(raw.status).toBe(200);
    expect(await registryRequest(conn, 'GET', `/config/${subject}`)).toEqual({
      status: 200,
      body: { compatibilityLevel: 'NONE' },
    });
    const plain = new SchemaRegistry({ host: SHARED_REGISTRY_URL });
    await expect(
      plain.register({ type: SchemaType.AVRO, schema: JSON.stringify(eventAvroSchema()) }, { subject }),
    ).rejects.toThrow(/Compatibility does not match the configuration \(BACKWARD != NONE\)/);
    const client = createSchemaRegistryClient(conn, { cacheSize: 10 });
    expect((await registerAvroSchema(client, conn, subject)).compatibility).toBe(COMPATIBILITY.BACKWARD);
    expect(await registryRequest(conn, 'GET', `/config/${subject}`)).toEqual({
      status: 200,
      body: { compatibilityLevel: 'BACKWARD' },
    });
  });

  it('keeps a compatibility level an operator set explicitly (FULL)', async () => {
    const subject = subjectForTopic(unique('sr-full'));
    const client = createSchemaRegistryClient(conn, { cacheSize: 10 });
    await registerAvroSchema(client, conn, subject);
    expect((await registryRequest(conn, 'PUT', `/config/${subject}`, { compatibility: 'FULL' })).status).toBe(
      200,
    );
    expect((await registerAvroSchema(client, conn, subject, v2)).compatibility).toBe(COMPATIBILITY.FULL);
    expect(await registryRequest(conn, 'GET', `/config/${subject}`)).toEqual({
      status: 200,
      body: { compatibilityLevel: 'FULL' },
    });
  });

  it('an id the registry does not know is unknown_schema (404, error 40403)', async () => {
    expect(await outcome(decoder, frame(2_000_000_000, Buffer.from([0])))).toBe('unknown_schema');
  });

  it('a SCHEMA_REGISTRY_URL without the Confluent API path (404 without error code) is an outage, not poison', async () => {
    const wrong = createRegistryDecoderFromConfig(configFor(new URL(SHARED_REGISTRY_URL).origin), logger)!;
    expect(await outcome(wrong, frame(2_000_000_000, Buffer.from([0])))).toBe('outage');
  });
});

describe('against a scripted registry', () => {
  const v1 = eventAvroSchema();
  const sample = toAvroEventValue(sampleEvent('request.create', 'P1'));
  let body: Buffer;
  const servers: ScriptedRegistry[] = [];

  beforeAll(async () => {
    // The Avro body of `sample` under v1, encoded by the library itself.
    const s = await startScriptedRegistry(() => schemaAnswer(v1));
    servers.push(s);
    body = (
      await createSchemaRegistryClient(registryConnection(configFor(s.url)), { cacheSize: 1 }).encode(
        1,
        sample,
      )
    ).subarray(5);
  });
  afterAll(async () => {
    for (const s of servers) await s.close();
  });

  async function scripted(
    answer: (id: number) => ScriptedAnswer,
    env: Record<string, string> = {},
    timeoutMs = 1_000,
  ) {
    const server = await startScriptedRegistry((req) => {
      const m = /^\/schemas\/ids\/(\d+)/.exec(req.url);
      return m ? answer(Number(m[1])) : { status: 404 };
    });
    servers.push(server);
    const config = configFor(server.url, env);
    const conn = registryConnection(config, timeoutMs);
    const decoder = createSchemaRegistryDecoder({
      schemas: createSchemaRegistryClient(conn, { cacheSize: config.SCHEMA_REGISTRY_CACHE_SIZE }),
      probeSchemaId: (id) => registryRequest(conn, 'GET', `/schemas/ids/${id}`),
      logger,
    });
    return { server, decoder };
  }

  it('caches writer schemas in a bounded LRU: with SCHEMA_REGISTRY_CACHE_SIZE=2 an evicted id is fetched again', async () => {
    const { server, decoder } = await scripted(() => schemaAnswer(v1), { SCHEMA_REGISTRY_CACHE_SIZE: '2' });
    for (const id of [1, 2, 1, 3, 1, 2, 2]) expect(await outcome(decoder, frame(id, body))).toBe('ok');
    // 1, 2 miss; 1 hit; 3 miss (evicts 2); 1 hit; 2 miss (evicts 3); 2 hit.
    expect(server.schemaLookups()).toEqual([1, 2, 3, 2]);
  });

  it('concurrent decodes of one new id share one lookup', async () => {
    const { server, decoder } = await scripted(() => schemaAnswer(v1));
    const results = await Promise.all(Array.from({ length: 20 }, () => outcome(decoder, frame(7, body))));
    expect(new Set(results)).toEqual(new Set(['ok']));
    expect(server.schemaLookups()).toEqual([7]);
  });

  it('404 with error 40403 → unknown_schema (one lookup, one re-check, no retries)', async () => {
    const { server, decoder } = await scripted((id) => schemaNotFound(id));
    expect(await outcome(decoder, frame(5, body))).toBe('unknown_schema');
    expect(server.schemaLookups()).toEqual([5, 5]);
  });

  it.each([
    ['500', { status: 500, body: { error_code: 50001, message: 'store error' } }],
    ['503', { status: 503, body: 'unavailable' }],
    ['401', { status: 401, body: { error_code: 401, message: 'unauthorized' } }],
    ['403', { status: 403, body: { error_code: 403, message: 'forbidden' } }],
    ['404 without error code', { status: 404, body: '' }],
    ['200 with an HTML page', { status: 200, body: '<html>login</html>', contentType: 'text/html' }],
  ] as [string, ScriptedAnswer][])('%s → outage', async (_name, answer) => {
    const { decoder } = await scripted(() => answer);
    expect(await outcome(decoder, frame(5, body))).toBe('outage');
  });

  it('retries 5xx twice before reporting the outage', async () => {
    const { server, decoder } = await scripted(() => ({ status: 502, body: 'bad gateway' }));
    expect(await outcome(decoder, frame(5, body))).toBe('outage');
    expect(server.schemaLookups()).toEqual([5, 5, 5]);
  });

  it('a registry that accepts and never answers → outage after the timeout', async () => {
    const { decoder } = await scripted(() => 'hang', {}, 300);
    const t0 = Date.now();
    expect(await outcome(decoder, frame(5, body))).toBe('outage');
    expect(Date.now() - t0).toBeLessThan(3_000);
  });

  it('a refused connection → outage', async () => {
    const port = await freePortThatRefuses();
    const decoder = createRegistryDecoderFromConfig(
      configFor(`http://127.0.0.1:${port}/apis/ccompat/v7`),
      logger,
    )!;
    expect(await outcome(decoder, frame(5, body))).toBe('outage');
  });

  it('a body that does not match its writer schema → undecodable', async () => {
    const { decoder } = await scripted(() => schemaAnswer(v1));
    expect(await outcome(decoder, frame(5, Buffer.from([0x02, 0xff, 0xff])))).toBe('undecodable');
  });

  it('sends basic auth from SCHEMA_REGISTRY_USERNAME/PASSWORD on lookups and re-checks', async () => {
    const { server, decoder } = await scripted((id) => schemaNotFound(id), {
      SCHEMA_REGISTRY_USERNAME: 'svc',
      SCHEMA_REGISTRY_PASSWORD: 's3cret',
    });
    expect(await outcome(decoder, frame(5, body))).toBe('unknown_schema');
    const expected = `Basic ${Buffer.from('svc:s3cret').toString('base64')}`;
    expect(server.requests.map((r) => r.headers.authorization)).toEqual([expected, expected]);
  });
});
