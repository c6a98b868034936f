/**
 * Endpoint health on a real Postgres: 410 disables at once, a failing run past SUBSCRIPTION_DISABLE_AFTER_MS
 * (compressed here to 1 s, on an injected clock) disables, several instances combine their views and
 * disable once, a Postgres outage loses nothing, and a re-enabled subscription is not disabled again by
 * failures from before its disable.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { createLogger } from '../../src/logger.js';
import {
  createEndpointHealth,
  type DisableReason,
  type EndpointHealth,
  type EndpointHealthOptions,
} from '../../src/parking/endpoint-health.js';
import { createPgPool } from '../../src/subscriptions/pool.js';
import { PG_ADMIN_URL } from '../support/env.js';
import { createMigratedDatabase, testClient, type TestDatabase } from '../support/pg.js';
import { waitFor } from '../support/wait.js';

const logger = createLogger('silent');
const DISABLE_AFTER_MS = 1_000;

let db: TestDatabase;
let pool: pg.Pool;
/** The pools the health instances use, as the service builds them (with their 'error' handlers). */
const healthPools: pg.Pool[] = [];
const instances: EndpointHealth[] = [];
/** The injected clock every instance reads (they run "at the same time"); starts at the real time. */
let clock = Date.now();
let disabledCalls: { id: string; reason: DisableReason }[] = [];

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('endpoint_health'));
});
beforeEach(() => {
  clock = Date.now(); // near the database's now(), which disabled_at is compared with
});
afterEach(async () => {
  await Promise.all(instances.splice(0).map((h) => h.stop()));
  disabledCalls = [];
  // A sweep covers every subscription: none left failing for the next test's sweeps.
  await pool.query('delete from webhook_subscription_health; delete from webhook_subscriptions');
});
afterAll(async () => {
  await Promise.all(healthPools.map((p) => p.end()));
  await pool.end();
  await db.drop();
});

function healthInstance(over: Partial<EndpointHealthOptions> = {}, url = db.url): EndpointHealth {
  const p = createPgPool({ connectionString: url, logger, max: 2, applicationName: 'test:endpoint-health' });
  healthPools.push(p);
  const h = createEndpointHealth({
    pool: p,
    now: () => clock,
    disableAfterMs: DISABLE_AFTER_MS,
    logger,
    onDisabled: (id, reason) => disabledCalls.push({ id, reason }),
    ...over,
  });
  instances.push(h);
  return h;
}

let n = 0;
async function newSubscription(): Promise<string> {
  n += 1;
  const { rows } = await pool.query<{ id: string }>(
    `insert into webhook_subscriptions (id_project, event, target, secret, created_by)
     values ($1, 'request.create', 'http://127.0.0.1:9/hook', 'whsec_x', 'test') returning id`,
    [`P${n}`],
  );
  return rows[0]!.id;
}

interface SubscriptionRow {
  enabled: boolean;
  disabled_reason: string | null;
  disabled_at: Date | null;
}
async function subscription(id: string): Promise<SubscriptionRow> {
  const { rows } = await pool.query<SubscriptionRow>(
    'select enabled, disabled_reason, disabled_at from webhook_subscriptions where id = $1',
    [id],
  );
  return rows[0]!;
}

interface HealthRow {
  failing_since: number | null;
  last_success_at: number | null;
  last_failure_at: number | null;
}
async function health(id: string): Promise<HealthRow | undefined> {
  const ms = (c: string): string => `(extract(epoch from ${c}) * 1000)::float8 as ${c}`;
  const { rows } = await pool.query<HealthRow>(
    `select ${ms('failing_since')}, ${ms('last_success_at')}, ${ms('last_failure_at')}
     from webhook_subscription_health where subscription_id = $1`,
    [id],
  );
  return rows[0];
}

/** Re-enabled as an operator would; `clear` also forgets when and why it was disabled. */
async function reEnable(id: string, clear: boolean): Promise<void> {
  const extra = clear ? ', disabled_reason = null, disabled_at = null' : '';
  await pool.query(`update webhook_subscriptions set enabled = true${extra} where id = $1`, [id]);
}

