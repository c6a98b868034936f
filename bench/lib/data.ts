/**
 * The benchmark's data: ~1 KiB Tiledesk-shaped events keyed by project, the Kafka topics that hold them,
 * and the subscription sets in Postgres (each scenario its own database, so a connector loads exactly
 * the set it is measured with).
 *
 * Past 300 lines because the three belong together: every scenario's events, topics and subscription
 * rows are made from the same projects and event names, and splitting them would only export those
 * constants across files.
 */
import { Kafka, logLevel, type Producer } from 'kafkajs';
import pg from 'pg';
import { migrate } from '../../src/subscriptions/migrate.js';
import { dueAt } from './stats.js';

export const BROKER = '127.0.0.1:9092';
export const PG_ADMIN_URL = 'postgres://postgres@127.0.0.1:5432/postgres';
export const PARTITIONS = 8;
export const PROJECTS = 1_000;
export const EVENT_BYTES = 1_024;

/** Real Tiledesk event names; events in the topics cycle through the first EVENTS_IN_TOPIC of them. */
const REAL_EVENTS = [
  'request.create',
  'request.close',
  'message.create',
  'lead.create',
  'lead.update',
  'request.update',
  'message.create.request.channel.whatsapp',
  'request.assigned',
  'request.participants.update',
  'event.emit.typing.start',
  'request.close.extended',
  'request.create.queue',
  'request.snapshot',
  'message.update',
  'message.sent',
  'project_user.update',
  'project_user.invite',
  'project_user.delete',
  'project_user.update.agent',
  'department.create',
  'faq.create',
  'faq.update',
  'faq.delete',
  'faqbot.create',
  'faqbot.update',
  'faqbot.delete',
  'group.create',
  'subscription.create',
  'user.signup',
  'operator.select',
  'event.emit.faqbot.answer_not_found',
  'event.emit.request.fully_abandoned',
  'conversation.created',
  'conversation.closed',
  'conversation.tag_added',
  'department.assignment',
  'bot.message.received.notify.external',
  'project.create',
];
/** 100 event names: the real ones, then `custom.event.NN`. */
export const EVENT_NAMES: readonly string[] = [
  ...REAL_EVENTS,
  ...Array.from({ length: 100 - REAL_EVENTS.length }, (_, k) => `custom.event.${String(k).padStart(2, '0')}`),
];
export const EVENTS_IN_TOPIC = 10;

export const projectId = (p: number): string => `P${String(p).padStart(4, '0')}`;

const kafka = new Kafka({
  clientId: 'bench',
  brokers: [BROKER],
  logLevel: logLevel.NOTHING,
  retry: { retries: 5 },
});

/**
 * A support conversation's words: an event's note is drawn from them, one word in eight an order number,
 * so events compress like text and not like one repeated letter. What the delivery log stores is measured
 * on these (deflate: 1.6:1 for one event, 4:1 for a thousand; Postgres's lz4 over a thousand: 3:1).
 */
const WORDS = (
  'the a to and of my your order is not it for I you have with on this that was can please help ' +
  'delivery package arrived yesterday today tomorrow refund invoice account password login error page ' +
  'checkout payment card failed twice charged shipping address changed wrong size color return label ' +
  'support agent ticket number thanks hello hi again still waiting days week since when will could ' +
  'would should cancel subscription plan upgrade downgrade discount code coupon expired valid email ' +
  'phone call back later morning evening urgent problem issue broken missing item box damaged photo ' +
  'attached screenshot browser mobile app update version crash slow loading sorry understand check ' +
  'status tracking courier warehouse stock available product price total tax receipt confirm'
).split(' ');

