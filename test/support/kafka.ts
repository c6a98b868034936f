/**
 * Kafka helpers for integration tests, on the real broker of test/infra/infra.sh.
 *
 * Each helper opens its own kafkajs client and disconnects it before returning, so a test never has
 * to clean up after them. Give every test its own topic and group (`uniqueName`): tests share the broker.
 */
import { randomBytes } from 'node:crypto';
import { Kafka, logLevel, type IHeaders, type Message, type RecordMetadata } from 'kafkajs';
import {
  KAFKA_BROKERS,
  KAFKA_SASL_BROKERS,
  KAFKA_SASL_MECHANISM,
  KAFKA_SASL_PASSWORD,
  KAFKA_SASL_USERNAME,
} from './env.js';

/** A kafkajs client on the PLAINTEXT listener, or with `{ sasl: true }` on the SCRAM-SHA-256 one. Logs nothing. */
export function testKafka(options: { sasl?: boolean; clientId?: string } = {}): Kafka {
  const clientId = options.clientId ?? 'integration-test';
  const common = { clientId, logLevel: logLevel.NOTHING, connectionTimeout: 5_000, retry: { retries: 5 } };
  if (options.sasl !== true) return new Kafka({ ...common, brokers: [KAFKA_BROKERS] });
  return new Kafka({
    ...common,
    brokers: [KAFKA_SASL_BROKERS],
    sasl: { mechanism: KAFKA_SASL_MECHANISM, username: KAFKA_SASL_USERNAME, password: KAFKA_SASL_PASSWORD },
  });
}

/**
 * A name no other test uses, valid as a topic, group or Postgres identifier once lower-cased:
 * `<prefix>-<base36 time>-<random hex>`. Characters outside `[A-Za-z0-9._-]` in the prefix become `-`.
 */
