import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { SchemaType } from '@kafkajs/confluent-schema-registry';
// The function the library itself uses (in getSchema) to turn registered schema text into an avsc type:
// the types below are exactly what the decoder gets from a real registry, built without a socket.
import { schemaFromConfluentSchema } from '@kafkajs/confluent-schema-registry/dist/schemaTypeResolver.js';
import { decodeRecord, type DecodeResult } from '../../../src/events/decode-record.js';
import type { RecordCoordinates } from '../../../src/events/event.js';
import {
  eventAvroSchema,
  toAvroEventValue,
  type JsonEventShape,
} from '../../../src/commands/demo/avro-producer.js';
import { LruCache } from '../../../src/events/lru.js';
import { BoundedSchemaCache, createSchemaRegistryClient } from '../../../src/events/registry-from-config.js';
import {
  classifyLookupError,
  createSchemaRegistryDecoder,
  type RegistryAnswer,
  type SchemaRegistryDecoderDeps,
} from '../../../src/events/schema-registry-decoder.js';
import { ErrorCode, isConnectorError } from '../../../src/errors.js';
import { createLogger } from '../../../src/logger.js';
import { schemaPath } from '../../../src/paths.js';
import { SAMPLE_EVENT_NAMES, sampleEvent } from '../../../src/commands/demo/sample-events.js';

const AT: RecordCoordinates = { topic: 'tiledesk.events', partition: 2, offset: '77' };
const jsonSchema = JSON.parse(readFileSync(schemaPath('tiledesk-event.v1.schema.json'), 'utf8')) as {
  required: string[];
  properties: Record<string, { type: string | string[] }>;
};
const v1Text = readFileSync(schemaPath('tiledesk-event.v1.avsc'), 'utf8');
const v2Text = readFileSync(new URL('../../fixtures/tiledesk-event.v2.avsc', import.meta.url), 'utf8');

type AvroType = {
  toBuffer(v: unknown): Buffer;
  fromBuffer(b: Buffer, resolver?: unknown): unknown;
  createResolver(t: unknown): unknown;
};
const v1Schema = schemaFromConfluentSchema({ type: SchemaType.AVRO, schema: v1Text });
const v2Schema = schemaFromConfluentSchema({ type: SchemaType.AVRO, schema: v2Text });
const v1 = v1Schema as unknown as AvroType;
const v2 = v2Schema as unknown as AvroType;

const frame = (id: number, body: Buffer): Buffer => {
  const head = Buffer.alloc(5);
  head.writeInt32BE(id, 1);
  return Buffer.concat([head, body]);
};

const silent = createLogger('silent');

function httpError(status: number, message = `status ${status}`): Error {
  // The shape of the library's ResponseError (api/middleware/errorMiddleware.js), which it does not export.
  return Object.assign(new Error(message), { name: 'ResponseError', status, url: 'GET /schemas/ids/1' });
}

/** A decoder over a fixed id → writer schema table, counting lookups and probes. */
function decoderWith(table: Record<number, unknown>, o: Partial<SchemaRegistryDecoderDeps> = {}) {
  const calls = { lookups: 0, probes: 0 };
  const deps: SchemaRegistryDecoderDeps = {
    schemas: {
      getSchema: async (id: number) => {
        calls.lookups++;
        if (!(id in table)) throw httpError(404, `Schema ${id} not found.`);
        const s = table[id];
        if (s instanceof Error) throw s;
        return s as never;
      },
    },
    probeSchemaId: async () => {
      calls.probes++;
      return { status: 404, body: { error_code: 40403, message: 'Schema not found.' } };
    },
    logger: silent,
    ...o,
  };
  return { decoder: createSchemaRegistryDecoder(deps), calls };
}

const opts = (registry = decoderWith({ 1: v1, 2: v2 }).decoder) => ({ maxRecordBytes: 1_048_576, registry });

