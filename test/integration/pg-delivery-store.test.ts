/**
 * The parked-delivery store on a real Postgres, in a database of its own: park/claim round trip, batching,
 * SKIP LOCKED claims, leases and claim fencing, ordered lanes, subscription state, retention, stats, and
 * Postgres refusing.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { createPgDeliveryStore } from '../../src/parking/pg-delivery-store.js';
import type { DeliveryStore, ParkRequest } from '../../src/parking/types.js';
import { createMigratedDatabase, testPool, type TestDatabase } from '../support/pg.js';

let db: TestDatabase;
let admin: pg.Pool;
let pool: pg.Pool;
let store: DeliveryStore;

beforeAll(async () => {
  ({ db, pool: admin } = await createMigratedDatabase('pg_delivery_store'));
  pool = testPool(db.url, 'pg_delivery_store:store', 5);
  store = createPgDeliveryStore(pool);
});

afterAll(async () => {
  await pool?.end();
  await admin?.end();
  await db?.drop();
});

beforeEach(async () => {
  await admin.query('truncate webhook_deliveries, webhook_events, webhook_subscriptions');
});

async function subscription(id: string, enabled = true): Promise<string> {
  await admin.query(
    `insert into webhook_subscriptions (id, id_project, event, target, secret, enabled, created_by)
     values ($1, 'p1', 'request_create', 'http://127.0.0.1:1/' || $1, 'whsec_x', $2, 'test')`,
    [id, enabled],
  );
  return id;
}

/** How many transactions inserted deliveries while `work` ran (a statement trigger records each txid). */
async function parkTransactions(work: () => Promise<unknown>): Promise<number> {
  await admin.query(`create table park_txids (txid bigint primary key);
    create function park_txid() returns trigger language plpgsql as $$
    begin insert into park_txids values (txid_current()) on conflict do nothing; return null; end $$;
    create trigger park_txid after insert on webhook_deliveries for each statement execute function park_txid()`);
  try {
    await work();
    const r = await admin.query<{ n: number }>('select count(*)::int as n from park_txids');
    return r.rows[0]!.n;
  } finally {
    await admin.query(`drop trigger park_txid on webhook_deliveries; drop function park_txid();
      drop table park_txids`);
  }
}

let nextOffset = 0;

interface RequestOptions {
  subscriptionId?: string;
  offset?: number;
  lane?: string | null;
  dueAt?: number;
  webhookId?: string;
  eventId?: string;
  topic?: string;
  partition?: number;
}

function request(o: RequestOptions = {}): ParkRequest {
  const offset = String(o.offset ?? nextOffset++);
  const topic = o.topic ?? 'events';
  const partition = o.partition ?? 0;
  const eventId = o.eventId ?? `${topic}-${partition}-${offset}`;
  const subscriptionId = o.subscriptionId ?? 'sub-a';
  return {
    record: {
      topic,
      partition,
      offset,
      timestamp: '1700000000123',
      key: Buffer.from('p1'),
      value: Buffer.from(`{"id":"${eventId}"}`),
      headers: {},
    },
    event: {
      id: eventId,
      event: 'request_create',
      idProject: 'p1',
      timestamp: 1_700_000_000_000,
      payload: Buffer.from(`{"id":"${eventId}"}`),
      encoding: 'json',
    },
    subscriptionId,
    webhookId: o.webhookId ?? `msg_${eventId}_${subscriptionId}`,
    lane: o.lane ?? null,
    reason: 'retry',
    attempts: 1,
    dueAt: o.dueAt ?? Date.now() - 1_000,
  };
}

/** Claims until the database clock has run past a short lease (a claim finds the row again). */
async function claimAgain(owner: string): Promise<Awaited<ReturnType<DeliveryStore['claim']>>> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const claimed = await store.claim(owner, 10, 60_000);
    if (claimed.length > 0 || Date.now() > deadline) return claimed;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function count(where = 'true'): Promise<number> {
  const r = await admin.query<{ n: number }>(
    `select count(*)::int as n from webhook_deliveries where ${where}`,
  );
  return r.rows[0]!.n;
}