export function uniqueName(prefix: string): string {
  const safe = prefix.replace(/[^A-Za-z0-9._-]/g, '-');
  return `${safe}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

/** Creates `name` (replication factor 1) and waits until every partition has a leader; fails if it exists. */
export async function createTopic(name: string, partitions = 1): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const created = await admin.createTopics({
      topics: [{ topic: name, numPartitions: partitions }],
      waitForLeaders: true,
    });
    if (!created) throw new Error(`topic ${name} already exists`);
  } finally {
    await admin.disconnect();
  }
}

/** Deletes topics (missing ones are ignored). Optional: the broker is thrown away after the run anyway. */
export async function deleteTopics(...names: string[]): Promise<void> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const topics = names.filter((n) => existing.has(n));
    if (topics.length > 0) await admin.deleteTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}

/** A record to produce. Header values are strings or bytes; `partition` overrides the key's partition. */
export interface ProducedRecord {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  headers?: Record<string, string | Buffer>;
  partition?: number;
}

/** Produces `records` in order, in one batch, acks=all; returns where they were written. */
export async function produce(topic: string, records: ProducedRecord[]): Promise<RecordMetadata[]> {
  const producer = testKafka().producer({ allowAutoTopicCreation: false });
  await producer.connect();
  try {
    const messages: Message[] = records.map((r) => ({
      key: r.key ?? null,
      value: r.value,
      headers: r.headers,
      partition: r.partition,
    }));
    return await producer.send({ topic, messages, acks: -1 });
  } finally {
    await producer.disconnect();
  }
}

/**
 * The offsets `groupId` has committed on `topic`, by partition, as kafkajs gives them (decimal
 * strings: the next offset to consume). A partition without a commit is absent, so `[0]` is undefined.
 */
export async function committedOffsets(
  groupId: string,
  topic: string,
): Promise<Partial<Record<number, string>>> {
  const admin = testKafka().admin();
  await admin.connect();
  try {
    const [result] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const offsets: Partial<Record<number, string>> = {};
    for (const p of result?.partitions ?? []) if (p.offset !== '-1') offsets[p.partition] = p.offset;
    return offsets;
  } finally {
    await admin.disconnect();
  }
}

/** A record read back by `readAll`. Header values are decoded as UTF-8; a repeated header keeps its last value. */
export interface ConsumedRecord {
  partition: number;
  offset: number;
  timestamp: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export interface ReadAllOptions {
  /**
   * How many records to wait for. Reading stops as soon as that many have arrived, or at the deadline.
   * `0` reads for the whole `timeoutMs` (a window that may close before anything is written: to assert
   * an absence, use `readToEnd`). Left out: reads up to the end of the topic as it is when the call starts.
   */
  expected?: number;
  /** Deadline; what has arrived by then is returned (no error). Default 10 s. */
  timeoutMs?: number;
}

/**
 * Reads `topic` from the beginning with a throwaway consumer group (which commits nothing) and
 * returns its records sorted by partition, then offset. Creates the topic if it does not exist yet
 * (e.g. a dead-letter topic nothing was written to). To assert that something is absent, use `readToEnd`.
 */
export async function readAll(topic: string, options: ReadAllOptions = {}): Promise<ConsumedRecord[]> {
  return (await readUpTo(topic, options)).records;
}

/**
 * Every record of `topic` up to its end offsets (each partition's high watermark) as they are when the
 * call starts, for claims of absence ("nothing was dead-lettered"): call it once the work under test is
 * done (e.g. its records are committed: a dead letter is acknowledged before its record is committed), so
 * what it returns is all there is. Unlike `readAll(topic, { expected: 0 })`, no time window is watched: it
 * throws if it cannot read to the end by the deadline, rather than return "nothing". Creates a missing
 * topic, like `readAll`.
 */
export async function readToEnd(
  topic: string,
  options: { timeoutMs?: number } = {},
): Promise<ConsumedRecord[]> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const { records, caughtUp, ends } = await readUpTo(topic, { timeoutMs });
  if (!caughtUp) {
    const want = [...ends].map(([p, e]) => `${p}:${e.low}..${e.high}`).join(', ');
    throw new Error(
      `readToEnd(${topic}): did not reach the end offsets (${want}) within ${timeoutMs} ms; read ${records.length}`,
    );
  }
  return records;
}

interface PartitionEnds {
  readonly low: number;
  readonly high: number;
}

async function readUpTo(
  topic: string,
  options: ReadAllOptions,
): Promise<{ records: ConsumedRecord[]; caughtUp: boolean; ends: Map<number, PartitionEnds> }> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  const kafka = testKafka();

  // The ends of each partition now, for "read everything that is there".
  const admin = kafka.admin();
  await admin.connect();
  let ends: Map<number, PartitionEnds>;
  try {
    await admin.createTopics({ topics: [{ topic }], waitForLeaders: true }); // false (no-op) when it exists
    ends = new Map(
      (await admin.fetchTopicOffsets(topic)).map((p) => [
        p.partition,
        { low: Number(p.low), high: Number(p.high) },
      ]),
    );
  } finally {
    await admin.disconnect();
  }
  const caughtUp = (seen: Map<number, number>): boolean =>
    [...ends].every(([p, { low, high }]) => high <= low || (seen.get(p) ?? 0) >= high);

  const records: ConsumedRecord[] = [];
  const nextOffset = new Map<number, number>();
  const done = (): boolean => {
    if (options.expected === undefined) return caughtUp(nextOffset);
    return options.expected > 0 && records.length >= options.expected;
  };
  const result = () => ({
    records: records.sort((a, b) => a.partition - b.partition || a.offset - b.offset),
    caughtUp: caughtUp(nextOffset),
    ends,
  });
  if (done()) return result(); // an empty topic with nothing expected

  const consumer = kafka.consumer({
    groupId: uniqueName('read-all'),
    maxWaitTimeInMs: 100,
    retry: { retries: 5 },
  });
  let finish = (): void => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const timer = setTimeout(() => finish(), Math.max(0, deadline - Date.now()));
  // Disconnecting while the consumer is still joining its group can leave a kafkajs socket open (and jest
  // running after the tests): wait for the join (bounded) before disconnecting.
  let joinedOrGaveUp = (): void => undefined;
  const joined = new Promise<void>((resolve) => (joinedOrGaveUp = resolve));
  const joinWait = setTimeout(() => joinedOrGaveUp(), 15_000);
  consumer.on(consumer.events.GROUP_JOIN, () => joinedOrGaveUp());
  consumer.on(consumer.events.CRASH, () => joinedOrGaveUp());
  await consumer.connect();
  try {
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachMessage: async ({ partition, message }) => {
        if (done()) return;
        records.push({
          partition,
          offset: Number(message.offset),
          timestamp: Number(message.timestamp),
          key: message.key,
          value: message.value,
          headers: decodeHeaders(message.headers),
        });
        nextOffset.set(partition, Number(message.offset) + 1);
        if (done()) finish();
      },
    });
    await finished;
  } finally {
    clearTimeout(timer);
    await joined;
    clearTimeout(joinWait);
    await consumer.disconnect();
  }
  return result();
}

function decodeHeaders(headers: IHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers ?? {})) {
    const last = Array.isArray(value) ? value[value.length - 1] : value;
    if (last !== undefined) out[name] = last.toString();
  }
  return out;
}