function poison(r: DecodeResult): { reason: string; message: string } {
  if (r.ok) throw new Error(`expected a poison result, got event ${r.event.id}`);
  return r;
}

async function viaJson(e: unknown) {
  return decodeRecord(Buffer.from(JSON.stringify(e)), AT, opts());
}
async function viaAvro(e: JsonEventShape, id = 1, type = v1, extra: Record<string, unknown> = {}) {
  return decodeRecord(frame(id, type.toBuffer({ ...toAvroEventValue(e), ...extra })), AT, opts());
}

const now = 1_772_366_400_123;
const samples: [string, JsonEventShape][] = [
  ...SAMPLE_EVENT_NAMES.map(
    (name) => [name, sampleEvent(name, 'project-42', now)] as [string, JsonEventShape],
  ),
  ['a platform event (id_project null)', { ...sampleEvent('user.signup', null, now), id_project: null }],
  [
    'an event without id (derived from the record coordinates)',
    { event: 'request.create', id_project: 'p', timestamp: now, payload: { a: 1 } },
  ],
  ['an event without id_project', { id: 'e-1', event: 'lead.update', timestamp: 0, payload: {} }],
  [
    'unicode, nesting, numbers, booleans, nulls in the payload',
    {
      id: 'evt-2~!',
      event: 'message.create.request.channel.whatsapp',
      id_project: 'P1',
      timestamp: 8_640_000_000_000_000, // the last valid JS Date; avsc refuses longs beyond ±(2^53 - 2)
      payload: {
        text: 'ciao ✓ 👋 "quoted"\n',
        n: [1, 2.5, -3e-7],
        ok: true,
        nothing: null,
        deep: { a: { b: { c: ['x'] } } },
      },
    },
  ],
];

describe('tiledesk-event.v1.avsc mirrors tiledesk-event.v1.schema.json', () => {
  const fields = eventAvroSchema().fields as { name: string; type: unknown; default?: unknown }[];

  it('has the same fields, in the same order', () => {
    expect(fields.map((f) => f.name)).toEqual(Object.keys(jsonSchema.properties));
  });

  it('makes exactly the fields the JSON Schema does not require nullable, with default null', () => {
    for (const f of fields) {
      const nullable = Array.isArray(f.type) && f.type[0] === 'null';
      expect([f.name, nullable]).toEqual([f.name, !jsonSchema.required.includes(f.name)]);
      if (nullable) expect(f.default).toBeNull();
    }
  });

  it('maps the types: string ↔ string, integer ↔ timestamp-millis long, object ↔ JSON text', () => {
    const byName = Object.fromEntries(fields.map((f) => [f.name, f.type]));
    expect(byName).toEqual({
      id: ['null', 'string'],
      event: 'string',
      id_project: ['null', 'string'],
      timestamp: { type: 'long', logicalType: 'timestamp-millis' },
      payload: 'string',
    });
    expect(jsonSchema.properties.timestamp!.type).toBe('integer');
    expect(jsonSchema.properties.payload!.type).toBe('object');
  });

  it('is BACKWARD compatible with the v2 test schema (v2 reads v1 data; the new field gets its default)', () => {
    const e = samples[0]![1];
    const resolver = v2.createResolver(v1);
    expect(v2.fromBuffer(v1.toBuffer(toAvroEventValue(e)), resolver)).toMatchObject({
      ...toAvroEventValue(e),
      source_channel: null,
    });
  });
});