describe('park and claim', () => {
  it('round-trips the event and the original record byte for byte', async () => {
    await subscription('sub-a');
    const bytes = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 0x0a, 0x22, 0x5c]);
    const base = request({ offset: 42 });
    const parked: ParkRequest = {
      ...base,
      record: {
        ...base.record,
        key: Buffer.from([0xde, 0xad, 0x00, 0xbe]),
        value: bytes,
        headers: {
          'x-bin': Buffer.from([0x00, 0xff, 0x7f]),
          'x-text': 'héllo',
          'x-many': [Buffer.from('a'), 'b'],
          'x-absent': undefined,
        },
      },
      event: {
        ...base.event,
        payload: bytes,
        idProject: null,
        encoding: 'avro',
        timestamp: 1_700_000_000_456,
      },
      lane: null,
      attempts: 3,
      firstAttemptAt: 1_700_000_001_000,
      lastAttemptAt: 1_700_000_002_000,
      lastStatus: 503,
      lastError: 'Service\u0000Unavailable', // a NUL in an error text is replaced, not refused
    };
    await store.park([parked]);

    const [claimed, ...more] = await store.claim('owner-1', 10, 60_000);
    expect(more).toEqual([]);
    expect(claimed).toBeDefined();
    const c = claimed!;
    expect(c.event.payload.equals(bytes)).toBe(true);
    expect(c.event).toMatchObject({
      id: parked.event.id,
      event: 'request_create',
      idProject: null,
      timestamp: 1_700_000_000_456,
      encoding: 'avro',
    });
    expect(c.record.key?.equals(Buffer.from([0xde, 0xad, 0x00, 0xbe]))).toBe(true);
    expect(c.record.value?.equals(bytes)).toBe(true);
    expect(c.record).toMatchObject({
      topic: 'events',
      partition: 0,
      offset: '42',
      timestamp: '1700000000123',
    });
    expect(c.record.headers).toEqual({
      'x-bin': Buffer.from([0x00, 0xff, 0x7f]),
      'x-text': Buffer.from('héllo'),
      'x-many': [Buffer.from('a'), Buffer.from('b')],
    });
    expect(c).toMatchObject({
      subscriptionId: 'sub-a',
      webhookId: parked.webhookId,
      lane: null,
      attempts: 3,
      leaseExpired: false,
      subscriptionDeleted: false,
      firstAttemptAt: 1_700_000_001_000,
      lastStatus: 503,
      lastError: 'Service\ufffdUnavailable',
    });
    expect(typeof c.id).toBe('string');
    expect(Math.abs(c.dueAt - parked.dueAt)).toBeLessThan(1);
    // Leased: a second claim gets nothing.
    expect(await store.claim('owner-2', 10, 60_000)).toEqual([]);
  });

  it('keeps a record parked once, and one event row for several subscriptions', async () => {
    await subscription('sub-a');
    await subscription('sub-b');
    const a = request({ offset: 7, subscriptionId: 'sub-a' });
    const b = request({ offset: 7, subscriptionId: 'sub-b' });
    await store.park([a, b]);
    await store.park([a]); // a redelivered record
    await Promise.all([store.park([b]), store.park([a, b])]);
    expect(await count()).toBe(2);
    const events = await admin.query('select 1 from webhook_events');
    expect(events.rowCount).toBe(1);
  });

  it('round-trips a timestamp beyond bigint and an id_project holding a NUL', async () => {
    await subscription('sub-a');
    const base = request();
    const parked: ParkRequest = { ...base, event: { ...base.event, timestamp: 1e20, idProject: 'P\u00001' } };
    const plain = request();
    await store.park([parked, plain]);
    const claimed = await store.claim('o', 10, 60_000);
    const byWebhook = new Map(claimed.map((c) => [c.webhookId, c]));
    expect(byWebhook.get(parked.webhookId)?.event).toEqual(parked.event);
    expect(byWebhook.get(plain.webhookId)?.event).toEqual(plain.event);
  });

  it('keeps an event apart from an earlier one with the same record and event id but another payload', async () => {
    await subscription('sub-a');
    // A recreated topic: the same offset, so the same derived event id, for another event.
    const old = request({ offset: 300, webhookId: 'msg_old' });
    const reused = request({ offset: 300, webhookId: 'msg_new' });
    const recreated: ParkRequest = { ...reused, event: { ...reused.event, payload: Buffer.from('{"v":2}') } };
    await store.park([old]);
    await store.park([recreated]);
    await Promise.all([store.park([old, recreated]), store.park([recreated])]); // redelivered: nothing new
    const events = await admin.query<{ payload: Buffer }>('select payload from webhook_events order by id');
    expect(events.rows.map((r) => r.payload.toString())).toEqual([old.event.payload.toString(), '{"v":2}']);
    expect(await count()).toBe(2);
    const claimed = await store.claim('o', 10, 60_000);
    const byWebhook = new Map(claimed.map((c) => [c.webhookId, c]));
    expect(byWebhook.get('msg_old')?.event.payload.equals(old.event.payload)).toBe(true);
    expect(byWebhook.get('msg_new')?.event.payload.toString()).toBe('{"v":2}');
    expect(byWebhook.get('msg_new')?.event.id).toBe(old.event.id);
  });

  it('makes a held spill row due when its delivery parks again for another reason', async () => {
    await subscription('sub-a');
    const later = Date.now() + 3_600_000;
    const held: ParkRequest = { ...request({ webhookId: 'msg_spill', dueAt: later }), reason: 'spill' };
    const retry: ParkRequest = { ...request({ webhookId: 'msg_retry', dueAt: later }), reason: 'retry' };
    await store.park([held, retry]);
    expect(await store.claim('o', 10, 60_000)).toEqual([]);
    // Spilled again, or a non-spill row parked again: nothing changes (a redelivered record).
    await store.park([{ ...held, dueAt: Date.now() - 1_000 }]);
    await store.park([{ ...retry, reason: 'behind', dueAt: Date.now() - 1_000 }]);
    expect(await store.claim('o', 10, 60_000)).toEqual([]);

    await store.park([{ ...held, reason: 'behind', dueAt: Date.now() - 1_000 }]);
    const claimed = await store.claim('o', 10, 60_000);
    expect(claimed.map((c) => c.webhookId)).toEqual(['msg_spill']);
    expect(await count()).toBe(2);
  });

  it('does not claim what is not due yet', async () => {
    await subscription('sub-a');
    await store.park([request({ dueAt: Date.now() + 60_000 })]);
    expect(await count("state = 'parked'")).toBe(1);
    expect(await store.claim('o', 10, 60_000)).toEqual([]);
  });

  it('writes 100 concurrent parks in one transaction', async () => {
    await subscription('sub-a');
    const requests = Array.from({ length: 100 }, () => request());
    const transactions = await parkTransactions(() => Promise.all(requests.map((r) => store.park([r]))));
    expect(transactions).toBe(1);
    expect(await count("state = 'parked'")).toBe(100);
    const claimed = await store.claim('o', 500, 60_000);
    expect(new Set(claimed.map((c) => c.webhookId))).toEqual(new Set(requests.map((r) => r.webhookId)));
  });

  it('flushes as soon as maxBatch rows wait, and writes the rest in further batches', async () => {
    await subscription('sub-a');
    const slow = createPgDeliveryStore(pool, { batchDelayMs: 60_000, maxBatch: 10 });
    const started = Date.now();
    const transactions = await parkTransactions(() =>
      Promise.all(Array.from({ length: 30 }, () => slow.park([request()]))),
    );
    expect(Date.now() - started).toBeLessThan(10_000); // not the 60 s delay
    expect(transactions).toBe(3);
    expect(await count()).toBe(30);
  });
});

