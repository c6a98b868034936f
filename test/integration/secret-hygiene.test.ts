/**
 * Issue 5 acceptance (secret hygiene): a full run through the real app — deliveries that succeed, retry,
 * dead-letter (404, 503 until exhausted, connection refused) and targets the SSRF guard refuses — with
 * the most verbose log level, then every subscription secret (current and, during a rotation, previous;
 * whole and its base64 part) and the database password are searched for in everything the service
 * wrote: all captured log lines, the full /metrics text, every dead-letter record (headers, key, value),
 * and the output of `subscriptions list`. None may appear.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer } from 'node:net';
import type pg from 'pg';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import type { Subscription, SubscriptionStore } from '../../src/subscriptions/types.js';
import { spawnConnector, stopAllChildren } from '../support/child-connector.js';
import { runCli } from '../support/cli.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import { requestCreate } from '../support/events.js';
import { committedOffsets, createTopic, produce, readAll, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

/** Local Postgres trusts 127.0.0.1, so a password in the URL is accepted and ignored: a pure canary. */
const DB_PASSWORD = 'db-canary-password-5f1c9e';
const SASL_PASSWORD = 'sasl-canary-password-8d2b71';
const REGISTRY_PASSWORD = 'registry-canary-password-3a6e04';

let db: TestDatabase;
let pool: pg.Pool;
let store: SubscriptionStore;
const receivers: Receiver[] = [];

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('secret_hygiene'));
  store = createSubscriptionStore(pool);
});
afterAll(async () => {
  await stopAllChildren();
  for (const r of receivers) await r.close();
  await pool?.end();
  await db?.drop();
});

function withPassword(url: string): string {
  const u = new URL(url);
  if (u.username === '') u.username = 'postgres';
  u.password = DB_PASSWORD;
  return u.toString();
}

async function receiver(...args: Parameters<typeof startReceiver>): Promise<Receiver> {
  const r = await startReceiver(...args);
  receivers.push(r);
  return r;
}

async function closedPort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as { port: number };
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** Every string that would be a leak: each secret, and the base64 key inside a `whsec_` secret. */
function needles(subs: readonly Subscription[]): string[] {
  const out = new Set<string>([DB_PASSWORD, SASL_PASSWORD, REGISTRY_PASSWORD]);
  for (const s of subs) {
    for (const secret of [s.secret, s.previousSecret]) {
      if (secret === null) continue;
      out.add(secret);
      if (secret.startsWith('whsec_')) out.add(secret.slice('whsec_'.length));
    }
  }
  return [...out];
}

/** The needles found in `text` (expect `[]`; naming them keeps the failure message short and exact). */
function leaked(text: string, secrets: readonly string[]): string[] {
  return secrets.filter((s) => text.includes(s));
}

const event = (id: string): string => requestCreate(id, { text: 'hello' });

