/**
 * The management API's data layer on a real Postgres, in a database of its own: deliveries and their state
 * read from the delivery log and the parked-delivery rows, filters and keyset paging, Tiledesk's history
 * pages, resend / recover / test as parked 'manual' rows, and project isolation on every method.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { InvalidCursorError } from '../../src/api/store/cursor.js';
import { createPgDeliveryLogReader } from '../../src/api/store/pg-delivery-log-reader.js';
import { createPgManualResends, RECOVER_MAX } from '../../src/api/store/pg-manual-resends.js';
import type { DeliveryLogReader, DeliveryView, ManualResends } from '../../src/api/store/types.js';
import { webhookId } from '../../src/delivery/webhook-id.js';
import { isConnectorError, ErrorCode } from '../../src/errors.js';
import { createPgDeliveryStore } from '../../src/parking/pg-delivery-store.js';
import type { DeliveryStore } from '../../src/parking/types.js';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import {
  ensureLogPartitions,
  logAttempts,
  logMessage,
  type AttemptInput,
  type LoggedMessage,
} from '../support/delivery-log.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';

let db: TestDatabase;
let pool: pg.Pool;
let reader: DeliveryLogReader;
let resends: ManualResends;
let parking: DeliveryStore;

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('api_store'));
  reader = createPgDeliveryLogReader(pool);
  resends = createPgManualResends(pool);
  parking = createPgDeliveryStore(pool, { batchDelayMs: 0 });
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

beforeEach(async () => {
  await pool.query(
    'truncate webhook_deliveries, webhook_events, webhook_subscriptions, webhook_log_attempts, webhook_log_messages',
  );
});

let n = 0;
async function subscription(idProject: string, event = 'request.create'): Promise<string> {
  n++;
  const s = await createSubscriptionStore(pool).add({
    idProject,
    event,
    target: `http://127.0.0.1:9/hook${n}`,
    createdBy: 't',
  });
  return s.id;
}

/** `s` seconds after a base ten minutes ago (today or yesterday: both partitions exist). */
const base = Date.now() - 10 * 60_000;
const t = (s: number): Date => new Date(base + s * 1000);

let offset = 100;
async function message(idProject: string, eventId: string, loggedAt?: Date): Promise<LoggedMessage> {
  offset++;
  return logMessage(pool, {
    eventId,
    idProject,
    offset: String(offset),
    payload: Buffer.from(JSON.stringify({ id: eventId, text: 'héllo', n: offset }), 'utf8'),
    loggedAt,
  });
}

/** One delivery: its message and attempts (`statuses` in order, a second apart from `at`). */
async function delivery(
  idProject: string,
  subId: string,
  eventId: string,
  at: number,
  statuses: (number | null | Partial<AttemptInput>)[],
): Promise<{ id: string; message: LoggedMessage }> {
  const m = await message(idProject, eventId);
  const ids = await logAttempts(
    pool,
    statuses.map((s, i) => ({
      message: m,
      subscriptionId: subId,
      attemptedAt: t(at + i),
      attempt: i + 1,
      ...(s !== null && typeof s === 'object' ? s : { statusCode: s }),
    })),
  );
  return { id: ids[0]!, message: m };
}

/** The delivery parked by the connector's own store (as the consumer parks it). */
async function park(
  m: LoggedMessage,
  subId: string,
  o: { dueAt?: number; reason?: 'retry' | 'spill' } = {},
): Promise<void> {
  await parking.park([
    {
      record: {
        topic: m.topic,
        partition: m.partition,
        offset: m.offset,
        timestamp: String(m.loggedAt.getTime()),
        key: Buffer.from(m.idProject),
        value: m.recordValue,
        headers: { 'x-trace': Buffer.from('t1') },
      },
      event: {
        id: m.eventId,
        event: m.event,
        idProject: m.idProject,
        timestamp: m.loggedAt.getTime(),
        payload: m.payload,
        encoding: 'json',
      },
      subscriptionId: subId,
      webhookId: webhookId(m.eventId, subId),
      lane: null,
      reason: o.reason ?? 'retry',
      attempts: 1,
      dueAt: o.dueAt ?? Date.now() + 3_600_000,
    },
  ]);
}