describe('claims and leases', () => {
  it('never gives the same row to two concurrent claimers', async () => {
    await subscription('sub-a');
    await store.park(Array.from({ length: 200 }, () => request()));
    const [a, b] = await Promise.all([store.claim('a', 150, 60_000), store.claim('b', 150, 60_000)]);
    const ids = [...a, ...b].map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.length).toBe(200);
  });

  it('lets another owner take an expired lease, and ignores the old owner afterwards', async () => {
    await subscription('sub-a');
    await store.park([request()]);
    const [first] = await store.claim('old', 10, 50);
    expect(first?.leaseExpired).toBe(false);
    // Not expired yet for the database clock → nothing; then it is.
    let second: Awaited<ReturnType<DeliveryStore['claim']>> = [];
    const deadline = Date.now() + 5_000;
    while (second.length === 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      second = await store.claim('new', 10, 60_000);
    }
    expect(second).toHaveLength(1);
    expect(second[0]).toMatchObject({ id: first!.id, leaseExpired: true });

    await store.finish('old', [
      {
        kind: 'delivered',
        id: first!.id,
        claim: first!.claim,
        attempts: 2,
        status: 200,
        firstAttemptAt: 1,
        lastAttemptAt: 2,
      },
    ]);
    expect(await count("state = 'parked' and lease_owner = 'new'")).toBe(1);

    await store.finish('new', [
      {
        kind: 'delivered',
        id: first!.id,
        claim: second[0]!.claim,
        attempts: 2,
        status: 200,
        firstAttemptAt: 1,
        lastAttemptAt: 2,
      },
    ]);
    const row = await admin.query(
      'select state, lease_owner, lease_until, finished_at is not null as finished, last_status from webhook_deliveries',
    );
    expect(row.rows[0]).toEqual({
      state: 'delivered',
      lease_owner: null,
      lease_until: null,
      finished: true,
      last_status: 200,
    });
  });

  it('applies a finish only to its own claim, not to a later claim of the same owner', async () => {
    await subscription('sub-a');
    await store.park([request()]);
    const [first] = await store.claim('o', 10, 50);
    expect(first?.claim).toBe(1);
    // Postgres was unreachable longer than the lease: the same owner claims the row again meanwhile.
    const [again] = await claimAgain('o');
    expect(again).toMatchObject({ id: first!.id, claim: 2, leaseExpired: true });

    const stale = { id: first!.id, claim: first!.claim, attempts: 2 };
    await store.finish('o', [
      { ...stale, kind: 'delivered', status: 200, firstAttemptAt: 1, lastAttemptAt: 2 },
    ]);
    await store.finish('o', [{ ...stale, kind: 'dead', reason: 'retries_exhausted' }]);
    await store.finish('o', [{ ...stale, kind: 'reschedule', dueAt: Date.now() + 3_600_000 }]);
    expect(
      await count("state = 'parked' and lease_owner = 'o' and lease_until > now() and attempts = 1"),
    ).toBe(1);

    await store.finish('o', [{ kind: 'dead', id: again!.id, claim: again!.claim, attempts: 3, reason: 'x' }]);
    expect(await count("state = 'dead' and attempts = 3")).toBe(1);
  });

  it('reschedules to now a row whose subscription its endpoint health disabled meanwhile', async () => {
    await subscription('sub-a');
    await subscription('sub-op');
    await store.park([request(), request({ subscriptionId: 'sub-op' })]);
    const claimed = await store.claim('o', 10, 60_000);
    expect(claimed).toHaveLength(2);
    await admin.query(
      `update webhook_subscriptions set enabled = false, disabled_at = now(),
         disabled_reason = case id when 'sub-a' then 'failing' else 'operator' end`,
    );
    await store.finish(
      'o',
      claimed.map((c) => ({
        kind: 'reschedule' as const,
        id: c.id,
        claim: c.claim,
        attempts: 2,
        dueAt: Date.now() + 3_600_000,
      })),
    );
    // The failing one is due now, for the runner to dead-letter; the operator-disabled one keeps its time.
    expect(await count("subscription_id = 'sub-a' and due_at <= now()")).toBe(1);
    expect(await count("subscription_id = 'sub-op' and due_at > now() + interval '50 minutes'")).toBe(1);
    const [again, ...more] = await store.claim('o', 10, 60_000);
    expect(more).toEqual([]);
    expect(again).toMatchObject({ subscriptionId: 'sub-a', subscriptionDisabled: 'failing' });
  });

  it('reschedules with the new due time and attempt, and dead-letters with a reason', async () => {
    await subscription('sub-a');
    await store.park([request(), request()]);
    const [x, y] = await store.claim('o', 10, 60_000);
    await store.finish('o', [
      {
        kind: 'reschedule',
        id: x!.id,
        claim: x!.claim,
        attempts: 2,
        dueAt: Date.now() + 3_600_000,
        reason: 'circuit',
        lastAttemptAt: 1_700_000_003_000,
        lastError: 'ECONNREFUSED',
      },
      {
        kind: 'dead',
        id: y!.id,
        claim: y!.claim,
        attempts: 8,
        reason: 'retries_exhausted',
        lastAttemptAt: 1_700_000_004_000,
        lastStatus: 500,
      },
    ]);
    const rows = await admin.query(
      `select id::text, state, parked_reason, attempts, lease_owner, dead_reason, last_status, last_error,
         due_at > now() + interval '50 minutes' as later, finished_at is not null as finished
       from webhook_deliveries order by id`,
    );
    const byId = new Map(rows.rows.map((r: { id: string }) => [r.id, r]));
    expect(byId.get(x!.id)).toMatchObject({
      state: 'parked',
      parked_reason: 'circuit',
      attempts: 2,
      lease_owner: null,
      last_status: null, // the attempt got no answer: the earlier status does not stay
      last_error: 'ECONNREFUSED',
      later: true,
      finished: false,
    });
    expect(byId.get(y!.id)).toMatchObject({
      state: 'dead',
      dead_reason: 'retries_exhausted',
      attempts: 8,
      last_status: 500,
      finished: true,
    });
    expect(await store.claim('o', 10, 60_000)).toEqual([]);
  });
});