describe('410 Gone', () => {
  it('disables the subscription at once with reason gone, once however many 410s and instances', async () => {
    const [gone, other] = [await newSubscription(), await newSubscription()];
    const a = healthInstance();
    const b = healthInstance();
    for (let i = 0; i < 20; i++) {
      a.record(gone, false, 410);
      b.record(gone, false, 410);
      a.record(other, false, 503);
    }
    // No flush, no sweep: the 410 alone disables.
    await waitFor(async () => !(await subscription(gone)).enabled, { message: 'disabled by the 410' });
    const row = await subscription(gone);
    expect(row.disabled_reason).toBe('gone');
    expect(row.disabled_at).toBeInstanceOf(Date);
    expect((await subscription(other)).enabled).toBe(true);

    // Late 410s of attempts that were in flight: nothing more happens.
    a.record(gone, false, 410);
    b.record(gone, false, 410);
    await a.flush();
    await b.flush();
    expect(disabledCalls).toEqual([{ id: gone, reason: 'gone' }]);
    expect((await subscription(gone)).disabled_at).toEqual(row.disabled_at);
  });
});

describe('failing for longer than the disable time', () => {
  it('disables with reason failing once the run is older than disableAfterMs, and resets the health row', async () => {
    const id = await newSubscription();
    const h = healthInstance();
    h.record(id, false, 503);
    const firstFailure = clock;
    await h.flush();
    expect(await health(id)).toMatchObject({ failing_since: firstFailure, last_success_at: null });

    clock += DISABLE_AFTER_MS - 100;
    h.record(id, false, 500);
    await h.flush();
    expect(await h.sweep()).toEqual([]);
    expect((await subscription(id)).enabled).toBe(true);

    clock += 200;
    h.record(id, false);
    await h.flush();
    expect(await h.sweep()).toEqual([id]);
    const row = await subscription(id);
    expect(row).toMatchObject({ enabled: false, disabled_reason: 'failing' });
    expect(row.disabled_at).toBeInstanceOf(Date);
    expect(disabledCalls).toEqual([{ id, reason: 'failing' }]);
    expect((await health(id))?.failing_since).toBeNull();
    expect(await h.sweep()).toEqual([]);
  });

  it('a 2xx in between starts the run again', async () => {
    const id = await newSubscription();
    const h = healthInstance();
    const t0 = clock;
    h.record(id, false, 503);
    await h.flush();
    clock = t0 + 500;
    h.record(id, true, 200);
    clock = t0 + 600;
    h.record(id, false, 503);
    await h.flush();
    expect(await health(id)).toMatchObject({ failing_since: t0 + 600, last_success_at: t0 + 500 });

    clock = t0 + 1_500; // past disableAfterMs from the first failure, not from the one after the 2xx
    expect(await h.sweep()).toEqual([]);
    clock = t0 + 1_700;
    expect(await h.sweep()).toEqual([id]);
    expect(await subscription(id)).toMatchObject({ enabled: false, disabled_reason: 'failing' });
  });

  it('a throwing onDisabled neither rejects the sweep nor stops the disable', async () => {
    const id = await newSubscription();
    const h = healthInstance({
      onDisabled: () => {
        throw new Error('callback bug');
      },
    });
    h.record(id, false, 503);
    await h.flush();
    clock += DISABLE_AFTER_MS + 1;
    await expect(h.sweep()).resolves.toEqual([id]);
    expect(await subscription(id)).toMatchObject({ enabled: false, disabled_reason: 'failing' });
  });

  it('start() flushes and sweeps on its own timer', async () => {
    const id = await newSubscription();
    const h = healthInstance({ flushIntervalMs: 50 });
    h.start();
    h.record(id, false, 503);
    await waitFor(async () => (await health(id))?.failing_since === clock, {
      message: 'flushed by the timer',
    });
    clock += DISABLE_AFTER_MS + 1;
    await waitFor(async () => !(await subscription(id)).enabled, { message: 'swept by the timer' });
    expect(disabledCalls).toEqual([{ id, reason: 'failing' }]);
  });
});