/** Parked, then dead-lettered by a runner. */
async function dead(m: LoggedMessage, subId: string): Promise<void> {
  await park(m, subId);
  await pool.query(
    `update webhook_deliveries set state = 'dead', finished_at = now(), dead_reason = 'retries_exhausted',
        last_attempt_at = now()
      where webhook_id = $1 and state = 'parked'`,
    [webhookId(m.eventId, subId)],
  );
}

interface DeliveryRowShape {
  webhook_id: string;
  subscription_id: string;
  state: string;
  parked_reason: string;
  lane: Buffer | null;
  seq: string;
  attempts: number;
  due_now: boolean;
  lease_owner: string | null;
  event_id: string;
  event_name: string;
  payload: Buffer;
  topic: string;
  partition: number;
  record_offset: string;
  record_value: Buffer | null;
  record_headers: unknown;
  id_project: Buffer | null;
}

async function parkedRows(webhookIdValue?: string): Promise<DeliveryRowShape[]> {
  const r = await pool.query<DeliveryRowShape>(
    `select d.webhook_id, d.subscription_id, d.state, d.parked_reason, d.lane, d.seq::text, d.attempts,
        d.due_at <= now() as due_now, d.lease_owner, e.event_id, e.event_name, e.payload, e.topic, e.partition,
        e.record_offset::text, e.record_value, e.record_headers, e.id_project
      from webhook_deliveries d join webhook_events e on e.id = d.event_ref
      where d.state = 'parked' and ($1::text is null or d.webhook_id = $1)
      order by d.webhook_id`,
    [webhookIdValue ?? null],
  );
  return r.rows;
}

/** Row counts of every table a write could touch. */
async function counts(): Promise<Record<string, number>> {
  const r = await pool.query<Record<string, number>>(
    `select (select count(*)::int from webhook_deliveries) as deliveries,
        (select count(*)::int from webhook_events) as events,
        (select count(*)::int from webhook_log_messages) as messages,
        (select count(*)::int from webhook_log_attempts) as attempts,
        (select count(*)::int from webhook_deliveries where due_at <= now()) as due`,
  );
  return r.rows[0]!;
}

async function allDeliveries(idProject: string, subscriptionId: string): Promise<DeliveryView[]> {
  return (await reader.deliveries({ idProject, subscriptionId, limit: 250 })).items;
}