describe('the same events round-trip through both encodings to the same envelope', () => {
  it.each(samples)('%s', async (_name, e) => {
    const json = await viaJson(e);
    const avro = await viaAvro(e);
    if (!json.ok || !avro.ok) throw new Error(`not decoded: ${JSON.stringify({ json, avro })}`);
    expect(json.event.encoding).toBe('json');
    expect(avro.event.encoding).toBe('avro');
    expect({ ...avro.event, encoding: 'json' }).toEqual(json.event);
    expect(avro.event.payload.toString('utf8')).toBe(JSON.stringify(e.payload));
  });

  it('decodes records written with the evolved v2 schema to the same envelope', async () => {
    const e = samples[1]![1];
    const json = await viaJson(e);
    const avro = await viaAvro(e, 2, v2, { source_channel: 'whatsapp' });
    if (!json.ok || !avro.ok) throw new Error('not decoded');
    expect({ ...avro.event, encoding: 'json' }).toEqual(json.event);
  });

  it.each([
    ['an event name with a space', { event: 'request create' }],
    ['an empty id', { id: '' }],
    ['a negative timestamp', { timestamp: -1 }],
  ])('refuses %s as invalid in both encodings', async (_name, change) => {
    const e = { ...samples[0]![1], ...change } as JsonEventShape;
    expect(poison(await viaJson(e)).reason).toBe('invalid');
    expect(poison(await viaAvro(e)).reason).toBe('invalid');
  });
});

describe('Avro records that are poison', () => {
  const base = toAvroEventValue(samples[0]![1]);

  it('a payload that is not JSON text is undecodable', async () => {
    const r = poison(await decodeRecord(frame(1, v1.toBuffer({ ...base, payload: '{nope' })), AT, opts()));
    expect(r.reason).toBe('undecodable');
    expect(r.message).toMatch(/payload is not JSON/);
  });

  it.each(['[1,2]', '"text"', 'null', '42'])(
    'a payload of JSON %s (not an object) is invalid, as in JSON',
    async (payload) => {
      const r = poison(await decodeRecord(frame(1, v1.toBuffer({ ...base, payload })), AT, opts()));
      expect(r.reason).toBe('invalid');
      expect(r.message).toMatch(/payload/);
    },
  );

  it('a truncated body, trailing bytes, or a long beyond 2^53 are undecodable', async () => {
    const good = v1.toBuffer(base);
    for (const body of [good.subarray(0, good.length - 3), Buffer.concat([good, Buffer.from([1, 2])])]) {
      expect(poison(await decodeRecord(frame(1, body), AT, opts())).reason).toBe('undecodable');
    }
    // Hand-written Avro: id null, event "e", id_project null, timestamp (zig-zag varint), payload "{}".
    const record = (timestamp: number[]) =>
      Buffer.from([0x00, 0x02, 0x65, 0x00, ...timestamp, 0x04, 0x7b, 0x7d]);
    expect(v1.fromBuffer(record([0x00]))).toMatchObject({
      id: null,
      event: 'e',
      id_project: null,
      timestamp: 0,
      payload: '{}',
    });
    const unsafe = record([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20]); // 2^60
    const r = poison(await decodeRecord(frame(1, unsafe), AT, opts()));
    expect(r).toMatchObject({ reason: 'undecodable', message: expect.stringMatching(/precision/) });
  });

  it('a schema id registered as JSON Schema (not Avro) is undecodable', async () => {
    const jsonType = schemaFromConfluentSchema({ type: SchemaType.JSON, schema: '{"type":"object"}' });
    const { decoder } = decoderWith({ 5: jsonType });
    const r = poison(await decodeRecord(frame(5, Buffer.from('{}')), AT, opts(decoder)));
    expect(r).toMatchObject({ reason: 'undecodable', message: expect.stringMatching(/not an Avro schema/) });
  });

  it('a schema id of 0 or below is unknown without asking the registry', async () => {
    const { decoder, calls } = decoderWith({});
    for (const id of [0, -5]) {
      expect(poison(await decodeRecord(frame(id, Buffer.from([1])), AT, opts(decoder))).reason).toBe(
        'unknown_schema',
      );
    }
    expect(calls).toEqual({ lookups: 0, probes: 0 });
  });
});