describe('two instances on one database', () => {
  it('a 2xx seen by one instance ends the failing run seen by the other, whatever the flush order', async () => {
    const id = await newSubscription();
    const a = healthInstance();
    const b = healthInstance();
    const t0 = clock;
    a.record(id, false, 503);
    b.record(id, false, 503);
    clock = t0 + 50;
    a.record(id, true, 200);
    clock = t0 + 900;
    b.record(id, false, 503); // b's run started before a's 2xx: only its failure after it counts
    await b.flush();
    await a.flush();
    expect(await health(id)).toMatchObject({ last_success_at: t0 + 50, failing_since: t0 + 900 });
    clock = t0 + 1_500;
    expect([...(await a.sweep()), ...(await b.sweep())]).toEqual([]);

    // An old 2xx flushed late does not end a run that started after it.
    clock = t0 + 10; // b's clock lags
    const late = healthInstance();
    late.record(id, true, 200);
    await late.flush();
    expect(await health(id)).toMatchObject({ last_success_at: t0 + 50, failing_since: t0 + 900 });

    clock = t0 + 1_950;
    const swept = await Promise.all([a.sweep(), b.sweep(), late.sweep()]);
    expect(swept.flat()).toEqual([id]);
    expect(disabledCalls).toEqual([{ id, reason: 'failing' }]);
  });

  it('concurrent flushes and sweeps of many subscriptions disable each once', async () => {
    const ids = await Promise.all(Array.from({ length: 20 }, () => newSubscription()));
    const all = [healthInstance(), healthInstance(), healthInstance()];
    const t0 = clock;
    for (const h of all) for (const id of ids) h.record(id, false, 503);
    await Promise.all(all.map((h) => h.flush()));
    clock = t0 + DISABLE_AFTER_MS + 1;
    for (const h of all) for (const id of ids) h.record(id, false, 503);
    const swept = await Promise.all(all.map(async (h) => (await h.flush(), h.sweep())));
    expect(swept.flat().sort()).toEqual([...ids].sort());
    expect(disabledCalls.map((c) => c.id).sort()).toEqual([...ids].sort());
    const { rows } = await pool.query<{ n: number }>(
      `select count(*)::int as n from webhook_subscriptions where id = any($1) and disabled_reason = 'failing'`,
      [ids],
    );
    expect(rows[0]!.n).toBe(ids.length);
  });
});

describe('Postgres unavailable', () => {
  it('record, flush, sweep and stop neither throw nor reject when Postgres is unreachable', async () => {
    const h = healthInstance({}, 'postgres://postgres@127.0.0.1:1/none');
    expect(() => {
      h.record('s1', false, 503);
      h.record('s1', false, 410);
      h.record('s2', true, 200);
    }).not.toThrow();
    await expect(h.flush()).resolves.toBeUndefined();
    await expect(h.sweep()).resolves.toEqual([]);
    await expect(h.stop()).resolves.toBeUndefined();
    expect(disabledCalls).toEqual([]);
  });

  it('keeps what it recorded during an outage and writes it when Postgres is back', async () => {
    const [failing, gone] = [await newSubscription(), await newSubscription()];
    const h = healthInstance();
    h.record(failing, true, 200);
    await h.flush(); // its pool holds a connection: the outage terminates it (an 'error' on the client)
    const admin = testClient(PG_ADMIN_URL, 'endpoint-health-admin');
    await admin.connect();
    const name = new URL(db.url).pathname.slice(1);
    try {
      await admin.query(`alter database "${name}" allow_connections false`);
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [name]);
      const t0 = clock + 10;
      clock = t0;
      h.record(failing, false, 503);
      h.record(gone, false, 410);
      await h.flush();
      clock = t0 + 100;
      h.record(failing, false, 503);
      await h.flush();
      expect(await h.sweep()).toEqual([]);
      await admin.query(`alter database "${name}" allow_connections true`);

      await h.flush();
      expect(await health(failing)).toMatchObject({ failing_since: t0, last_failure_at: t0 + 100 });
      expect(await subscription(gone)).toMatchObject({ enabled: false, disabled_reason: 'gone' });
      expect(disabledCalls).toEqual([{ id: gone, reason: 'gone' }]);
    } finally {
      await admin.query(`alter database "${name}" allow_connections true`);
      await admin.end();
    }
  });
});

