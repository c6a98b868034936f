/**
 * Subscriptions on a real Postgres, in a database of their own: migrations, the store, and the live
 * snapshot (notifications, a killed LISTEN connection, a lost notification, and a database outage).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { readdirSync } from 'node:fs';
import pg from 'pg';
import { systemClock } from '../../src/clock.js';
import { ErrorCode } from '../../src/errors.js';
import { createLogger } from '../../src/logger.js';
import { defaultSqlDir, migrate } from '../../src/subscriptions/migrate.js';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { createPgPool } from '../../src/subscriptions/pool.js';
import {
  createSubscriptionCache,
  type SubscriptionCache,
  type SubscriptionCacheOptions,
  type SubscriptionCacheState,
} from '../../src/subscriptions/subscription-cache.js';
import type { Subscription, SubscriptionStore } from '../../src/subscriptions/types.js';
import { createTestDatabase, testClient, type TestDatabase } from '../support/pg.js';
import { waitFor } from '../support/wait.js';

const logger = createLogger('silent');
const SQL_FILES = readdirSync(defaultSqlDir())
  .filter((f) => f.endsWith('.sql'))
  .sort();

let db: TestDatabase;
let pool: pg.Pool;
let admin: pg.Client;
let store: SubscriptionStore;
const caches: SubscriptionCache[] = [];

function adminUrl(url: string): string {
  const u = new URL(url);
  u.pathname = '/postgres';
  return u.toString();
}

/** Empties the database, whatever the helper's template put in it, so migrations start from nothing. */
async function resetSchema(p: pg.Pool): Promise<void> {
  await p.query('drop schema public cascade; create schema public');
}

function startCache(over: Partial<SubscriptionCacheOptions> = {}): SubscriptionCache {
  const cache = createSubscriptionCache({
    pool,
    store,
    clock: systemClock,
    logger,
    resyncIntervalMs: 60_000,
    maxStalenessMs: 60_000,
    ...over,
  });
  caches.push(cache);
  return cache;
}

let n = 0;
const uniqueProject = (): string => `proj-${Date.now().toString(36)}-${++n}`;

beforeAll(async () => {
  db = await createTestDatabase('subscriptions');
  pool = createPgPool({ connectionString: db.url, logger, max: 4 });
  admin = testClient(adminUrl(db.url), 'subscriptions-admin');
  await admin.connect();
  await resetSchema(pool);
  await migrate(pool);
  store = createSubscriptionStore(pool);
});

// Each test stops its caches, so a later test's outage or killed listener concerns its own cache only.
afterEach(async () => {
  await Promise.allSettled(caches.splice(0).map((c) => c.stop()));
});

afterAll(async () => {
  await admin
    ?.query(`alter database ${pg.escapeIdentifier(db.name)} allow_connections true`)
    .catch(() => undefined);
  await pool?.end();
  await admin?.end();
  await db?.drop();
});

describe('migrate', () => {
  /** A fresh, empty database of its own, with `count` pools on it. */
  async function withEmptyDatabase(count: number, fn: (pools: pg.Pool[]) => Promise<void>): Promise<void> {
    const other = await createTestDatabase('subscriptions_migrate');
    const pools = Array.from({ length: count }, () => createPgPool({ connectionString: other.url, logger }));
    try {
      await resetSchema(pools[0] as pg.Pool);
      await fn(pools);
    } finally {
      await Promise.all(pools.map((p) => p.end()));
      await other.drop();
    }
  }

  it('applies every file once, and a second run is a no-op', async () => {
    await withEmptyDatabase(1, async ([p]) => {
      const one = p as pg.Pool;
      expect(await migrate(one)).toEqual(SQL_FILES);
      expect(await migrate(one)).toEqual([]);
      const tracked = await one.query<{ name: string }>(
        'select name from webhook_connector_migrations order by name',
      );
      expect(tracked.rows.map((r) => r.name)).toEqual(SQL_FILES);
    });
  });

  it('two processes migrating at once apply each file exactly once', async () => {
    await withEmptyDatabase(2, async ([p1, p2]) => {
      const [a, b] = await Promise.all([migrate(p1 as pg.Pool), migrate(p2 as pg.Pool)]);
      expect([...a, ...b].sort()).toEqual(SQL_FILES);
      const table = await (p2 as pg.Pool).query("select to_regclass('webhook_subscriptions') as t");
      expect(table.rows[0].t).toBe('webhook_subscriptions');
    });
  });
});

