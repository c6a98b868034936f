/**
 * Issue 15, CLI: `subscriptions add --ordered | set-ordering | list | disable | enable [--recover-since T]`
 * and `deliveries list | retry-now`, run as an operator runs them (a process), against a database of this
 * file's own. Parked rows are written with SQL as migration 002 defines them; `--recover-since` reads a
 * real dead-letter topic and delivers to real receivers.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { buildDeadLetterRecord } from '../../src/dead-letter/dead-letter-record.js';
import { runCli, type CliRun } from '../support/cli.js';
import { KAFKA_BROKERS } from '../support/env.js';
import { payloadId } from '../support/events.js';
import { createTopic, produce, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver } from '../support/receiver.js';

let db: TestDatabase;
let pool: pg.Pool;
beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('cli_parked'));
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

const cli = (args: string[], env: Record<string, string> = {}): Promise<CliRun> =>
  runCli(args, { DATABASE_URL: db.url, LOG_LEVEL: 'warn', ...env });

/** Success: exit 0, nothing on stderr. */
function ok(run: CliRun): string {
  expect({ code: run.code, stderr: run.stderr }).toEqual({ code: 0, stderr: '' });
  return run.stdout;
}

/** Failure with `code`: one `error CODE: ...` line, no stack trace, the exit code given. */
function failed(run: CliRun, code: string, exit: number, message: RegExp): void {
  expect({ code: run.code, stdout: run.stdout }).toEqual({ code: exit, stdout: '' });
  expect(run.stderr).toMatch(new RegExp(`^error ${code}: `));
  expect(run.stderr).toMatch(message);
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

let n = 0;
async function addSubscription(target: string, ...flags: string[]): Promise<string> {
  const out = ok(
    await cli([
      'subscriptions',
      'add',
      '--project',
      `P-${++n}`,
      '--event',
      'request.create',
      '--target',
      target,
      ...flags,
    ]),
  );
  return /^created subscription ([0-9a-f]+):/m.exec(out)![1]!;
}

async function subscriptionRow(id: string): Promise<Record<string, unknown>> {
  const r = await pool.query(
    'select enabled, ordering, disabled_reason, disabled_at from webhook_subscriptions where id = $1',
    [id],
  );
  return r.rows[0] as Record<string, unknown>;
}

/** The line of `subscriptions list` for `id`. */
async function listLine(id: string): Promise<string> {
  const lines = ok(await cli(['subscriptions', 'list'])).split('\n');
  expect(lines[0]).toMatch(
    /^ID\s+PROJECT\s+EVENT\s+TARGET\s+GLOBAL\s+ENABLED\s+ORDERING\s+CREATED BY\s+CREATED AT\s+DISABLED$/,
  );
  return lines.find((l) => l.startsWith(id))!;
}

describe('subscriptions: ordering and disabled reason', () => {
  it('add is concurrent by default and ordered with --ordered; set-ordering changes it; list shows it', async () => {
    const concurrent = await addSubscription('https://a.example/hook');
    const ordered = await addSubscription('https://b.example/hook', '--ordered');
    expect(await subscriptionRow(concurrent)).toMatchObject({ ordering: 'concurrent' });
    expect(await subscriptionRow(ordered)).toMatchObject({ ordering: 'ordered' });
    expect(await listLine(concurrent)).toMatch(/\s+yes\s+concurrent\s+cli\s+\S+Z$/);
    expect(await listLine(ordered)).toMatch(/\s+yes\s+ordered\s+cli\s+\S+Z$/);

    expect(ok(await cli(['subscriptions', 'set-ordering', ordered, 'concurrent']))).toBe(
      `subscription ${ordered} is now concurrent\n`,
    );
    expect(await subscriptionRow(ordered)).toMatchObject({ ordering: 'concurrent' });
    ok(await cli(['subscriptions', 'set-ordering', concurrent, 'ordered']));
    expect(await subscriptionRow(concurrent)).toMatchObject({ ordering: 'ordered' });

    const bad = await cli(['subscriptions', 'set-ordering', concurrent, 'fifo']);
    failed(bad, 'CONNECTOR_USAGE', 2, /ordering must be concurrent or ordered, got "fifo"/);
    const missing = await cli(['subscriptions', 'set-ordering', 'ffffffffffffffffffffffff', 'ordered']);
    failed(
      missing,
      'CONNECTOR_SUBSCRIPTION_NOT_FOUND',
      1,
      /no subscription with id "ffffffffffffffffffffffff"/,
    );
    expect(await subscriptionRow(concurrent)).toMatchObject({ ordering: 'ordered' });
  }, 60_000);

  it('disable records "operator" and the time (list shows both); enable clears them; a first reason stays', async () => {
    const id = await addSubscription('https://c.example/hook');
    const before = Date.now();
    expect(ok(await cli(['subscriptions', 'disable', id]))).toBe(`disabled subscription ${id}\n`);
    const disabled = await subscriptionRow(id);
    expect(disabled).toMatchObject({ enabled: false, disabled_reason: 'operator' });
    const at = (disabled.disabled_at as Date).getTime();
    expect(at).toBeGreaterThan(before - 5_000);
    expect(at).toBeLessThanOrEqual(Date.now() + 5_000);
    expect(await listLine(id)).toMatch(
      new RegExp(`\\s+no\\s+concurrent\\s+cli\\s+\\S+Z\\s+operator since ${new Date(at).toISOString()}$`),
    );

    expect(ok(await cli(['subscriptions', 'enable', id]))).toBe(
      `enabled subscription ${id}; its parked deliveries resume\n`,
    );
    expect(await subscriptionRow(id)).toEqual({
      enabled: true,
      ordering: 'concurrent',
      disabled_reason: null,
      disabled_at: null,
    });
    expect(await listLine(id)).toMatch(/\s+yes\s+concurrent\s+cli\s+\S+Z$/);

    // Disabled by the connector (410 Gone): an operator's disable keeps why it stopped first.
    await pool.query(
      `update webhook_subscriptions set enabled = false, disabled_reason = 'gone', disabled_at = now() - interval '1 hour' where id = $1`,
      [id],
    );
    const gone = await subscriptionRow(id);
    ok(await cli(['subscriptions', 'disable', id]));
    expect(await subscriptionRow(id)).toEqual(gone);
    expect(await listLine(id)).toMatch(/\s+no\s+concurrent\s+cli\s+\S+Z\s+gone since \S+Z$/);
  }, 60_000);
});

/** A stored event and `rows` deliveries of it, as the parked-delivery store writes them. */
async function insertEvent(eventId: string): Promise<string> {
  const r = await pool.query<{ id: string }>(
    `insert into webhook_events (event_id, event_name, id_project, event_ts, encoding, payload, topic,
       partition, record_offset, record_ts, record_key, record_value)
     values ($1, 'request.create', 'P1', 0, 'json', '\\x7b7d', 'tiledesk.events', 0, $2, '0', 'P1', '\\x7b7d')
     returning id::text`,
    [eventId, ++n],
  );
  return r.rows[0]!.id;
}

interface RowSpec {
  subscription: string;
  webhookId: string;
  state: 'parked' | 'delivered' | 'dead';
  createdAgoS: number;
  parkedReason?: string;
  deadReason?: string;
  dueInS?: number;
  attempts?: number;
  lastStatus?: number | null;
  lastError?: string | null;
  leaseUntilInS?: number | null;
}

async function insertDelivery(eventRef: string, s: RowSpec): Promise<string> {
  const r = await pool.query<{ id: string }>(
    `insert into webhook_deliveries (event_ref, subscription_id, webhook_id, seq, state, parked_reason, attempts,
       due_at, lease_owner, lease_until, last_status, last_error, dead_reason, created_at, finished_at)
     values ($1, $2, $3, 0, $4, $5, $6, now() + $7::float8 * interval '1 second',
       case when $8::float8 is null then null else 'instance-x' end, now() + $8::float8 * interval '1 second',
       $9, $10, $11, now() - $12::float8 * interval '1 second',
       case when $4::text = 'parked' then null else now() - $12::float8 * interval '1 second' + interval '1 second' end)
     returning id::text`,
    [
      eventRef,
      s.subscription,
      s.webhookId,
      s.state,
      s.parkedReason ?? 'retry',
      s.attempts ?? 1,
      s.dueInS ?? 0,
      s.leaseUntilInS ?? null,
      s.lastStatus ?? null,
      s.lastError ?? null,
      s.deadReason ?? null,
      s.createdAgoS,
    ],
  );
  return r.rows[0]!.id;
}

const deliveryRow = async (id: string): Promise<Record<string, unknown>> =>
  (
    await pool.query(
      `select state, lease_owner, lease_until, (extract(epoch from due_at) * 1000)::float8 as due_ms
         from webhook_deliveries where id = $1`,
      [id],
    )
  ).rows[0] as Record<string, unknown>;

describe('deliveries', () => {
  let sub: string;
  let other: string;
  let parked: string;
  let delivered: string;
  let dead: string;
  let otherParked: string;
  let leased: string;

  beforeAll(async () => {
    sub = await addSubscription('https://d.example/hook');
    other = await addSubscription('https://e.example/hook');
    const ev = await insertEvent('evt-1');
    dead = await insertDelivery(ev, {
      subscription: sub,
      webhookId: 'msg_dead',
      state: 'dead',
      createdAgoS: 400,
      deadReason: 'retries_exhausted',
      attempts: 8,
      lastError: 'ECONNREFUSED\nconnect failed',
    });
    delivered = await insertDelivery(ev, {
      subscription: sub,
      webhookId: 'msg_delivered',
      state: 'delivered',
      createdAgoS: 300,
      attempts: 2,
      lastStatus: 200,
    });
    parked = await insertDelivery(ev, {
      subscription: sub,
      webhookId: 'msg_parked',
      state: 'parked',
      createdAgoS: 200,
      dueInS: 3_600,
      attempts: 3,
      lastStatus: 503,
      leaseUntilInS: -60, // a lease that ran out: its instance died
    });
    otherParked = await insertDelivery(ev, {
      subscription: other,
      webhookId: 'msg_other',
      state: 'parked',
      parkedReason: 'spill',
      createdAgoS: 100,
      dueInS: 0,
      attempts: 0,
    });
    leased = await insertDelivery(ev, {
      subscription: other,
      webhookId: 'msg_leased',
      state: 'parked',
      parkedReason: 'circuit',
      createdAgoS: 50,
      dueInS: 600,
      leaseUntilInS: 60, // being attempted right now
    });
  });

  const ids = (out: string): string[] =>
    out
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/)[0]!);

  it('list: newest first, every column, filtered by subscription, state and limit', async () => {
    const all = ok(await cli(['deliveries', 'list']))
      .trimEnd()
      .split('\n');
    expect(all[0]).toMatch(
      /^ID\s+SUBSCRIPTION\s+WEBHOOK-ID\s+STATE\s+REASON\s+ATTEMPTS\s+DUE\/FINISHED\s+LAST$/,
    );
    expect(ids(all.join('\n'))).toEqual([leased, otherParked, parked, delivered, dead]);
    const line = (id: string): string => all.find((l) => l.startsWith(`${id} `))!;
    expect(line(parked)).toMatch(
      new RegExp(`^${parked}\\s+${sub}\\s+msg_parked\\s+parked\\s+retry\\s+3\\s+\\S+Z\\s+HTTP 503$`),
    );
    expect(line(otherParked)).toMatch(/\s+msg_other\s+parked\s+spill\s+0\s+\S+Z\s+-$/);
    expect(line(delivered)).toMatch(/\s+msg_delivered\s+delivered\s+-\s+2\s+\S+Z\s+HTTP 200$/);
    expect(line(dead)).toMatch(
      /\s+msg_dead\s+dead\s+retries_exhausted\s+8\s+\S+Z\s+ECONNREFUSED connect failed$/,
    );
    // Due time for a parked row, finished time for the others.
    const dueMs = (await deliveryRow(parked)).due_ms as number;
    expect(line(parked)).toContain(new Date(dueMs).toISOString());

    expect(ids(ok(await cli(['deliveries', 'list', '--subscription', sub])))).toEqual([
      parked,
      delivered,
      dead,
    ]);
    expect(ids(ok(await cli(['deliveries', 'list', '--state', 'parked'])))).toEqual([
      leased,
      otherParked,
      parked,
    ]);
    expect(ids(ok(await cli(['deliveries', 'list', '--subscription', other, '--state', 'dead'])))).toEqual(
      [],
    );
    expect(ok(await cli(['deliveries', 'list', '--subscription', other, '--state', 'dead']))).toBe(
      'no deliveries\n',
    );
    expect(ids(ok(await cli(['deliveries', 'list', '--limit', '2'])))).toEqual([leased, otherParked]);

    const badState = await cli(['deliveries', 'list', '--state', 'failed']);
    failed(badState, 'CONNECTOR_USAGE', 2, /--state must be parked, delivered, dead, got "failed"/);
    expect(badState.stderr).toContain('Usage: webhook-connector deliveries <command>');
    failed(await cli(['deliveries', 'list', '--limit', '0']), 'CONNECTOR_USAGE', 2, /--limit must be/);
  }, 60_000);

  it('retry-now: a parked row is due now and loses its expired lease; a live lease is kept', async () => {
    const before = Date.now();
    expect(ok(await cli(['deliveries', 'retry-now', parked]))).toBe(
      `delivery ${parked} (subscription ${sub}, webhook-id msg_parked) is due now\n`,
    );
    const row = await deliveryRow(parked);
    expect(row).toMatchObject({ state: 'parked', lease_owner: null, lease_until: null });
    expect(row.due_ms as number).toBeLessThanOrEqual(Date.now() + 1_000);
    expect(row.due_ms as number).toBeGreaterThan(before - 5_000);

    const out = ok(await cli(['deliveries', 'retry-now', leased]));
    expect(out).toMatch(/is due now\nIt is being attempted now \(lease of instance-x until \S+Z\)/);
    expect(await deliveryRow(leased)).toMatchObject({ state: 'parked', lease_owner: 'instance-x' });
    expect((await deliveryRow(leased)).due_ms as number).toBeLessThanOrEqual(Date.now() + 1_000);
  }, 60_000);

  it('retry-now refuses delivered, dead and unknown deliveries, and ids that are not ids', async () => {
    failed(
      await cli(['deliveries', 'retry-now', delivered]),
      'CONNECTOR_DELIVERY_NOT_PARKED',
      1,
      new RegExp(`delivery ${delivered} is delivered, not parked`),
    );
    failed(
      await cli(['deliveries', 'retry-now', dead]),
      'CONNECTOR_DELIVERY_NOT_PARKED',
      1,
      /is dead, not parked: only a parked delivery can be retried \(replay re-sends a dead letter\)/,
    );
    failed(
      await cli(['deliveries', 'retry-now', '999999999']),
      'CONNECTOR_DELIVERY_NOT_FOUND',
      1,
      /no delivery with id 999999999/,
    );
    failed(
      await cli(['deliveries', 'retry-now', 'msg_parked']),
      'CONNECTOR_USAGE',
      2,
      /a delivery ID is a positive whole number/,
    );
    expect(await deliveryRow(dead)).toMatchObject({ state: 'dead' });
    expect(await deliveryRow(delivered)).toMatchObject({ state: 'delivered' });
  }, 60_000);

  it('retry-now on a disabled subscription says the delivery waits for it to be enabled', async () => {
    ok(await cli(['subscriptions', 'disable', other]));
    expect(ok(await cli(['deliveries', 'retry-now', otherParked]))).toContain(
      `Subscription ${other} is disabled: the delivery waits until it is enabled.`,
    );
  }, 60_000);
});

