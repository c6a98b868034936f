/**
 * Issue 5 acceptance (hostile input on the topic): records a producer bug or an attacker with write access
 * to the topic could send. Each one is dead-lettered with a `dlq-reason` and a `dlq-error` an operator can
 * act on, the normal record right after it is still delivered, and the service keeps running (ready, the
 * partition committed to the end).
 *
 * `__proto__` keys: JSON.parse makes them ordinary own properties (no prototype is touched) and the
 * payload is re-serialised by JSON.stringify, so the webhook body carries them faithfully, byte for byte.
 * That is the decision: the connector forwards the event as Tiledesk emitted it and pollutes nothing in
 * its own process; a receiver that merges bodies into objects must guard itself (docs/security.md).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConfigResourceTypes } from 'kafkajs';
import type pg from 'pg';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import {
  committedOffsets,
  createTopic,
  produce,
  readAll,
  testKafka,
  uniqueName,
  type ProducedRecord,
} from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

const MAX_RECORD_BYTES = 65_536;

let db: TestDatabase;
let pool: pg.Pool;
let r: Receiver;
let connector: TestConnector;
let topic: string;
let groupId: string;

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('hostile_records'));
  r = await startReceiver();
  await createSubscriptionStore(pool).add({
    idProject: 'P1',
    event: 'request.create',
    target: `${r.url}/hook`,
    createdBy: 'test',
    // The normal records are checked in record order: ordered per key (all are key P1).
    ordering: 'ordered',
  });
  topic = uniqueName('hostile');
  groupId = uniqueName('hostile-group');
  await createTopic(topic, 1);
  connector = await startConnector({
    topic,
    groupId,
    databaseUrl: db.url,
    env: { MAX_RECORD_BYTES: String(MAX_RECORD_BYTES) },
  });
});
afterAll(async () => {
  await connector?.stop();
  await r?.close();
  await pool?.end();
  await db?.drop();
});

const valid = (fields: Record<string, unknown> = {}): Record<string, unknown> => ({
  event: 'request.create',
  id_project: 'P1',
  timestamp: Date.now(),
  payload: { ok: true },
  ...fields,
});

interface Case {
  readonly name: string;
  readonly value: string | Buffer | null;
  readonly reason: string;
  readonly error: RegExp;
}

const cases: Case[] = [
  {
    name: 'over MAX_RECORD_BYTES',
    value: JSON.stringify(valid({ payload: { blob: 'x'.repeat(MAX_RECORD_BYTES) } })),
    reason: 'too_large',
    error: new RegExp(`^record value is \\d+ bytes, limit ${MAX_RECORD_BYTES}$`),
  },
  {
    // Parses (V8's JSON.parse is iterative) but cannot be re-serialised: refused once, at decode time.
    name: 'payload nested 30,000 levels deep',
    value: `{"event":"request.create","id_project":"P1","timestamp":1,"payload":{"a":${'['.repeat(30_000)}${']'.repeat(30_000)}}}`,
    reason: 'invalid',
    error: /^payload cannot be serialised: Maximum call stack size exceeded/,
  },
  {
    name: 'bytes that are not UTF-8',
    value: Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
    reason: 'undecodable',
    error: /not UTF-8 JSON: .*utf-8/i,
  },
  {
    name: 'a lone 0xff inside an otherwise valid event',
    value: Buffer.concat([
      Buffer.from('{"event":"request.create","id_project":"P1","timestamp":1,"payload":{"s":"'),
      Buffer.from([0xff]),
      Buffer.from('"}}'),
    ]),
    reason: 'undecodable',
    error: /not UTF-8 JSON/,
  },
  {
    name: 'wrong types',
    value: JSON.stringify({ event: 42, id_project: 7, timestamp: 'now', payload: [] }),
    reason: 'invalid',
    error: /^\/event must be string$/,
  },
  {
    name: 'payload that is an array',
    value: JSON.stringify(valid({ payload: [1, 2] })),
    reason: 'invalid',
    error: /^\/payload must be object$/,
  },
  {
    name: 'timestamp beyond a double',
    value: '{"event":"request.create","id_project":"P1","timestamp":1e400,"payload":{}}',
    reason: 'invalid',
    error: /^\/timestamp must be integer$/,
  },
  {
    // Would become an X-Tiledesk-Event header: CR/LF must never get that far.
    name: 'event name with CR/LF (header injection)',
    value: JSON.stringify(valid({ event: 'request.create\r\nX-Injected: yes' })),
    reason: 'invalid',
    error: /^\/event must match pattern/,
  },
  {
    name: 'event name ending in LF',
    value: JSON.stringify(valid({ event: 'request.create\n' })),
    reason: 'invalid',
    error: /^\/event must match pattern/,
  },
  {
    name: 'event id with CR/LF',
    value: JSON.stringify(valid({ id: 'e1\r\nX-Injected: yes' })),
    reason: 'invalid',
    error: /^\/id must match pattern/,
  },
  { name: 'an empty value', value: '', reason: 'empty', error: /^record has no value$/ },
  { name: 'a null value (tombstone)', value: null, reason: 'empty', error: /^record has no value$/ },
  {
    name: 'JSON that is an array',
    value: JSON.stringify([valid()]),
    reason: 'invalid',
    error: /^\(root\) must be object$/,
  },
  { name: 'JSON null', value: 'null', reason: 'invalid', error: /^\(root\) must be object$/ },
  {
    name: 'not JSON at all',
    value: '<xml/>',
    reason: 'undecodable',
    error: /^not UTF-8 JSON: Unexpected token/,
  },
  {
    name: 'Schema-Registry framing without a registry',
    value: Buffer.from([0, 0, 0, 0, 1, 2, 3]),
    reason: 'undecodable',
    error: /SCHEMA_REGISTRY_URL is not set/,
  },
];

/** Written by hand: JSON.stringify({ __proto__: ... }) would not write the key at all. */
const protoPayload =
  '{"__proto__":{"polluted":"payload"},"constructor":{"prototype":{"polluted":"ctor"}},"a":{"__proto__":{"polluted":"nested"}}}';