describe('deliveries and their state', () => {
  it('derives each state from the latest attempt and the parked/dead rows', async () => {
    const sub = await subscription('P1');
    const delivered = await delivery('P1', sub, 'delivered', 0, [503, 200]);
    const permanent = await delivery('P1', sub, 'permanent', 10, [400]);
    const retrying = await delivery('P1', sub, 'retrying', 20, [503]);
    const parked = await delivery('P1', sub, 'parked', 30, [503]);
    const due = Date.now() + 3_600_000;
    await park(parked.message, sub, { dueAt: due });
    const deadRow = await delivery('P1', sub, 'dead', 40, [503, 503]);
    await dead(deadRow.message, sub);
    await delivery('P1', sub, 'exhausted', 50, [503, { statusCode: 503, reason: 'retries_exhausted' }]);
    const resent = await delivery('P1', sub, 'resent', 60, [410]);
    await park(resent.message, sub);
    const redelivered = await delivery('P1', sub, 'redelivered', 70, [400, 200]);
    await dead(redelivered.message, sub);

    const items = await allDeliveries('P1', sub);
    const byId = new Map(items.map((d) => [d.id, d]));
    expect(Object.fromEntries(items.map((d) => [d.eventId, d.status]))).toEqual({
      delivered: 'delivered',
      permanent: 'failed',
      retrying: 'pending',
      parked: 'pending',
      dead: 'failed',
      exhausted: 'failed',
      resent: 'pending',
      redelivered: 'delivered',
    });
    expect(byId.get(delivered.id)).toEqual({
      id: delivered.id,
      subscriptionId: sub,
      idProject: 'P1',
      event: 'request.create',
      eventId: 'delivered',
      status: 'delivered',
      attempts: 2,
      lastAttemptAt: t(1),
      lastStatusCode: 200,
      nextAttemptAt: null,
    });
    expect(byId.get(parked.id)!.nextAttemptAt!.getTime()).toBe(due);
    expect(byId.get(retrying.id)!.nextAttemptAt).toBeNull();
    expect(byId.get(permanent.id)!.lastStatusCode).toBe(400);

    // One delivery with its attempts, oldest first.
    const one = await reader.delivery('P1', deadRow.id);
    expect(one!.delivery).toEqual(byId.get(deadRow.id));
    expect(one!.attempts).toEqual([
      {
        attemptedAt: t(40),
        attempt: 1,
        trigger: 'scheduled',
        result: 'retryable',
        reason: 'http_5xx',
        statusCode: 503,
        durationMs: 12.5,
        error: null,
        responseExcerpt: '{"ok":true}',
        instance: 'test-host:1:abc',
        target: 'http://127.0.0.1:9/hook',
      },
      expect.objectContaining({ attemptedAt: t(41), attempt: 2 }),
    ]);
  });

  it('filters by state, status class and the last attempt time', async () => {
    const sub = await subscription('P1');
    const ok = await delivery('P1', sub, 'ok', 0, [503, 200]);
    const gone = await delivery('P1', sub, 'gone', 10, [400]);
    const down = await delivery('P1', sub, 'down', 20, [null]);
    const busy = await delivery('P1', sub, 'busy', 30, [200, 503]);
    const f = { idProject: 'P1', subscriptionId: sub, limit: 50 };
    const ids = async (extra: object): Promise<string[]> =>
      (await reader.deliveries({ ...f, ...extra })).items.map((d) => d.id);
    expect(await ids({})).toEqual([busy.id, down.id, gone.id, ok.id]);
    expect(await ids({ status: 'delivered' })).toEqual([ok.id]);
    expect(await ids({ status: 'failed' })).toEqual([gone.id]);
    expect(await ids({ status: 'pending' })).toEqual([busy.id, down.id]);
    expect(await ids({ statusClass: '2xx' })).toEqual([ok.id]);
    expect(await ids({ statusClass: '4xx' })).toEqual([gone.id]);
    expect(await ids({ statusClass: '5xx' })).toEqual([busy.id]);
    expect(await ids({ statusClass: 'none' })).toEqual([down.id]);
    expect(await ids({ statusClass: '3xx' })).toEqual([]);
    // since inclusive, until exclusive, both on the last attempt: `ok` last attempted at t(1), `busy` at t(31).
    expect(await ids({ since: t(1), until: t(31) })).toEqual([down.id, gone.id, ok.id]);
    expect(await ids({ since: t(2) })).toEqual([busy.id, down.id, gone.id]);
    expect(await ids({ until: t(1) })).toEqual([]);
    expect(await ids({ status: 'pending', statusClass: 'none', since: t(20) })).toEqual([down.id]);
  });

  it('pages newest first without gaps or repeats, equal timestamps included', async () => {
    const sub = await subscription('P1');
    const other = await subscription('P1', 'message.create');
    const m: LoggedMessage[] = [];
    for (let i = 0; i < 11; i++) m.push(await message('P1', `e${i}`));
    // Seven deliveries last attempted in the same microsecond, and four others around them.
    await logAttempts(pool, [
      ...m.slice(0, 7).map((msg) => ({ message: msg, subscriptionId: sub, attemptedAt: t(5) })),
      ...m.slice(7).map((msg, i) => ({ message: msg, subscriptionId: sub, attemptedAt: t(i * 4) })),
      { message: m[0]!, subscriptionId: other, attemptedAt: t(6) },
    ]);
    const all = await allDeliveries('P1', sub);
    expect(all).toHaveLength(11);
    const order = [...all].sort(
      (a, b) => b.lastAttemptAt.getTime() - a.lastAttemptAt.getTime() || (a.id < b.id ? 1 : -1),
    );
    expect(all.map((d) => d.id)).toEqual(order.map((d) => d.id));
    for (const limit of [1, 2, 3, 7]) {
      const seen: string[] = [];
      let before: string | undefined;
      let pages = 0;
      for (;;) {
        const page = await reader.deliveries({ idProject: 'P1', subscriptionId: sub, limit, before });
        pages++;
        seen.push(...page.items.map((d) => d.id));
        expect(page.items.length).toBeLessThanOrEqual(limit);
        if (page.next === null) break;
        before = page.next;
      }
      expect(seen).toEqual(all.map((d) => d.id));
      expect(pages).toBe(Math.ceil(11 / limit));
    }
    const cursor = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    for (const bad of [
      'x',
      cursor(['1', 2]),
      '',
      // Past Postgres's range, or text Postgres refuses: the caller's mistake, never a database error.
      cursor(['9999999999999999999', 'msg_x']),
      cursor(['-1', 'msg_x']),
      cursor(['1', 'msg_\u0000']),
      cursor(['1', 'x'.repeat(129)]),
    ]) {
      await expect(
        reader.deliveries({ idProject: 'P1', subscriptionId: sub, limit: 5, before: bad }),
      ).rejects.toThrow(InvalidCursorError);
    }
  });

  it("a page of a subscription's deliveries reads about a page of its attempts, not its whole day", async () => {
    // 50 projects with a subscription each, 400 attempts each (their events need no rows for this),
    // analyzed as autovacuum would. A subscription belongs to one project: unless the planner knows it
    // (migration 007), it takes the two conditions as independent, expects a few rows, and reads and sorts
    // all 400 for a page instead of walking the index newest first and stopping.
    const subs: string[] = [];
    for (let p = 0; p < 50; p++) subs.push(await subscription(`PP${p}`));
    const inputs: AttemptInput[] = [];
    for (let p = 0; p < 50; p++) {
      const m = await message(`PP${p}`, `template-${p}`);
      for (let i = 0; i < 400; i++) {
        inputs.push({
          message: { ...m, eventId: `big-${p}-${i}`, messageKey: `${m.messageKey}-${i}` },
          subscriptionId: subs[p]!,
          attemptedAt: t(i / 10),
        });
      }
    }
    await logAttempts(pool, inputs);
    await pool.query('analyze webhook_log_attempts');
    const plans: unknown[] = [];
    const explaining = {
      query: async (text: string, values: unknown[]) => {
        plans.push(
          (await pool.query(`explain (analyze, format json) ${text}`, values)).rows[0]['QUERY PLAN'],
        );
        return pool.query(text, values);
      },
    } as unknown as pg.Pool;
    const page = await createPgDeliveryLogReader(explaining).deliveries({
      idProject: 'PP7',
      subscriptionId: subs[7]!,
      limit: 50,
    });
    expect(page.items).toHaveLength(50);
    // Rows the subscription's index gave the plan (every loop of every partition's scan).
    let read = 0;
    const walk = (node: Record<string, unknown>): void => {
      if (String(node['Index Name'] ?? '').includes('subscription_id')) {
        read += Number(node['Actual Rows']) * Number(node['Actual Loops']);
      }
      for (const child of (node['Plans'] as Record<string, unknown>[] | undefined) ?? []) walk(child);
    };
    walk((plans[0] as { Plan: Record<string, unknown> }[])[0]!.Plan);
    expect(read).toBeGreaterThanOrEqual(50);
    expect(read).toBeLessThan(200);
  });

  it('history: 40 a page, newest first, in the SubscriptionLog shape', async () => {
    const sub = await subscription('P1');
    const subB = await subscription('P2');
    const m = await message('P1', 'h1');
    await logAttempts(
      pool,
      [...Array(45).keys()].map((i) => ({
        message: m,
        subscriptionId: sub,
        attemptedAt: t(i),
        attempt: i + 1,
        statusCode: i % 2 === 0 ? 503 : null,
        responseExcerpt: i % 2 === 0 ? 'busy' : null,
      })),
    );
    const mB = await message('P2', 'hB');
    await logAttempts(pool, [{ message: mB, subscriptionId: subB, attemptedAt: t(100) }]);
    const p0 = await reader.history('P1', 0);
    const p1 = await reader.history('P1', 1);
    expect(p0).toHaveLength(40);
    expect(p1).toHaveLength(5);
    expect(await reader.history('P1', 2)).toEqual([]);
    expect(await reader.history('P1', -1)).toEqual(p0);
    expect(await reader.history('P1', Number.NaN)).toEqual(p0);
    const attempts = [...p0, ...p1].map((r) => (r as unknown as { attempt: number }).attempt);
    expect(attempts).toEqual([...Array(45).keys()].map((i) => 45 - i));
    expect(new Set([...p0, ...p1].map((r) => r._id)).size).toBe(45);
    expect(p0[0]).toEqual({
      _id: expect.stringMatching(/^[0-9a-f]{24}$/),
      event: 'request.create',
      target: 'http://127.0.0.1:9/hook',
      response: JSON.stringify({ statusCode: 503, body: 'busy' }),
      jsonRequest: m.payload.toString('utf8'),
      body: '"busy"',
      err: null,
      id_project: 'P1',
      createdAt: t(44).toISOString(),
      updatedAt: t(44).toISOString(),
      __v: 0,
      webhook_id: webhookId('h1', sub),
      attempt: 45,
      status_code: 503,
      duration_ms: 12.5,
      subscription_id: sub,
    });
    expect(p0[1]).toMatchObject({
      response: JSON.stringify({ statusCode: null, body: null }),
      body: '',
      err: 'ECONNREFUSED',
    });
    expect((await reader.history('P2', 0)).map((r) => r.id_project)).toEqual(['P2']);
  });

  it("history merges the project's subscriptions, deleted ones included, in one order across pages", async () => {
    const subs = [await subscription('P1'), await subscription('P1'), await subscription('P1')];
    const other = await subscription('P2');
    // 101 attempts over 3 subscriptions, 61 of them of the first (more than a page and a half: its part of
    // a deeper page is not in its first 40), interleaved in time, with timestamps shared across
    // subscriptions (the order breaks the tie by webhook-id, then attempt number), and another project's
    // attempts among them.
    const inputs: AttemptInput[] = [];
    for (let i = 0; i < 101; i++) {
      const sub = subs[i % 5 < 3 ? 0 : (i % 5) - 2]!;
      const m = await message('P1', `m${i}`);
      inputs.push({
        message: m,
        subscriptionId: sub,
        attemptedAt: t(Math.floor(i / 3)),
        attempt: 1 + (i % 2),
      });
    }
    inputs.push({ message: await message('P2', 'o1'), subscriptionId: other, attemptedAt: t(10) });
    await logAttempts(pool, inputs);
    // One subscription deleted since: its attempts stay in the project's history.
    await pool.query('delete from webhook_subscriptions where id = $1', [subs[1]]);
    const expected = inputs
      .filter((a) => a.subscriptionId !== other)
      .map((a) => ({
        at: a.attemptedAt.getTime(),
        webhookId: webhookId(a.message.eventId, a.subscriptionId),
        attempt: a.attempt!,
      }))
      .sort(
        (a, b) =>
          b.at - a.at ||
          Buffer.compare(Buffer.from(b.webhookId), Buffer.from(a.webhookId)) ||
          b.attempt - a.attempt,
      )
      .map((a) => `${a.webhookId}/${a.attempt}`);
    const seen: string[] = [];
    for (let page = 0; page < 4; page++) {
      const rows = await reader.history('P1', page);
      expect(rows).toHaveLength([40, 40, 21, 0][page]!);
      seen.push(...rows.map((r) => `${r.webhook_id}/${r.attempt}`));
    }
    expect(seen).toEqual(expected);
    expect((await reader.history('P2', 0)).map((r) => r.subscription_id)).toEqual([other]);
    expect(await reader.history('P3', 0)).toEqual([]);
    // Past any page the route allows (≤ 1000): empty, not an error (the offset is past int4).
    expect(await reader.history('P1', 100_000_000)).toEqual([]);
  });
});