describe('secret hygiene', () => {
  it('no secret in logs, /metrics, dead letters or `subscriptions list` after a run with every outcome', async () => {
    const ok = await receiver();
    const flaky = await receiver((_req, n) => ({ status: n === 1 ? 503 : 200 }));
    const gone = await receiver(() => ({ status: 404 }));
    const down = await receiver(() => ({ status: 503 }));
    const add = (target: string, secret?: string): Promise<Subscription> =>
      store.add({
        idProject: 'P1',
        event: 'request.create',
        target,
        createdBy: 'hygiene',
        ...(secret ? { secret } : {}),
      });
    const subs = {
      ok: await add(`${ok.url}/ok`),
      // An imported non-whsec secret: the HMACs key on its bytes, so it must stay out of sight as well.
      flaky: await add(`${flaky.url}/flaky`, 'imported-plain-secret-0123456789'),
      gone: await add(`${gone.url}/gone`),
      down: await add(`${down.url}/down`),
      refused: await add(`http://127.0.0.1:${await closedPort()}/refused`),
      ssrfPrivate: await add('http://10.0.0.1/hook'),
      ssrfMetadata: await add('http://169.254.169.254/latest/meta-data/'),
      rotated: await add(`${ok.url}/rotated`),
    };
    // During a rotation overlap the previous secret signs too: it is in memory and must not leak either.
    await store.rotateSecret(subs.rotated.id, 3_600_000);
    const all = await Promise.all(Object.values(subs).map(async (s) => (await store.get(s.id))!));
    expect(all.find((s) => s.id === subs.rotated.id)?.previousSecret).toBe(subs.rotated.secret);
    const secrets = needles(all);

    const topic = uniqueName('hygiene');
    const groupId = uniqueName('hygiene-group');
    await createTopic(topic, 1);
    const connector: TestConnector = await startConnector({
      topic,
      groupId,
      databaseUrl: withPassword(db.url),
      env: {
        LOG_LEVEL: 'debug', // the most verbose level
        LEGACY_SECRET_HEADER: 'false',
        RETRY_SCHEDULE: '100ms,400ms',
      },
    });
    let metricsHttp = '';
    try {
      await produce(topic, [
        { key: 'P1', value: event('hyg-1') },
        { key: 'P1', value: '{not json, no secret here' },
        { key: 'P1', value: event('hyg-2') },
      ]);
      // 2 events × (gone, down, refused, 2 × ssrf) + 1 poison record.
      const dls = await readAll(`${topic}.dlq`, { expected: 11, timeoutMs: 30_000 });
      await waitFor(async () => (await committedOffsets(groupId, topic))[0] === '3', {
        timeoutMs: 20_000,
        message: 'all 3 records committed',
      });

      const reasons = dls
        .map(
          (d) => `${String(d.headers['dlq-subscription-id'] ?? 'poison')}:${String(d.headers['dlq-reason'])}`,
        )
        .sort();
      expect(reasons).toEqual(
        [
          `${subs.gone.id}:http_4xx`,
          `${subs.gone.id}:http_4xx`,
          `${subs.down.id}:retries_exhausted`,
          `${subs.down.id}:retries_exhausted`,
          `${subs.refused.id}:retries_exhausted`,
          `${subs.refused.id}:retries_exhausted`,
          `${subs.ssrfPrivate.id}:ssrf`,
          `${subs.ssrfPrivate.id}:ssrf`,
          `${subs.ssrfMetadata.id}:ssrf`,
          `${subs.ssrfMetadata.id}:ssrf`,
          'poison:undecodable',
        ].sort(),
      );
      for (const d of dls.filter((x) => x.headers['dlq-reason'] === 'ssrf')) {
        expect(String(d.headers['dlq-error'])).toMatch(/refused/);
        expect(d.headers['dlq-attempts']).toBe('1');
      }
      expect(await connector.metric('webhook_connector_ssrf_refusals_total')).toBe(4);
      expect(await connector.metric('webhook_connector_dead_letters_total', { reason: 'ssrf' })).toBe(4);
      expect(await connector.metric('webhook_connector_deliveries_total', { outcome: 'delivered' })).toBe(6);
      // Concurrent subscription: the second event's first attempt may come before the first one's retry.
      expect(flaky.requests.map((r) => r.headers['x-webhook-attempt']).sort()).toEqual(['1', '1', '2']);
      expect(down.requests).toHaveLength(6);
      // The rotated subscription really was signing with both secrets while we looked.
      const rotatedReqs = ok.requests.filter((r) => r.url === '/rotated');
      expect(rotatedReqs).toHaveLength(2);
      for (const r of rotatedReqs) expect(String(r.headers['webhook-signature']).split(' ')).toHaveLength(2);
      // LEGACY_SECRET_HEADER off: no receiver ever saw the plain secret.
      for (const r of [ok, flaky, gone, down]) {
        for (const q of r.requests) {
          expect(q.headers['x-hook-secret']).toBeUndefined();
          expect(leaked(q.body, secrets)).toEqual([]);
        }
      }

      const res = await fetch(`http://127.0.0.1:${connector.app.opsPort}/metrics`);
      metricsHttp = await res.text();
      expect(res.status).toBe(200);
      expect(metricsHttp).toContain('webhook_connector_ssrf_refusals_total 4');

      const dlqText = dls
        .map(
          (d) =>
            `${JSON.stringify(d.headers)}\n${d.key?.toString('utf8') ?? ''}\n${d.value?.toString('utf8') ?? ''}`,
        )
        .join('\n');
      expect(leaked(dlqText, secrets)).toEqual([]);
    } finally {
      await connector.stop();
    }

    // After stop, so the shutdown lines are searched too.
    const logs = connector.logs.join('');
    expect(logs).toContain('dead-lettered');
    expect(logs).toContain('"msg":"started"');
    expect(logs).toContain('"level":"debug"'); // the verbose levels were on
    expect(leaked(logs, secrets)).toEqual([]);
    const metricsText = await connector.registry.metrics();
    expect(metricsText).toContain('webhook_connector_dead_letters_total');
    expect(leaked(metricsText, secrets)).toEqual([]);
    expect(leaked(metricsHttp, secrets)).toEqual([]);

    const list = await runCli(['subscriptions', 'list'], {
      DATABASE_URL: withPassword(db.url),
      LOG_LEVEL: 'debug', // the most verbose level
    });
    expect(list.code).toBe(0);
    for (const s of Object.values(subs)) expect(list.stdout).toContain(s.id);
    expect(leaked(list.stdout + list.stderr, secrets)).toEqual([]);
  });

  it('the service started as a process logs its configuration with every password masked', async () => {
    const topic = uniqueName('hygiene-run');
    await createTopic(topic, 1);
    const child = await spawnConnector({
      name: 'hygiene-run',
      topic,
      groupId: uniqueName('hygiene-run-group'),
      databaseUrl: withPassword(db.url),
      env: {
        LOG_LEVEL: 'debug', // the most verbose level
        KAFKA_SASL_PASSWORD: SASL_PASSWORD,
        SCHEMA_REGISTRY_PASSWORD: REGISTRY_PASSWORD,
      },
    });
    await child.waitReady(30_000);
    child.signal('SIGTERM');
    const exit = await child.exited;
    expect(exit.code).toBe(0);
    const output = child.output();
    expect(output).toContain('"msg":"starting"');
    expect(output).toContain('"DATABASE_URL":"[redacted]"');
    expect(output).toContain('"KAFKA_SASL_PASSWORD":"[redacted]"');
    expect(leaked(output, [DB_PASSWORD, SASL_PASSWORD, REGISTRY_PASSWORD])).toEqual([]);
  });
});