const protoEvent = `{"__proto__":{"polluted":"top"},"id":"proto-1","event":"request.create","id_project":"P1","timestamp":1,"payload":${protoPayload}}`;

describe('hostile records', () => {
  it('dead-letters each with a clear reason, delivers the record after each, and keeps running', async () => {
    const records: ProducedRecord[] = [];
    cases.forEach((c, i) => {
      records.push({ key: 'P1', value: c.value, headers: { case: c.name } });
      records.push({
        key: 'P1',
        value: JSON.stringify(valid({ id: `after-${i}`, payload: { after: c.name } })),
      });
    });
    records.push({ key: 'P1', value: protoEvent });
    records.push({ key: 'P1', value: JSON.stringify(valid({ id: 'last' })) });
    await produce(topic, records);

    // Records of a partition are processed concurrently (offsets are committed in order), so dead letters
    // may be written out of order: line them up by original offset.
    const dls = (await readAll(`${topic}.dlq`, { expected: cases.length, timeoutMs: 30_000 })).sort(
      (a, b) => Number(a.headers['dlq-original-offset']) - Number(b.headers['dlq-original-offset']),
    );
    await waitFor(() => r.requests.length === cases.length + 2, {
      timeoutMs: 30_000,
      message: 'every normal record delivered',
    });
    await waitFor(async () => (await committedOffsets(groupId, topic))[0] === String(records.length), {
      timeoutMs: 15_000,
      message: 'the partition committed to the end',
    });

    expect(dls.map((d) => d.headers.case)).toEqual(cases.map((c) => c.name));
    cases.forEach((c, i) => {
      const d = dls[i]!;
      expect({ case: c.name, reason: d.headers['dlq-reason'] }).toEqual({ case: c.name, reason: c.reason });
      expect({ case: c.name, error: d.headers['dlq-error'] }).toEqual({
        case: c.name,
        error: expect.stringMatching(c.error),
      });
      expect(d.headers['dlq-original-offset']).toBe(String(2 * i));
      // The original bytes are kept as they were, for inspection or a fixed replay.
      const original = c.value === null ? null : Buffer.from(c.value);
      if (original === null || original.length === 0) {
        expect(d.value === null || d.value.length === 0).toBe(true);
      } else expect(d.value?.equals(original)).toBe(true);
    });

    // Every normal record arrived, in order; no header was forged by the CR/LF attempts.
    const ids = r.requests.map(
      (q) => (JSON.parse(q.body) as { payload: { after?: string } }).payload.after ?? null,
    );
    expect(ids.slice(0, cases.length)).toEqual(cases.map((c) => c.name));
    for (const q of r.requests) {
      expect(q.headers['x-injected']).toBeUndefined();
      expect(q.headers['x-tiledesk-event']).toBe('request.create');
    }

    // __proto__: carried faithfully, nothing polluted in the connector's process (this process).
    const proto = r.requests[cases.length]!;
    expect(proto.body).toContain(`"payload":${protoPayload},"token":`);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype.hasOwnProperty.call(Object.prototype, 'polluted')).toBe(false);
    const parsed = JSON.parse(proto.body) as { payload: Record<string, unknown> };
    expect(Object.getPrototypeOf(parsed.payload)).toBe(Object.prototype);
    expect(Object.keys(parsed.payload)).toEqual(['__proto__', 'constructor', 'a']);

    expect(JSON.parse(r.requests.at(-1)!.body)).toMatchObject({ payload: { ok: true } });
    expect(connector.app.readiness().ready).toBe(true);
    const poison = (reason: string): Promise<number> =>
      connector.metric('webhook_connector_events_poison_total', { reason });
    expect(await poison('too_large')).toBe(1);
    expect(await poison('empty')).toBe(2);
    expect(await poison('undecodable')).toBe(4);
    expect(await poison('invalid')).toBe(9);
  });
});