describe('a 410 disable in flight when a flush starts', () => {
  it('fails (its connection lost) and is tried again by that same flush', async () => {
    const gone = await newSubscription();
    const h = healthInstance();
    // The disable started by the 410 waits on a row lock held here, so it is in flight when the flush
    // starts; then its backend is terminated, as an outage would.
    const locker = testClient(db.url, 'endpoint-health-locker');
    await locker.connect();
    const waiting = async (): Promise<number[]> =>
      (
        await pool.query<{ pid: number }>(
          `select pid from pg_stat_activity
            where datname = current_database() and application_name = 'test:endpoint-health'
              and wait_event_type = 'Lock'`,
        )
      ).rows.map((r) => r.pid);
    try {
      await locker.query('begin');
      await locker.query('select 1 from webhook_subscriptions where id = $1 for update', [gone]);
      h.record(gone, false, 410);
      const [pid] = await waitFor(async () => {
        const pids = await waiting();
        return pids.length === 1 && pids;
      });
      const flushed = h.flush();
      await pool.query('select pg_terminate_backend($1)', [pid]);
      await waitFor(async () => !(await waiting()).includes(pid!));
      await locker.query('rollback');
      await flushed;
      expect(await subscription(gone)).toMatchObject({ enabled: false, disabled_reason: 'gone' });
      expect(disabledCalls).toEqual([{ id: gone, reason: 'gone' }]);
    } finally {
      await locker.end();
    }
  });
});

describe('re-enabled subscription', () => {
  it.each([
    ['with its disabled_at kept', false],
    ['with disabled_at cleared', true],
  ])('is not disabled again by failures from before its disable (%s)', async (_, clear) => {
    const id = await newSubscription();
    const a = healthInstance();
    const b = healthInstance();
    const t0 = clock;
    a.record(id, false, 503);
    await a.flush();
    clock = t0 + DISABLE_AFTER_MS + 1;
    a.record(id, false, 503); // recorded, not flushed, before the disable
    expect(await a.sweep()).toEqual([id]);

    if (clear) {
      // b's failures from before the disable, and of its attempts still in flight then, reach Postgres
      // while the subscription is disabled.
      clock = t0;
      b.record(id, false, 503);
      clock = Date.now() + 1; // after the database's disabled_at
      b.record(id, false, 503);
      await b.flush();
      await reEnable(id, true);
    } else {
      // Re-enabled before b flushes its failures from before the disable (on the real clock: compared
      // with the database's disabled_at).
      clock = t0;
      b.record(id, false, 503);
      await reEnable(id, false);
      clock = t0 + DISABLE_AFTER_MS + 1;
      await b.flush();
    }
    await a.flush();
    expect((await health(id))?.failing_since).toBeNull();
    clock += 10 * DISABLE_AFTER_MS;
    expect([...(await a.sweep()), ...(await b.sweep())]).toEqual([]);
    expect((await subscription(id)).enabled).toBe(true);

    // New failures count again.
    const t1 = clock;
    b.record(id, false, 503);
    await b.flush();
    expect((await health(id))?.failing_since).toBe(t1);
    clock = t1 + DISABLE_AFTER_MS + 1;
    expect(await b.sweep()).toEqual([id]);
    expect(disabledCalls).toEqual([
      { id, reason: 'failing' },
      { id, reason: 'failing' },
    ]);
  });
});