describe('project isolation', () => {
  it("B's ids with A's project: nothing read, nothing written", async () => {
    const subA = await subscription('A');
    const subB = await subscription('B');
    await delivery('A', subA, 'a1', 0, [200]);
    const b = await delivery('B', subB, 'b1', 5, [400]);
    const bParked = await delivery('B', subB, 'b2', 6, [503]);
    await park(bParked.message, subB);
    const bDead = await delivery('B', subB, 'b3', 7, [503]);
    await dead(bDead.message, subB);
    const before = await counts();

    expect(await reader.deliveries({ idProject: 'A', subscriptionId: subB, limit: 250 })).toEqual({
      items: [],
      next: null,
    });
    expect(await reader.delivery('A', b.id)).toBeUndefined();
    expect(await reader.delivery('A', bParked.id)).toBeUndefined();
    expect((await reader.history('A', 0)).map((r) => r.id_project)).toEqual(['A']);
    expect(await resends.resend('A', b.id)).toBe('not_found');
    expect(await resends.resend('A', bParked.id)).toBe('not_found');
    expect(await resends.resend('A', bDead.id)).toBe('not_found');
    for (const call of [() => resends.recover('A', subB, t(-100)), () => resends.sendTest('A', subB)]) {
      const err = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isConnectorError(err, ErrorCode.SUBSCRIPTION_NOT_FOUND)).toBe(true);
    }
    expect(await counts()).toEqual(before);
    // The same calls with B's project do find them (the test would see a leak).
    expect((await reader.delivery('B', b.id))?.delivery.status).toBe('failed');
    expect(await resends.recover('B', subB, t(-100))).toBe(2);
  });
});