describe('ordered lanes', () => {
  const lane = 'sub-a\u0000p1';

  it('claims only the head, and the next one after the head is finished', async () => {
    await subscription('sub-a');
    await store.park([
      request({ offset: 12, lane }),
      request({ offset: 10, lane }),
      request({ offset: 11, lane }),
      request({ offset: 13, lane: null }),
    ]);
    const first = await store.claim('o', 10, 60_000);
    expect(first.map((c) => [c.record.offset, c.lane]).sort()).toEqual([
      ['10', lane],
      ['13', null],
    ]);
    const head = first.find((c) => c.lane === lane)!;
    expect(await store.claim('o2', 10, 60_000)).toEqual([]);

    await store.finish('o', [
      {
        kind: 'delivered',
        id: head.id,
        claim: head.claim,
        attempts: 1,
        status: 200,
        firstAttemptAt: 1,
        lastAttemptAt: 1,
      },
    ]);
    const second = await store.claim('o', 10, 60_000);
    expect(second.map((c) => c.record.offset)).toEqual(['11']);
    await store.finish('o', [
      { kind: 'dead', id: second[0]!.id, claim: second[0]!.claim, attempts: 8, reason: 'retries_exhausted' },
    ]);
    expect((await store.claim('o', 10, 60_000)).map((c) => c.record.offset)).toEqual(['12']);
  });

  it('claims nothing of a lane while one of its rows is leased', async () => {
    await subscription('sub-a');
    await store.park([request({ offset: 21, lane })]);
    const [leased] = await store.claim('o', 10, 60_000);
    expect(leased?.record.offset).toBe('21');
    // A lower seq parked later (a delivery that was still in process) waits until the lease ends.
    await store.park([request({ offset: 20, lane })]);
    expect(await store.claim('o2', 10, 60_000)).toEqual([]);
    // Rescheduled into the past: no longer leased, and the lower seq is now the head.
    await store.finish('o', [
      { kind: 'reschedule', id: leased!.id, claim: leased!.claim, attempts: 2, dueAt: Date.now() - 1_000 },
    ]);
    expect((await store.claim('o2', 10, 60_000)).map((c) => c.record.offset)).toEqual(['20']);
  });

  it('drains lanes in order with two concurrent runners, never two rows of a lane at once', async () => {
    await subscription('sub-a');
    const lanes = Array.from({ length: 20 }, (_, i) => `sub-a\u0000k${i}`);
    const requests = lanes.flatMap((l, i) =>
      Array.from({ length: 5 }, (_, j) => request({ lane: l, offset: 1_000 + j * 100 + i })),
    );
    await store.park(requests);
    const inFlight = new Set<string>();
    const delivered = new Map<string, number[]>();
    let overlaps = 0;
    const runner = async (owner: string): Promise<void> => {
      const deadline = Date.now() + 30_000;
      while ([...delivered.values()].flat().length < requests.length && Date.now() < deadline) {
        const claimed = await store.claim(owner, 7, 60_000);
        for (const c of claimed) {
          if (inFlight.has(c.lane!)) overlaps++;
          inFlight.add(c.lane!);
        }
        await new Promise((resolve) => setTimeout(resolve, 1)); // the other runner claims meanwhile
        for (const c of claimed) {
          delivered.set(c.lane!, [...(delivered.get(c.lane!) ?? []), Number(c.record.offset)]);
        }
        await store.finish(
          owner,
          claimed.map((c) => ({
            kind: 'delivered' as const,
            id: c.id,
            claim: c.claim,
            attempts: 2,
            status: 200,
            firstAttemptAt: 1,
            lastAttemptAt: 2,
          })),
        );
        for (const c of claimed) inFlight.delete(c.lane!); // its lease ended with the finish
      }
    };
    await Promise.all([runner('r1'), runner('r2')]);
    expect(overlaps).toBe(0);
    expect([...delivered.values()].flat()).toHaveLength(requests.length);
    for (const offsets of delivered.values()) expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    expect(await count("state = 'delivered'")).toBe(requests.length);
  });

  it('skips the rows of the subscriptions it is told to (their circuit refuses attempts)', async () => {
    await subscription('sub-a');
    await subscription('sub-b');
    await store.park([request({ subscriptionId: 'sub-a' }), request({ subscriptionId: 'sub-b' })]);
    const first = await store.claim('runner-1', 10, 60_000, ['sub-a']);
    expect(first.map((c) => c.subscriptionId)).toEqual(['sub-b']);
    const second = await store.claim('runner-1', 10, 60_000, []);
    expect(second.map((c) => c.subscriptionId)).toEqual(['sub-a']);
  });

  it('does not skip the rows of a subscription disabled by its health: they are dead-lettered now', async () => {
    await subscription('sub-a');
    await store.park([request({ subscriptionId: 'sub-a' })]);
    await pool.query(
      `update webhook_subscriptions set enabled = false, disabled_reason = 'failing' where id = 'sub-a'`,
    );
    const claimed = await store.claim('runner-1', 10, 60_000, ['sub-a']);
    expect(claimed.map((c) => [c.subscriptionId, c.subscriptionDisabled])).toEqual([['sub-a', 'failing']]);
  });

  it('lists parked lanes of given partitions with their heads, and answers laneHead', async () => {
    await subscription('sub-a');
    const other = 'sub-a\u0000p2';
    await store.park([
      request({ lane, topic: 't1', partition: 0 }),
      request({ lane: other, topic: 't1', partition: 1 }),
      request({ lane: null, topic: 't1', partition: 0 }),
    ]);
    const lanesOf = async (ps: { topic: string; partition: number }[]): Promise<string[]> =>
      (await store.parkedLanes(ps)).map((l) => l.lane).sort();
    expect(await lanesOf([{ topic: 't1', partition: 0 }])).toEqual([lane]);
    expect(
      await lanesOf([
        { topic: 't1', partition: 0 },
        { topic: 't1', partition: 1 },
      ]),
    ).toEqual([lane, other].sort());
    expect(await store.parkedLanes([{ topic: 't2', partition: 0 }])).toEqual([]);
    const [loaded] = await store.parkedLanes([{ topic: 't1', partition: 0 }]);
    expect(loaded!.head).toBe(await store.laneHead(lane));
    expect(typeof loaded!.head).toBe('number');
    expect(await store.laneHead('sub-a\u0000nope')).toBeNull();
  });
});