/** The broker's `message.max.bytes` (the default limit of every topic, the dead-letter topic included). */
async function brokerMessageMaxBytes(): Promise<number> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const { brokers } = await admin.describeCluster();
    const { resources } = await admin.describeConfigs({
      resources: [
        {
          type: ConfigResourceTypes.BROKER,
          name: String(brokers[0]!.nodeId),
          configNames: ['message.max.bytes'],
        },
      ],
      includeSynonyms: false,
    });
    return Number(resources[0]!.configEntries.find((e) => e.configName === 'message.max.bytes')!.configValue);
  } finally {
    await admin.disconnect();
  }
}

describe('a record just under the broker size limit', () => {
  /*
   * With every setting at its default, a record that fits the source topic (a batch is the value + 74
   * bytes) but whose dead letter does not (the same value + ~300 bytes of dlq-* headers) must not stall its
   * partition: MESSAGE_TOO_LARGE is permanent for that record, so its dead letter is written without the
   * value (header dlq-value-omitted), and the records after it go on.
   */
  const nearTopic = uniqueName('hostile-near-limit');
  const nearGroup = uniqueName('hostile-near-limit-group');
  let c: TestConnector | undefined;
  afterAll(async () => {
    await c?.stop();
  });

  // A separate, ordinary test: if the setup fails, that is a red test, not a "failing test passed".
  it('setup: the record fits the source topic, and a normal record of the same key follows it', async () => {
    const limit = await brokerMessageMaxBytes();
    await createTopic(nearTopic, 1);
    c = await startConnector({ topic: nearTopic, groupId: nearGroup, databaseUrl: db.url });
    // Not JSON (undecodable) and under the default MAX_RECORD_BYTES; produced alone, it is accepted.
    const [written] = await produce(nearTopic, [{ key: 'P1', value: 'x'.repeat(limit - 100) }]);
    expect(written?.errorCode).toBe(0);
    await produce(nearTopic, [
      { key: 'P1', value: JSON.stringify(valid({ payload: { after: 'near-limit' } })) },
    ]);
  });

  it('is dead-lettered without its value, the next record is delivered, and the partition moves on', async () => {
    await waitFor(() => r.requests.some((q) => q.body.includes('"payload":{"after":"near-limit"}')), {
      timeoutMs: 20_000,
      message: 'the record after it delivered',
    });
    await waitFor(async () => (await committedOffsets(nearGroup, nearTopic))[0] === '2', {
      timeoutMs: 5_000,
      message: 'the partition committed past the near-limit record',
    });
    const [dl] = await readAll(`${nearTopic}.dlq`, { expected: 1, timeoutMs: 5_000 });
    expect(dl?.headers['dlq-reason']).toBe('undecodable');
    expect(dl?.value).toBeNull();
    expect(Number(dl?.headers['dlq-value-omitted'])).toBeGreaterThan(1_000_000);
    expect(dl?.headers['dlq-original-offset']).toBe('0');
  });
});