describe("a global subscription's log (every project's events) is the platform's", () => {
  it('no project caller reads or re-sends it, even under its own project; a platform caller does', async () => {
    const g = await createSubscriptionStore(pool).add({
      idProject: 'G',
      event: 'request.create',
      target: 'http://127.0.0.1:9/global',
      createdBy: 't',
      global: true,
    });
    // Project X's event, delivered to the platform's global subscription (stored under project G).
    const m = await message('X', 'g1');
    const [id] = await logAttempts(pool, [
      { message: m, subscriptionId: g.id, idProject: 'G', global: true, attemptedAt: t(0), statusCode: 400 },
    ]);
    const before = await counts();
    expect(await reader.history('G', 0)).toEqual([]);
    expect(await reader.delivery('G', id!)).toBeUndefined();
    expect(await resends.resend('G', id!)).toBe('not_found');
    const err = await resends.recover('G', g.id, t(-100)).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isConnectorError(err, ErrorCode.SUBSCRIPTION_NOT_FOUND)).toBe(true);
    expect(await counts()).toEqual(before);

    expect((await reader.history('G', 0, true)).map((r) => r.webhook_id)).toEqual([id]);
    expect((await reader.delivery('G', id!, true))?.delivery.status).toBe('failed');
    expect(await resends.resend('G', id!, true)).toBe('queued');
  });
});