describe('registry failures: poison (unknown schema) vs our outage', () => {
  const record = frame(9, v1.toBuffer(toAvroEventValue(samples[0]![1])));
  const probeAnswering = (a: RegistryAnswer | Error) => async () => {
    if (a instanceof Error) throw a;
    return a;
  };
  async function outcome(decoder: ReturnType<typeof decoderWith>['decoder']): Promise<string> {
    try {
      const r = await decoder.decode(record);
      return r.ok ? 'ok' : r.reason;
    } catch (err) {
      return isConnectorError(err, ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE) ? 'outage' : `threw ${String(err)}`;
    }
  }

  it('classifies the library errors: only a 404 can be about the record', () => {
    expect(classifyLookupError(httpError(404))).toBe('http_404');
    for (const status of [400, 401, 403, 408, 429, 500, 502, 503, 504]) {
      expect(classifyLookupError(httpError(status))).toBe('http_other');
    }
    expect(classifyLookupError(new SyntaxError('Unexpected token <'))).toBe('not_http');
    expect(classifyLookupError('weird')).toBe('not_http');
  });

  it('404 with Confluent error code 40403 → unknown_schema (poison)', async () => {
    const { decoder, calls } = decoderWith({});
    expect(await outcome(decoder)).toBe('unknown_schema');
    expect(calls).toEqual({ lookups: 1, probes: 1 });
  });

  it.each([
    ['a refused connection (the library reports a synthetic 400)', 400],
    ['unauthorized', 401],
    ['forbidden', 403],
    ['a timeout', 408],
    ['throttling', 429],
    ['a server error', 500],
    ['unavailable', 503],
  ])('%s → outage, without a probe', async (_n, status) => {
    const { decoder, calls } = decoderWith({ 9: httpError(status) });
    expect(await outcome(decoder)).toBe('outage');
    expect(calls.probes).toBe(0);
  });

  it('a 404 without the error code (a wrong SCHEMA_REGISTRY_URL) → outage, logged once as a likely misconfiguration', async () => {
    const lines: string[] = [];
    const logger = createLogger(
      'error',
      new Writable({ write: (c, _e, cb) => (lines.push(String(c)), cb()) }),
    );
    const { decoder } = decoderWith(
      {},
      {
        logger,
        probeSchemaId: probeAnswering({
          status: 404,
          body: { title: 'RESTEASY003210: Could not find resource' },
        }),
      },
    );
    expect(await outcome(decoder)).toBe('outage');
    expect(await outcome(decoder)).toBe('outage');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/apis\/ccompat\/v7/);
  });

  it('a 404 whose re-check cannot reach the registry → outage', async () => {
    const refused = Object.assign(new Error('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
    expect(await outcome(decoderWith({}, { probeSchemaId: probeAnswering(refused) }).decoder)).toBe('outage');
  });

  it('a 404, then the schema exists on re-check (registered meanwhile) → outage, i.e. retried', async () => {
    const { decoder } = decoderWith(
      {},
      { probeSchemaId: probeAnswering({ status: 200, body: { schema: v1Text } }) },
    );
    expect(await outcome(decoder)).toBe('outage');
  });

  it('a registered schema the library cannot parse → undecodable; a non-schema answer (HTML page) → outage', async () => {
    const broken = new Error('unknown type: Foo');
    const poisonous = decoderWith(
      { 9: broken },
      { probeSchemaId: probeAnswering({ status: 200, body: { schema: '{"type":"Foo"}' } }) },
    );
    expect(await outcome(poisonous.decoder)).toBe('undecodable');
    const html = decoderWith(
      { 9: new SyntaxError('Unexpected token <') },
      { probeSchemaId: probeAnswering({ status: 200, body: '<html>login</html>' }) },
    );
    expect(await outcome(html.decoder)).toBe('outage');
  });
});

describe('registry probe (ends an outage; tells a per-subject failure from a registry that is down)', () => {
  const probeWith = (a: RegistryAnswer | Error) =>
    decoderWith(
      {},
      {
        probeRegistry: async () => {
          if (a instanceof Error) throw a;
          return a;
        },
      },
    ).decoder.probe!();

  it('up only when GET /schemas/types answers 200 with a list', async () => {
    expect(await probeWith({ status: 200, body: ['JSON', 'PROTOBUF', 'AVRO'] })).toEqual({ ok: true });
  });

  it.each([
    ['wrong credentials for everything', { status: 401, body: { error_code: 401 } }],
    ['forbidden for everything', { status: 403, body: { error_code: 403 } }],
    ['a server error', { status: 503, body: '' }],
    ['a wrong URL (404)', { status: 404, body: { title: 'Could not find resource' } }],
    ['a login page', { status: 200, body: '<html>login</html>' }],
  ])('down on %s', async (_n, answer) => {
    expect(await probeWith(answer)).toEqual({ ok: false, message: expect.stringMatching(/schemas\/types/) });
  });

  it('down when the request fails (refused, timeout)', async () => {
    expect(await probeWith(new Error('fetch failed'))).toEqual({
      ok: false,
      message: expect.stringMatching(/fetch failed/),
    });
  });

  it('a decoder built without a probe request has no probe', () => {
    expect(decoderWith({}).decoder.probe).toBeUndefined();
  });
});

describe('bounded schema cache', () => {
  it('LruCache evicts the least recently used entry; get refreshes, peek and has do not', () => {
    const lru = new LruCache<number, string>(3);
    for (const k of [1, 2, 3]) lru.set(k, `v${k}`);
    expect(lru.get(1)).toBe('v1'); // 1 is now the most recent
    expect(lru.peek(2)).toBe('v2');
    expect(lru.has(2)).toBe(true);
    lru.set(4, 'v4'); // evicts 2, the least recently used
    expect(lru.keys()).toEqual([3, 1, 4]);
    lru.set(3, 'v3b'); // an update refreshes too
    lru.set(5, 'v5'); // evicts 1
    expect(lru.keys()).toEqual([4, 3, 5]);
    expect(lru.size).toBe(3);
    expect(lru.get(1)).toBeUndefined();
    expect(() => new LruCache(0)).toThrow(RangeError);
  });

  it('never holds more than its bound, whatever the access pattern', () => {
    const lru = new LruCache<number, number>(7);
    let largest = 0;
    for (let i = 0; i < 10_000; i++) {
      lru.set((i * 7919) % 1_000, i);
      lru.get((i * 31) % 1_000);
      largest = Math.max(largest, lru.size);
    }
    expect(largest).toBe(7);
  });

  it('BoundedSchemaCache keeps at most N writer schemas, LRU first', () => {
    const cache = new BoundedSchemaCache(2);
    cache.setSchema(1, SchemaType.AVRO, v1Schema);
    cache.setSchema(2, SchemaType.AVRO, v2Schema);
    expect(cache.getSchema(1)?.schema).toBe(v1Schema); // refreshes 1
    cache.setSchema(3, SchemaType.AVRO, v1Schema);
    expect(cache.ids()).toEqual([1, 3]);
    expect(cache.getSchema(2)).toBeUndefined();
    expect(Object.keys(cache.schemasByRegistryId)).toEqual(['1', '3']);
    cache.setLatestRegistryId('s', 3);
    expect(cache.getLatestRegistryId('s')).toBe(3);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it('replaces the unbounded cache of the library client, which serves hits from it', async () => {
    // Port 1 refuses connections: a resolved getSchema proves no request was made.
    const client = createSchemaRegistryClient(
      { url: 'http://127.0.0.1:1', username: '', password: '', timeoutMs: 100 },
      { cacheSize: 2, retries: 0 },
    );
    expect(client.cache).toBeInstanceOf(BoundedSchemaCache);
    client.cache.setSchema(7, SchemaType.AVRO, v1Schema);
    await expect(client.getSchema(7)).resolves.toBe(v1Schema);
  });
});