describe('subscription state', () => {
  it('leaves rows of a disabled subscription parked until it is enabled again', async () => {
    await subscription('sub-a', false);
    await store.park([request()]);
    expect(await store.claim('o', 10, 60_000)).toEqual([]);
    await admin.query("update webhook_subscriptions set enabled = true where id = 'sub-a'");
    const claimed = await store.claim('o', 10, 60_000);
    expect(claimed).toHaveLength(1);
    expect(claimed[0]!.subscriptionDeleted).toBe(false);
  });

  it('hands out rows of a deleted subscription marked subscriptionDeleted', async () => {
    await store.park([request({ subscriptionId: 'gone' })]);
    const claimed = await store.claim('o', 10, 60_000);
    expect(claimed).toHaveLength(1);
    expect(claimed[0]).toMatchObject({ subscriptionId: 'gone', subscriptionDeleted: true });
  });
});

describe('retention and stats', () => {
  it('deletes old finished rows and their events, keeps parked rows and recent ones', async () => {
    await subscription('sub-a');
    const shared = request({ offset: 100, subscriptionId: 'sub-a' });
    await store.park([
      request({ offset: 101 }),
      request({ offset: 102 }),
      request({ offset: 103 }),
      shared,
      { ...shared, subscriptionId: 'sub-b', webhookId: 'msg_shared_b', dueAt: Date.now() + 60_000 },
    ]);
    const claimed = await store.claim('o', 10, 60_000);
    expect(claimed).toHaveLength(4);
    const byOffset = new Map(claimed.map((c) => [c.record.offset, c]));
    await store.finish('o', [
      {
        kind: 'delivered',
        id: byOffset.get('101')!.id,
        claim: byOffset.get('101')!.claim,
        attempts: 1,
        status: 200,
        firstAttemptAt: 1,
        lastAttemptAt: 1,
      },
      {
        kind: 'dead',
        id: byOffset.get('102')!.id,
        claim: byOffset.get('102')!.claim,
        attempts: 8,
        reason: 'retries_exhausted',
      },
      {
        kind: 'delivered',
        id: byOffset.get('100')!.id,
        claim: byOffset.get('100')!.claim,
        attempts: 1,
        status: 200,
        firstAttemptAt: 1,
        lastAttemptAt: 1,
      },
    ]);
    // 103 stays parked (leased); a recent finished row stays too.
    await store.park([request({ offset: 104 })]);
    const [recent] = await store.claim('o', 10, 60_000);
    await store.finish('o', [
      {
        kind: 'delivered',
        id: recent!.id,
        claim: recent!.claim,
        attempts: 1,
        status: 200,
        firstAttemptAt: 1,
        lastAttemptAt: 1,
      },
    ]);
    await admin.query(
      `update webhook_deliveries set finished_at = now() - interval '2 hours'
       where id = any($1::bigint[])`,
      [['101', '102', '100'].map((o) => byOffset.get(o)!.id)],
    );
    // An orphan event (its only delivery went elsewhere), old enough.
    await admin.query(
      `insert into webhook_events (event_id, event_name, event_ts, encoding, payload, topic, partition,
         record_offset, record_ts, created_at)
       values ('orphan', 'e', 0, 'json', '\\x00', 'events', 0, 999, '0', now() - interval '2 hours')`,
    );

    expect(await store.prune(3_600_000, 2)).toBe(3);

    const left = await admin.query<{ offset: string; state: string }>(
      `select e.record_offset::text as offset, d.state from webhook_deliveries d
       join webhook_events e on e.id = d.event_ref order by e.record_offset, d.state`,
    );
    expect(left.rows).toEqual([
      { offset: '100', state: 'parked' }, // sub-b's delivery keeps the shared event
      { offset: '103', state: 'parked' },
      { offset: '104', state: 'delivered' },
    ]);
    const events = await admin.query<{ offset: string }>(
      'select record_offset::text as offset from webhook_events order by record_offset',
    );
    expect(events.rows.map((r) => r.offset)).toEqual(['100', '103', '104']);
    expect(await store.prune(3_600_000, 100)).toBe(0);
  });

  it('counts rows by state, the due backlog and its oldest age', async () => {
    await subscription('sub-a');
    await subscription('sub-off', false);
    const lane = 'sub-a\u0000k';
    await store.park([
      request({ dueAt: Date.now() - 120_000 }), // due for two minutes
      request({ dueAt: Date.now() - 1_000 }),
      request({ dueAt: Date.now() + 60_000 }), // not due
      request({ subscriptionId: 'sub-off', dueAt: Date.now() - 3_600_000 }), // disabled: not waiting for a runner
      request({ lane, offset: 500, dueAt: Date.now() + 60_000 }),
      request({ lane, offset: 501, dueAt: Date.now() - 7_200_000 }), // behind its lane's head: not claimable
      request(),
      request(),
    ]);
    const [leased] = await store.claim('o', 1, 60_000); // the oldest: leased, no longer backlog
    expect(Math.round((Date.now() - leased!.dueAt) / 1000)).toBe(120);
    const [other] = await store.claim('o', 1, 60_000);
    await store.finish('o', [
      { kind: 'dead', id: other!.id, claim: other!.claim, attempts: 8, reason: 'retries_exhausted' },
    ]);
    const [another] = await store.claim('o', 1, 60_000);
    await store.finish('o', [
      {
        kind: 'delivered',
        id: another!.id,
        claim: another!.claim,
        attempts: 1,
        status: 200,
        firstAttemptAt: 1,
        lastAttemptAt: 1,
      },
    ]);

    const stats = await store.stats();
    expect(stats.byState).toEqual({ parked: 6, delivered: 1, dead: 1 });
    expect(stats.dueBacklog).toBe(1);
    expect(stats.oldestDueAgeSeconds).toBeGreaterThan(0);
    expect(stats.oldestDueAgeSeconds).toBeLessThan(60);

    await admin.query('truncate webhook_deliveries, webhook_events');
    expect(await store.stats()).toEqual({
      byState: { parked: 0, delivered: 0, dead: 0 },
      dueBacklog: 0,
      oldestDueAgeSeconds: 0,
    });
  });
});

describe('Postgres unavailable', () => {
  it('rejects park promptly when Postgres refuses connections', async () => {
    const refused = testPool('postgres://postgres@127.0.0.1:1/none', 'pg_delivery_store:refused', 2);
    const down = createPgDeliveryStore(refused);
    try {
      const started = Date.now();
      const results = await Promise.allSettled([down.park([request()]), down.park([request()])]);
      expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
      expect(Date.now() - started).toBeLessThan(5_000);
      await expect(down.claim('o', 10, 60_000)).rejects.toThrow();
    } finally {
      await refused.end();
    }
  });

  it('rejects only the park whose rows Postgres refuses, not the others of its batch', async () => {
    await subscription('sub-a');
    const bad = { ...request(), reason: 'nonsense' as ParkRequest['reason'] };
    const nul = request({ eventId: 'bad\u0000id' }); // text cannot hold NUL
    const good = request();
    const results = await Promise.allSettled([store.park([bad]), store.park([good]), store.park([nul])]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'fulfilled', 'rejected']);
    const rows = await admin.query<{ webhook_id: string }>('select webhook_id from webhook_deliveries');
    expect(rows.rows).toEqual([{ webhook_id: good.webhookId }]);
  });
});