describe('subscription store', () => {
  it('adds with a generated whsec_ secret, lists without secrets, and gets with them', async () => {
    const project = uniqueProject();
    const s = await store.add({
      idProject: project,
      event: 'request.create',
      target: 'https://crm.example.com/h',
      createdBy: 'u1',
    });
    expect(s.id).toMatch(/^[0-9a-f]{24}$/);
    expect(s.secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(Buffer.from(s.secret.slice(6), 'base64')).toHaveLength(32);
    expect(s).toMatchObject({
      idProject: project,
      global: false,
      enabled: true,
      createdBy: 'u1',
      previousSecret: null,
    });
    expect(s.createdAt).toBeInstanceOf(Date);

    const listed = await store.list({ idProject: project });
    expect(listed).toHaveLength(1);
    expect(listed[0]).not.toHaveProperty('secret');
    expect(listed[0]).not.toHaveProperty('previousSecret');
    expect(listed[0]?.id).toBe(s.id);
    expect((await store.list()).map((x) => x.id)).toContain(s.id);
    expect(await store.get(s.id)).toEqual(s);
    expect(await store.get('000000000000000000000000')).toBeUndefined();
  });

  it('rejects bad input and duplicates with SUBSCRIPTION_INVALID and a clear message', async () => {
    const base = {
      idProject: uniqueProject(),
      event: 'lead.create',
      target: 'https://x.example/h',
      createdBy: 'u1',
    };
    await expect(store.add({ ...base, target: 'ftp://x.example' })).rejects.toMatchObject({
      code: ErrorCode.SUBSCRIPTION_INVALID,
      message: expect.stringContaining('must start with http:// or https://'),
    });
    await expect(store.add({ ...base, event: '' })).rejects.toMatchObject({
      code: ErrorCode.SUBSCRIPTION_INVALID,
    });
    await expect(store.add({ ...base, event: 'lead.*' })).rejects.toMatchObject({
      message: expect.stringContaining('wildcard'),
    });
    await store.add(base);
    await expect(store.add(base)).rejects.toMatchObject({
      code: ErrorCode.SUBSCRIPTION_INVALID,
      message: expect.stringContaining('already has a subscription'),
    });
    // The same event and target in another project, or another target, is fine.
    await store.add({ ...base, idProject: uniqueProject() });
    await store.add({ ...base, target: 'https://x.example/other' });
  });

  it('a snapshot load reads page after page in one transaction: every row once, whatever the page size', async () => {
    const project = uniqueProject();
    const added: Subscription[] = [];
    for (let i = 0; i < 7; i++) {
      added.push(
        await store.add({
          idProject: project,
          event: `request.e${i}`,
          target: 'https://p.example',
          createdBy: 'u',
        }),
      );
    }
    await store.setEnabled(added[3]!.id, false);
    for (const pageRows of [1, 2, 3, 7, 1000]) {
      const paged = createSubscriptionStore(pool, { snapshotPageRows: pageRows });
      const ids = (await paged.loadEnabled()).map((x) => x.id).filter((id) => added.some((a) => a.id === id));
      expect({ pageRows, ids: ids.sort() }).toEqual({
        pageRows,
        ids: added
          .filter((_, i) => i !== 3)
          .map((a) => a.id)
          .sort(),
      });
      const byIds = await paged.loadByIds(added.map((a) => a.id));
      expect({ pageRows, n: byIds.length, unique: new Set(byIds.map((x) => x.id)).size }).toEqual({
        pageRows,
        n: 7,
        unique: 7,
      });
    }
  });

  it('snapshot rows (compact form) read the same as store.get(), dates included, through a rotation', async () => {
    const s = await store.add({
      idProject: uniqueProject(),
      event: 'request.create',
      target: 'https://compact.example/hook',
      createdBy: 'u',
    });
    await store.rotateSecret(s.id, 3_600_000);
    const plain = await store.get(s.id);
    const [snap] = await store.loadByIds([s.id]);
    expect(plain).toBeDefined();
    expect(snap).toBeDefined();
    for (const field of [
      'id',
      'idProject',
      'event',
      'target',
      'secret',
      'previousSecret',
      'global',
      'enabled',
      'ordering',
      'disabledReason',
      'createdBy',
    ] as const) {
      expect({ field, value: snap![field] }).toEqual({ field, value: plain![field] });
    }
    expect(snap!.createdAt.getTime()).toBe(plain!.createdAt.getTime());
    expect(snap!.updatedAt.getTime()).toBe(plain!.updatedAt.getTime());
    expect(snap!.previousSecretExpiresAt?.getTime()).toBe(plain!.previousSecretExpiresAt?.getTime());
    expect(snap!.previousSecretExpiresAt?.getTime()).toBeGreaterThan(Date.now());
    expect(JSON.parse(JSON.stringify(snap))).toEqual(JSON.parse(JSON.stringify(plain)));
  });

  it('enables, disables, rotates and removes; unknown ids are SUBSCRIPTION_NOT_FOUND', async () => {
    const s = await store.add({
      idProject: uniqueProject(),
      event: 'request.close',
      target: 'https://x.example',
      createdBy: 'u',
    });
    const disabled = await store.setEnabled(s.id, false);
    expect(disabled.enabled).toBe(false);
    expect(disabled.updatedAt.getTime()).toBeGreaterThanOrEqual(s.updatedAt.getTime());
    expect((await store.loadEnabled()).map((x) => x.id)).not.toContain(s.id);
    expect((await store.setEnabled(s.id, true)).enabled).toBe(true);
    expect((await store.loadEnabled()).map((x) => x.id)).toContain(s.id);

    const before = Date.now();
    const rotated = await store.rotateSecret(s.id, 3_600_000);
    const after = await store.get(s.id);
    expect(rotated).not.toBe(s.secret);
    expect(after?.secret).toBe(rotated);
    expect(after?.previousSecret).toBe(s.secret);
    expect(after?.previousSecretExpiresAt?.getTime()).toBeGreaterThan(before + 3_500_000);
    expect(after?.previousSecretExpiresAt?.getTime()).toBeLessThan(before + 3_700_000);
    await store.rotateSecret(s.id, 0);
    expect(await store.get(s.id)).toMatchObject({ previousSecret: null, previousSecretExpiresAt: null });

    await store.remove(s.id);
    expect(await store.get(s.id)).toBeUndefined();
    const missing = { code: ErrorCode.SUBSCRIPTION_NOT_FOUND };
    await expect(store.remove(s.id)).rejects.toMatchObject(missing);
    await expect(store.setEnabled(s.id, true)).rejects.toMatchObject(missing);
    await expect(store.rotateSecret(s.id, 0)).rejects.toMatchObject(missing);
    await expect(store.rotateSecret(s.id, -1)).rejects.toMatchObject({
      code: ErrorCode.SUBSCRIPTION_INVALID,
    });
  });

  it('ordering: concurrent by default, ordered on request, changed by setOrdering; every load reads it', async () => {
    const plain = await store.add({
      idProject: uniqueProject(),
      event: 'request.create',
      target: 'https://o.example/1',
      createdBy: 'u',
    });
    const ordered = await store.add({
      idProject: uniqueProject(),
      event: 'request.create',
      target: 'https://o.example/2',
      createdBy: 'u',
      ordering: 'ordered',
    });
    expect([plain.ordering, ordered.ordering]).toEqual(['concurrent', 'ordered']);
    expect((await store.setOrdering(plain.id, 'ordered')).ordering).toBe('ordered');
    expect((await store.setOrdering(ordered.id, 'concurrent')).ordering).toBe('concurrent');
    const ids = [plain.id, ordered.id];
    const byId = (rows: readonly { id: string; ordering: string }[]): Record<string, string> =>
      Object.fromEntries(rows.filter((r) => ids.includes(r.id)).map((r) => [r.id, r.ordering]));
    const expected = { [plain.id]: 'ordered', [ordered.id]: 'concurrent' };
    expect(byId(await store.loadEnabled())).toEqual(expected);
    expect(byId(await store.loadByIds(ids))).toEqual(expected);
    expect(byId(await store.list())).toEqual(expected);
    expect((await store.get(plain.id))?.ordering).toBe('ordered');
    const invalid = { code: ErrorCode.SUBSCRIPTION_INVALID };
    await expect(store.setOrdering(plain.id, 'fifo' as 'ordered')).rejects.toMatchObject(invalid);
    await expect(
      store.add({
        idProject: 'P',
        event: 'e',
        target: 'https://o.example/3',
        createdBy: 'u',
        ordering: 'lifo' as 'ordered',
      }),
    ).rejects.toMatchObject(invalid);
    await expect(store.setOrdering('no-such-id', 'ordered')).rejects.toMatchObject({
      code: ErrorCode.SUBSCRIPTION_NOT_FOUND,
    });
  });

  it('disabled reason and time: recorded on disable (first reason kept), read by every load, cleared on enable', async () => {
    const s = await store.add({
      idProject: uniqueProject(),
      event: 'request.create',
      target: 'https://r.example/1',
      createdBy: 'u',
    });
    expect(s).toMatchObject({ disabledReason: null, disabledAt: null });
    const before = Date.now();
    const gone = await store.setEnabled(s.id, false, 'gone');
    expect(gone.disabledReason).toBe('gone');
    expect(gone.disabledAt!.getTime()).toBeGreaterThan(before - 5_000);
    const again = await store.setEnabled(s.id, false);
    expect(again).toMatchObject({ disabledReason: 'gone', disabledAt: gone.disabledAt });
    const [snap] = await store.loadByIds([s.id]);
    expect(snap).toMatchObject({ enabled: false, disabledReason: 'gone' });
    expect(snap!.disabledAt?.getTime()).toBe(gone.disabledAt!.getTime());
    expect(JSON.parse(JSON.stringify(snap))).toMatchObject({ disabledReason: 'gone' });
    const listed = (await store.list()).find((x) => x.id === s.id);
    expect(listed?.disabledAt?.getTime()).toBe(gone.disabledAt!.getTime());

    expect(await store.setEnabled(s.id, true)).toMatchObject({
      enabled: true,
      disabledReason: null,
      disabledAt: null,
    });
    expect((await store.setEnabled(s.id, false)).disabledReason).toBe('operator');
  });

  it('notifies op and id only, never the secret', async () => {
    const listener = testClient(db.url, 'subscriptions-listener');
    await listener.connect();
    const payloads: string[] = [];
    listener.on('notification', (m) => payloads.push(m.payload ?? ''));
    await listener.query('listen webhook_subscriptions');
    try {
      const s = await store.add({
        idProject: uniqueProject(),
        event: 'e1',
        target: 'https://x.example',
        createdBy: 'u',
      });
      await store.remove(s.id);
      await waitFor(() => payloads.length >= 2, {
        timeoutMs: 2_000,
        intervalMs: 20,
        message: 'two notifications',
      });
      expect(payloads.map((p) => JSON.parse(p))).toEqual([
        { op: 'INSERT', id: s.id },
        { op: 'DELETE', id: s.id },
      ]);
      expect(payloads.join()).not.toContain(s.secret);
    } finally {
      await listener.end();
    }
  });
});

describe('subscription store: findByKey and update (the management API)', () => {
  it("findByKey finds the project's subscription of that event and target, with its secret", async () => {
    const project = uniqueProject();
    const s = await store.add({
      idProject: project,
      event: 'e.k',
      target: 'https://k.example/',
      createdBy: 't',
    });
    expect(await store.findByKey(project, 'e.k', 'https://k.example/')).toEqual(s);
    expect(await store.findByKey(project, 'e.k', 'https://k.example/other')).toBeUndefined();
    expect(await store.findByKey(uniqueProject(), 'e.k', 'https://k.example/')).toBeUndefined();
  });

  it('update changes event and target only, validated, and refuses a duplicate without writing', async () => {
    const project = uniqueProject();
    const s = await store.add({
      idProject: project,
      event: 'e.u',
      target: 'https://u.example/',
      createdBy: 't',
    });
    const other = await store.add({
      idProject: project,
      event: 'e.u',
      target: 'https://u.example/2',
      createdBy: 't',
    });
    const changed = await store.update(s.id, { target: 'https://u.example/1' });
    expect(changed).toMatchObject({
      id: s.id,
      event: 'e.u',
      target: 'https://u.example/1',
      idProject: project,
    });
    expect(changed).not.toHaveProperty('secret');
    expect(changed.updatedAt.getTime()).toBeGreaterThanOrEqual(s.updatedAt.getTime());
    expect((await store.update(s.id, { event: 'e.v' })).event).toBe('e.v');
    await expect(store.update(s.id, { target: 'ftp://x' })).rejects.toMatchObject({
      code: ErrorCode.SUBSCRIPTION_INVALID,
    });
    await expect(store.update(s.id, { event: 'a*' })).rejects.toMatchObject({
      code: ErrorCode.SUBSCRIPTION_INVALID,
    });
    await expect(
      store.update(other.id, { event: 'e.v', target: 'https://u.example/1' }),
    ).rejects.toMatchObject({
      code: ErrorCode.SUBSCRIPTION_INVALID,
    });
    expect(await store.get(other.id)).toEqual(other);
    expect(await store.get(s.id)).toMatchObject({
      event: 'e.v',
      target: 'https://u.example/1',
      secret: s.secret,
    });
    await expect(store.update('000000000000000000000000', { event: 'x.y' })).rejects.toMatchObject({
      code: ErrorCode.SUBSCRIPTION_NOT_FOUND,
    });
  });
});

describe('subscription cache', () => {
  const matchIds = (cache: SubscriptionCache, event: string, project: string): string[] =>
    cache.index.match(event, project).map((s) => s.id);

  it('sees an insert, an update, a disable and a delete within 2 s', async () => {
    const project = uniqueProject();
    const cache = startCache();
    await cache.start();
    expect(cache.state).toBe('fresh');
    expect(cache.snapshotAgeMs()).toBe(0);
    const seen = (fn: () => boolean, message: string) =>
      waitFor(fn, { timeoutMs: 2_000, intervalMs: 20, message });

    const s = await store.add({
      idProject: project,
      event: 'request.create',
      target: 'https://a.example',
      createdBy: 'u',
    });
    await seen(() => matchIds(cache, 'request.create', project).includes(s.id), 'insert');
    expect(cache.index.get(s.id)?.secret).toBe(s.secret);

    await pool.query('update webhook_subscriptions set target = $2 where id = $1', [
      s.id,
      'https://b.example',
    ]);
    await seen(() => cache.index.get(s.id)?.target === 'https://b.example', 'update');

    await store.setEnabled(s.id, false);
    await seen(() => !matchIds(cache, 'request.create', project).includes(s.id), 'disable');
    await store.setEnabled(s.id, true);
    await seen(() => matchIds(cache, 'request.create', project).includes(s.id), 'enable');

    await store.remove(s.id);
    await seen(() => cache.index.get(s.id) === undefined, 'delete');
    expect(cache.state).toBe('fresh');
  });

  it('coalesces a burst of 1,000 notifications into a few reloads', async () => {
    const calls = { full: 0, byIds: 0 };
    const counting: SubscriptionCacheOptions['store'] = {
      loadEnabled: () => (calls.full++, store.loadEnabled()),
      loadByIds: (ids) => (calls.byIds++, store.loadByIds(ids)),
    };
    const cache = startCache({ store: counting });
    await cache.start();
    const project = uniqueProject();
    const initial = cache.index.size;
    calls.full = 0;
    await pool.query(
      `insert into webhook_subscriptions (id_project, event, target, secret, created_by)
       select $1, 'burst.' || i, 'https://burst.example/' || i, 'secret-' || i, 'u' from generate_series(1, 1000) i`,
      [project],
    );
    await waitFor(() => cache.index.size === initial + 1_000, {
      timeoutMs: 5_000,
      intervalMs: 20,
      message: 'burst loaded',
    });
    expect(calls.full + calls.byIds).toBeLessThanOrEqual(5);
    expect(matchIds(cache, 'burst.500', project)).toHaveLength(1);
  });

  it('heals after its LISTEN connection is killed and a change is made while it is down', async () => {
    const cache = startCache({ reconnectInitialDelayMs: 1_000 });
    await cache.start();
    const states: SubscriptionCacheState[] = [];
    cache.onStateChange((s) => states.push(s));
    const killed = await admin.query(
      `select pg_terminate_backend(pid) from pg_stat_activity where datname = $1 and application_name like '%:listener'`,
      [db.name],
    );
    expect(killed.rowCount).toBeGreaterThanOrEqual(1);
    await waitFor(() => cache.state === 'degraded', {
      timeoutMs: 2_000,
      intervalMs: 10,
      message: 'listener loss noticed',
    });
    const project = uniqueProject();
    const s = await store.add({
      idProject: project,
      event: 'request.create',
      target: 'https://down.example',
      createdBy: 'u',
    });
    // The resync interval is 60 s: only the reconnect and its full reload can bring this in.
    await waitFor(() => cache.index.get(s.id) !== undefined && cache.state === 'fresh', {
      timeoutMs: 5_000,
      intervalMs: 20,
      message: 'healed by reconnect',
    });
    expect(states).toEqual(['degraded', 'fresh']);
    const t = await store.add({
      idProject: project,
      event: 'request.create',
      target: 'https://up.example',
      createdBy: 'u',
    });
    await waitFor(() => cache.index.get(t.id) !== undefined, {
      timeoutMs: 2_000,
      intervalMs: 20,
      message: 'listening again',
    });
  });

  it('heals a lost notification at the next resync', async () => {
    const cache = startCache({ resyncIntervalMs: 500 });
    await cache.start();
    await pool.query('alter table webhook_subscriptions disable trigger webhook_subscriptions_notify');
    let id: string;
    try {
      id = (
        await store.add({
          idProject: uniqueProject(),
          event: 'quiet',
          target: 'https://q.example',
          createdBy: 'u',
        })
      ).id;
    } finally {
      await pool.query('alter table webhook_subscriptions enable trigger webhook_subscriptions_notify');
    }
    await waitFor(() => cache.index.get(id) !== undefined, {
      timeoutMs: 3_000,
      intervalMs: 20,
      message: 'resync',
    });
  });

  it('serves the last snapshot through an outage, turns stale, and recovers by itself', async () => {
    const project = uniqueProject();
    const s = await store.add({
      idProject: project,
      event: 'request.create',
      target: 'https://o.example',
      createdBy: 'u',
    });
    const cache = startCache({
      resyncIntervalMs: 300,
      maxStalenessMs: 1_500,
      reconnectInitialDelayMs: 100,
      reconnectMaxDelayMs: 300,
    });
    await cache.start();
    const states: SubscriptionCacheState[] = [];
    cache.onStateChange((state) => states.push(state));
    const db_ = pg.escapeIdentifier(db.name);

    await admin.query(`alter database ${db_} allow_connections false`);
    try {
      await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where datname = $1', [
        db.name,
      ]);
      await waitFor(() => cache.state === 'degraded', {
        timeoutMs: 2_000,
        intervalMs: 10,
        message: 'degraded',
      });
      expect(matchIds(cache, 'request.create', project)).toEqual([s.id]);
      expect(cache.isUsable()).toBe(true);
      const firstAge = cache.snapshotAgeMs();
      await waitFor(() => cache.snapshotAgeMs() >= firstAge + 300, {
        timeoutMs: 2_000,
        intervalMs: 20,
        message: 'age grows',
      });

      await waitFor(() => cache.state === 'stale', { timeoutMs: 4_000, intervalMs: 20, message: 'stale' });
      expect(cache.isUsable()).toBe(false);
      expect(cache.snapshotAgeMs()).toBeGreaterThan(1_500);
      // Still the last snapshot: the consumer decides to pause, the cache does not drop what it has.
      expect(matchIds(cache, 'request.create', project)).toEqual([s.id]);
    } finally {
      await admin.query(`alter database ${db_} allow_connections true`);
    }
    await waitFor(() => cache.state === 'fresh', {
      timeoutMs: 10_000,
      intervalMs: 20,
      message: 'fresh again',
    });
    expect(cache.isUsable()).toBe(true);
    // A resync may succeed just before the listener reconnects: stale → degraded (age reset) → fresh.
    expect(states.slice(0, 2)).toEqual(['degraded', 'stale']);
    expect(states.at(-1)).toBe('fresh');

    const t = await store.add({
      idProject: project,
      event: 'request.create',
      target: 'https://o2.example',
      createdBy: 'u',
    });
    await waitFor(() => cache.index.get(t.id) !== undefined, {
      timeoutMs: 2_000,
      intervalMs: 20,
      message: 'listening again',
    });
  });

  it('start() fails with SUBSCRIPTIONS_UNAVAILABLE when the snapshot cannot be loaded', async () => {
    const cache = startCache({
      store: { loadEnabled: () => Promise.reject(new Error('boom')), loadByIds: () => Promise.resolve([]) },
    });
    await expect(cache.start()).rejects.toMatchObject({ code: ErrorCode.SUBSCRIPTIONS_UNAVAILABLE });
    expect(cache.state).toBe('unavailable');
    expect(cache.isUsable()).toBe(false);
  });
});