describe('resend', () => {
  it('parks one manual row with the same webhook-id and the logged event bytes', async () => {
    const sub = await subscription('P1');
    const d = await delivery('P1', sub, 'r1', 0, [400]);
    expect(await resends.resend('P1', d.id)).toBe('queued');
    const rows = await parkedRows();
    expect(rows).toEqual([
      {
        webhook_id: d.id,
        subscription_id: sub,
        state: 'parked',
        parked_reason: 'manual',
        lane: null,
        seq: d.message.offset,
        attempts: 0,
        due_now: true,
        lease_owner: null,
        event_id: 'r1',
        event_name: 'request.create',
        payload: d.message.payload,
        topic: d.message.topic,
        partition: d.message.partition,
        record_offset: d.message.offset,
        record_value: d.message.recordValue,
        record_headers: { 'x-trace': [Buffer.from('t1').toString('base64')] },
        id_project: Buffer.from('P1'),
      },
    ]);
    expect((await reader.delivery('P1', d.id))!.delivery.status).toBe('pending');
    // Again: the same row, due now.
    expect(await resends.resend('P1', d.id)).toBe('queued');
    expect(await parkedRows()).toHaveLength(1);
  });

  it("reuses the event row of the delivery's dead row", async () => {
    const sub = await subscription('P1');
    const d = await delivery('P1', sub, 'r2', 0, [503]);
    await dead(d.message, sub);
    expect(await resends.resend('P1', d.id)).toBe('queued');
    expect((await counts()).events).toBe(1);
    expect(await parkedRows(d.id)).toMatchObject([{ parked_reason: 'manual', payload: d.message.payload }]);
  });

  it('makes an already parked delivery due now, leaving a live lease alone', async () => {
    const sub = await subscription('P1');
    const d = await delivery('P1', sub, 'r3', 0, [503]);
    await park(d.message, sub, { dueAt: Date.now() + 3_600_000 });
    expect(await resends.resend('P1', d.id)).toBe('queued');
    expect(await parkedRows()).toMatchObject([{ webhook_id: d.id, parked_reason: 'retry', due_now: true }]);

    await pool.query(
      `update webhook_deliveries set due_at = now() + interval '1 hour', lease_owner = 'other',
          lease_until = now() + interval '1 minute'`,
    );
    expect(await resends.resend('P1', d.id)).toBe('queued');
    expect(await parkedRows()).toMatchObject([{ due_now: true, lease_owner: 'other' }]);
  });

  it('not_found when its message left the log and no row keeps its event, or its subscription is gone', async () => {
    const sub = await subscription('P1');
    // The message was logged ten days ago, in a partition retention then dropped.
    const old = new Date(Date.now() - 10 * 86_400_000);
    await ensureLogPartitions(pool, old, 1);
    const m = await message('P1', 'old', old);
    const [id] = await logAttempts(pool, [
      { message: m, subscriptionId: sub, attemptedAt: t(0), statusCode: 400 },
    ]);
    await pool.query('select webhook_log_drop_partitions($1::date)', [
      new Date(old.getTime() + 86_400_000).toISOString().slice(0, 10),
    ]);
    const before = await counts();
    expect(await resends.resend('P1', id!)).toBe('not_found');
    expect(await resends.recover('P1', sub, t(-100))).toBe(0);
    expect(await counts()).toEqual(before);

    const d = await delivery('P1', sub, 'kept', 10, [400]);
    await pool.query('delete from webhook_subscriptions where id = $1', [sub]);
    expect(await resends.resend('P1', d.id)).toBe('not_found');
    expect(await resends.resend('P1', 'msg_unknown')).toBe('not_found');
    expect((await counts()).deliveries).toBe(0);
  });
});