/** `bytes` of words picked by a generator seeded with `seed`: the same text for the same seed. */
export function benchText(seed: number, bytes: number): string {
  let x = (Math.imul(seed, 0x9e3779b1) + 1) >>> 0;
  let text = '';
  while (text.length < bytes) {
    x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
    // One word in eight an order number: the digits no compressor can guess.
    const word = x >>> 29 === 0 ? `#${(x >>> 4) % 1_000_000}` : WORDS[(x >>> 8) % WORDS.length];
    text += (text === '' ? '' : ' ') + word;
  }
  return text.slice(0, bytes);
}

export interface BenchEvent {
  readonly key: string;
  readonly value: Buffer;
}

/**
 * Event number i of a run: project i mod 1000 (scrambled), event name i mod `names` (default 10); value
 * padded to ~1 KiB with words (`benchText`).
 */
export function benchEvent(run: string, i: number, timestamp: number, names = EVENTS_IN_TOPIC): BenchEvent {
  const project = projectId((i * 7919) % PROJECTS);
  const body = {
    id: `${run}-${i}`,
    event: EVENT_NAMES[i % names],
    id_project: project,
    timestamp,
    payload: {
      _id: `6${String(i).padStart(23, '0')}`,
      request_id: `support-group-${project}-${i}`,
      status: 200,
      first_text: 'Hello, I need help with my order',
      channel: { name: 'chat21' },
      id_project: project,
      createdAt: new Date(timestamp).toISOString(),
      attributes: {
        userAgent: 'Mozilla/5.0 (X11; Linux x86_64)',
        sourcePage: 'https://shop.example.com/checkout',
        note: '',
      },
    },
  };
  const base = Buffer.byteLength(JSON.stringify(body));
  body.payload.attributes.note = benchText(i, Math.max(0, EVENT_BYTES - base));
  return { key: project, value: Buffer.from(JSON.stringify(body)) };
}