describe('subscriptions enable --recover-since', () => {
  it("re-sends that subscription's dead letters since T: not older ones, not other subscriptions'", async () => {
    const mine = await startReceiver();
    const theirs = await startReceiver();
    try {
      const sub = await addSubscription(mine.url);
      const other = await addSubscription(theirs.url);
      ok(await cli(['subscriptions', 'disable', sub]));
      const dlq = uniqueName('recover-dlq');
      await createTopic(dlq, 2);
      const hourAgo = (h: number): number => Date.now() - h * 3_600_000;
      const letters = [
        { id: 'old-1', sub, at: hourAgo(5) },
        { id: 'new-1', sub, at: hourAgo(1) },
        { id: 'other-1', sub: other, at: hourAgo(1) },
        { id: 'new-2', sub, at: hourAgo(0.5) },
        { id: 'old-2', sub, at: hourAgo(3) },
      ];
      await produce(
        dlq,
        letters.map((l, i) => {
          const record = buildDeadLetterRecord(
            {
              topic: 'tiledesk.events',
              partition: 0,
              offset: String(i),
              timestamp: String(l.at),
              key: Buffer.from('P1'),
              value: Buffer.from(
                JSON.stringify({
                  id: l.id,
                  event: 'request.create',
                  id_project: 'P1',
                  timestamp: l.at,
                  payload: { id: l.id },
                }),
              ),
              headers: {},
            },
            {
              reason: 'retries_exhausted',
              event: 'request.create',
              eventId: l.id,
              subscriptionId: l.sub,
              attempts: 8,
              lastAttemptAt: l.at,
            },
          );
          return { key: record.key, value: record.value, headers: record.headers as Record<string, string> };
        }),
      );
      const run = await cli(['subscriptions', 'enable', sub, '--recover-since', '2h'], {
        KAFKA_BROKERS,
        KAFKA_GROUP_ID: uniqueName('recover-group'),
        DLQ_TOPIC: dlq,
        TARGET_ALLOW_CIDRS: '127.0.0.1/32',
      });
      const out = ok(run);
      expect(out).toContain(`enabled subscription ${sub}; its parked deliveries resume`);
      expect(out).toMatch(
        new RegExp(`^re-sent 2 dead letter\\(s\\) of subscription ${sub} since \\S+Z$`, 'm'),
      );
      // The process has exited: the replay read the topic to its end and every delivery is done.
      expect(mine.requests.map((q) => payloadId(q.body)).sort()).toEqual(['new-1', 'new-2']);
      expect(theirs.requests).toEqual([]);
      expect(await subscriptionRow(sub)).toMatchObject({ enabled: true, disabled_reason: null });
    } finally {
      await mine.close();
      await theirs.close();
    }
  }, 120_000);

  it('a dead letter that fails again: exit 1 with CONNECTOR_DELIVERY_FAILED, the subscription stays enabled', async () => {
    const refusing = await startReceiver(() => ({ status: 404 }));
    try {
      const sub = await addSubscription(refusing.url);
      ok(await cli(['subscriptions', 'disable', sub]));
      const dlq = uniqueName('recover-fail-dlq');
      await createTopic(dlq, 1);
      const at = Date.now() - 60_000;
      const record = buildDeadLetterRecord(
        {
          topic: 'tiledesk.events',
          partition: 0,
          offset: '0',
          timestamp: String(at),
          key: Buffer.from('P1'),
          value: Buffer.from(
            JSON.stringify({
              id: 'again-1',
              event: 'request.create',
              id_project: 'P1',
              timestamp: at,
              payload: { id: 'again-1' },
            }),
          ),
          headers: {},
        },
        {
          reason: 'retries_exhausted',
          event: 'request.create',
          eventId: 'again-1',
          subscriptionId: sub,
          attempts: 8,
          lastAttemptAt: at,
        },
      );
      await produce(dlq, [
        { key: record.key, value: record.value, headers: record.headers as Record<string, string> },
      ]);
      const run = await cli(
        ['subscriptions', 'enable', sub, `--recover-since=${new Date(at - 1_000).toISOString()}`],
        {
          KAFKA_BROKERS,
          KAFKA_GROUP_ID: uniqueName('recover-fail-group'),
          DLQ_TOPIC: dlq,
          TARGET_ALLOW_CIDRS: '127.0.0.1/32',
        },
      );
      expect(run.code).toBe(1);
      expect(run.stdout).toMatch(/^FAILED request\.create event again-1 /m);
      expect(run.stdout).toMatch(/^re-sent 0 dead letter\(s\) of subscription \S+ since \S+Z; 1 failed$/m);
      expect(run.stderr).toMatch(/^error CONNECTOR_DELIVERY_FAILED: 1 of 1 re-sent dead letters failed/);
      expect(refusing.requests.map((q) => payloadId(q.body))).toEqual(['again-1']);
      expect(await subscriptionRow(sub)).toMatchObject({ enabled: true, disabled_reason: null });
    } finally {
      await refusing.close();
    }
  }, 120_000);
});