describe('recover', () => {
  it('queues the failed deliveries since T, once each, in one go', async () => {
    const sub = await subscription('P1');
    const other = await subscription('P1', 'message.create');
    const oldFailure = await delivery('P1', sub, 'old', 0, [400]);
    const f1 = await delivery('P1', sub, 'f1', 100, [400]);
    const f2 = await delivery('P1', sub, 'f2', 110, [503, 503]);
    await dead(f2.message, sub);
    const ok = await delivery('P1', sub, 'ok', 120, [500, 200]);
    const pending = await delivery('P1', sub, 'pending', 130, [503]);
    await park(pending.message, sub);
    await delivery('P1', other, 'elsewhere', 140, [400]);
    // Dead without a logged attempt since (its subscription was disabled while it was parked).
    const unlogged = await message('P1', 'unlogged');
    await dead(unlogged, sub);
    const unloggedId = webhookId('unlogged', sub);

    expect(await resends.recover('P1', sub, t(100))).toBe(3);
    const rows = await parkedRows();
    expect(rows.map((r) => r.webhook_id).sort()).toEqual([f1.id, f2.id, pending.id, unloggedId].sort());
    expect(rows.filter((r) => r.webhook_id !== pending.id).every((r) => r.parked_reason === 'manual')).toBe(
      true,
    );
    expect(rows.every((r) => r.due_now || r.webhook_id === pending.id)).toBe(true);
    expect(rows.map((r) => r.webhook_id)).not.toContain(oldFailure.id);
    expect(rows.map((r) => r.webhook_id)).not.toContain(ok.id);

    // Again: they are pending now, nothing more is queued.
    expect(await resends.recover('P1', sub, t(100))).toBe(0);
    expect(await parkedRows()).toHaveLength(4);
    // The older failure is in for an earlier T.
    expect(await resends.recover('P1', sub, t(0))).toBe(1);
    expect(await parkedRows()).toHaveLength(5);
  });
});