export async function withAdmin<T>(fn: (admin: ReturnType<Kafka['admin']>) => Promise<T>): Promise<T> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Creates the topics and waits until every partition has a leader (the broker may still be settling). */
export async function createTopics(names: readonly string[], partitions = PARTITIONS): Promise<void> {
  await withAdmin(async (admin) => {
    await admin.createTopics({
      topics: names.map((topic) => ({ topic, numPartitions: partitions })),
      waitForLeaders: false,
    });
    const deadline = Date.now() + 60_000;
    for (;;) {
      try {
        const { topics } = await admin.fetchTopicMetadata({ topics: [...names] });
        if (
          topics.length === names.length &&
          topics.every((t) => t.partitions.length === partitions && t.partitions.every((p) => p.leader >= 0))
        ) {
          return;
        }
      } catch (err) {
        if (Date.now() > deadline) throw err;
      }
      if (Date.now() > deadline) throw new Error(`topics ${names.join(', ')} have no leaders after 60 s`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  });
}

/** Deletes the topics whose name starts with `prefix` (only the benchmark's own). */
export async function deleteTopics(prefix: string): Promise<string[]> {
  return withAdmin(async (admin) => {
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length > 0) await admin.deleteTopics({ topics: mine, timeout: 30_000 }).catch(() => undefined);
    return mine;
  });
}

export async function connectProducer(): Promise<Producer> {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  return producer;
}

/**
 * Produces `count` events (numbered from `first`, cycling through `names` event names) to each topic,
 * `batch` per request, a few requests in flight.
 */
export async function preload(
  topics: readonly string[],
  run: string,
  count: number,
  first = 0,
  batch = 1_000,
  names = EVENTS_IN_TOPIC,
): Promise<void> {
  const producer = await connectProducer();
  try {
    const now = Date.now();
    const sends: Promise<unknown>[] = [];
    for (let start = first; start < first + count; start += batch) {
      const messages: BenchEvent[] = [];
      for (let i = start; i < Math.min(first + count, start + batch); i++) {
        messages.push(benchEvent(run, i, now, names));
      }
      sends.push(
        producer.sendBatch({ acks: 1, topicMessages: topics.map((topic) => ({ topic, messages })) }),
      );
      if (sends.length >= 4) await sends.shift();
    }
    await Promise.all(sends);
  } finally {
    await producer.disconnect();
  }
}

/**
 * Produces at a fixed rate for `seconds` (event timestamp = send time), in 10 ms ticks; returns how many
 * were produced and how far behind the schedule the producer ever fell.
 */
export async function produceAtRate(
  topic: string,
  run: string,
  perSecond: number,
  seconds: number,
  first: number,
  names = EVENTS_IN_TOPIC,
): Promise<{ produced: number; maxLagMs: number }> {
  const producer = await connectProducer();
  try {
    const start = Date.now();
    let produced = 0;
    let maxLagMs = 0;
    const total = Math.floor(perSecond * seconds);
    const inFlight = new Set<Promise<unknown>>();
    while (produced < total) {
      const elapsed = Date.now() - start;
      const due = Math.min(total, dueAt(elapsed, perSecond));
      if (due > produced) {
        const messages: BenchEvent[] = [];
        const now = Date.now();
        for (let i = produced; i < due; i++) messages.push(benchEvent(run, first + i, now, names));
        maxLagMs = Math.max(maxLagMs, elapsed - (produced * 1000) / perSecond);
        produced = due;
        const p = producer.send({ topic, acks: 1, messages }).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await Promise.all(inFlight);
    return { produced, maxLagMs };
  } finally {
    await producer.disconnect();
  }
}

// ------------------------------------------------------------------------------------------ Postgres

export interface SubscriptionRow {
  readonly idProject: string;
  readonly event: string;
  readonly target: string;
  readonly global: boolean;
}

/** Drops and recreates database `name`, migrates it, inserts `rows` (in chunks), returns its URL. */
export async function createSubscriptionDb(name: string, rows: readonly SubscriptionRow[]): Promise<string> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = `postgres://postgres@127.0.0.1:5432/${name}`;
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  try {
    await migrate(pool);
    const chunk = 10_000;
    for (let k = 0; k < rows.length; k += chunk) {
      const part = rows.slice(k, k + chunk);
      await pool.query(
        `insert into webhook_subscriptions (id_project, event, target, secret, global, created_by)
         select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[])`,
        [
          part.map((r) => r.idProject),
          part.map((r) => r.event),
          part.map((r) => r.target),
          part.map(
            (_, j) => `whsec_${Buffer.from(`bench-secret-${k + j}-0123456789abcdef`).toString('base64')}`,
          ),
          part.map((r) => r.global),
          part.map(() => 'bench'),
        ],
      );
    }
  } finally {
    await pool.end();
  }
  return url;
}

export async function dropDatabases(prefix: string): Promise<void> {
  const admin = new pg.Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>(
      'select datname from pg_database where datname like $1',
      [`${prefix}%`],
    );
    for (const r of rows) await admin.query(`drop database if exists ${r.datname} with (force)`);
  } finally {
    await admin.end();
  }
}

/** `perEvent` global subscriptions for each event name in the topics, targets `url(k)` (k = copy). */
export function globalSubscriptions(perEvent: number, url: (copy: number) => string): SubscriptionRow[] {
  const rows: SubscriptionRow[] = [];
  for (let e = 0; e < EVENTS_IN_TOPIC; e++) {
    for (let k = 0; k < perEvent; k++) {
      rows.push({ idProject: 'P-global', event: EVENT_NAMES[e]!, target: url(k), global: true });
    }
  }
  return rows;
}

/** One subscription per (project, event name): 1,000 × 100 = 100,000; each event of the topic matches one. */
export function projectSubscriptions(url: (project: number, event: number) => string): SubscriptionRow[] {
  const rows: SubscriptionRow[] = [];
  for (let p = 0; p < PROJECTS; p++) {
    for (let e = 0; e < EVENT_NAMES.length; e++) {
      rows.push({ idProject: projectId(p), event: EVENT_NAMES[e]!, target: url(p, e), global: false });
    }
  }
  return rows;
}