describe('recover past its bound', () => {
  it(`queues at most ${RECOVER_MAX} a call, oldest first; the next call queues the rest`, async () => {
    const sub = await subscription('P1');
    const total = RECOVER_MAX + 5;
    const messages: LoggedMessage[] = [];
    for (let i = 0; i < total; i++) messages.push(await message('P1', `many-${i}`));
    const ids = await logAttempts(
      pool,
      messages.map((m, i) => ({ message: m, subscriptionId: sub, attemptedAt: t(i / 100), statusCode: 400 })),
    );
    expect(await resends.recover('P1', sub, t(-1))).toBe(RECOVER_MAX);
    const first = (await parkedRows()).map((r) => r.webhook_id);
    expect(new Set(first)).toEqual(new Set(ids.slice(0, RECOVER_MAX)));
    expect(await resends.recover('P1', sub, t(-1))).toBe(5);
    expect(await resends.recover('P1', sub, t(-1))).toBe(0);
    expect(new Set((await parkedRows()).map((r) => r.webhook_id))).toEqual(new Set(ids));
  });
});

describe('sendTest', () => {
  it('queues an example event of the subscription, logged, with its webhook-id', async () => {
    const sub = await subscription('P1', 'message.create');
    const fixed = createPgManualResends(pool, { now: () => 1_700_000_000_000, randomUUID: () => 'u-1' });
    const id = await fixed.sendTest('P1', sub);
    expect(id).toBe(webhookId('test-u-1', sub));
    const rows = await parkedRows();
    expect(rows).toEqual([
      expect.objectContaining({
        webhook_id: id,
        subscription_id: sub,
        parked_reason: 'manual',
        lane: null,
        seq: '0',
        attempts: 0,
        due_now: true,
        event_id: 'test-u-1',
        event_name: 'message.create',
        topic: '(api-test)',
        partition: 0,
        record_offset: '0',
        id_project: Buffer.from('P1'),
      }),
    ]);
    const payload = JSON.parse(rows[0]!.payload.toString('utf8')) as Record<string, unknown>;
    expect(payload).toMatchObject({ id: 'test-u-1', id_project: 'P1', test: true });
    expect(JSON.parse(rows[0]!.record_value!.toString('utf8'))).toEqual({
      id: 'test-u-1',
      event: 'message.create',
      id_project: 'P1',
      timestamp: 1_700_000_000_000,
      payload,
    });
    const logged = await pool.query<{ event_id: string; payload: Buffer; topic: string }>(
      'select event_id, payload, topic from webhook_log_messages',
    );
    expect(logged.rows).toEqual([{ event_id: 'test-u-1', payload: rows[0]!.payload, topic: '(api-test)' }]);
    // Each call is a new event.
    const second = await resends.sendTest('P1', sub);
    expect(second).not.toBe(id);
    expect(await parkedRows()).toHaveLength(2);
  });
});
