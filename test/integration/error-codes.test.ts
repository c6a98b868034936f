/**
 * Issue 16, item 16: every error code in README's Errors table (rendered from `errorDocs`) is produced by
 * a real path and reaches the user: on stderr as `error CODE: message` for a CLI command, and as the
 * `code` field of a JSON log line for the service. Each code is driven through the path that produces it:
 * the CLI with bad configuration, bad input and unreachable Postgres or Kafka; the service refusing to
 * start; and one running service fed poison records, a refused target, a failing receiver, a
 * dead-letter topic too small for one dead letter and an unreachable schema registry.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConfigResourceTypes } from 'kafkajs';
import type pg from 'pg';
import { ErrorCode, errorDocs } from '../../src/errors.js';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import {
  freePort,
  spawnConnector,
  stopAllChildren,
  tail,
  type ChildConnector,
} from '../support/child-connector.js';
import { callApi, rawConnection, type RawConnection } from '../support/api-server.js';
import { spawnApi } from '../support/child-api.js';
import { runCli, type CliRun } from '../support/cli.js';
import {
  KAFKA_BROKERS,
  KAFKA_SASL_BROKERS,
  KAFKA_SASL_MECHANISM,
  KAFKA_SASL_USERNAME,
} from '../support/env.js';
import { createTopic, produce, testKafka, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, createTestDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

const MAX_RECORD_BYTES = 1_024;
/** The dead-letter topic's own limit: a too-large record's dead letter (its value kept) does not fit. */
const DLQ_MAX_MESSAGE_BYTES = 2_000;

let db: TestDatabase;
let pool: pg.Pool;
let receiver: Receiver;
let child: ChildConnector;
let closedPort: number;
/** The running service's topics, and the subscription whose receiver answers 404. */
let topic: string;
let dlqTopic: string;
let failingSubscriptionId: string;
/** `run` against an unreachable broker takes kafkajs's whole retry budget (~1.5 min): started first. */
let kafkaUnreachable: Promise<CliRun>;

/** Where each code was seen: a CLI line or a log line, with what printed it. */
const seen = new Map<ErrorCode, string[]>();
const saw = (code: unknown, where: string): void => {
  if (typeof code !== 'string') return;
  seen.set(code as ErrorCode, [...(seen.get(code as ErrorCode) ?? []), where]);
};

/** A CLI run's stderr line `error CODE: ...` (exactly one), recorded for the code it names. */
function cliCode(run: CliRun, what: string): string | undefined {
  const lines = run.stderr.split('\n').filter((l) => /^error CONNECTOR_[A-Z_]+: /.test(l));
  const code = lines.length === 1 ? /^error (CONNECTOR_[A-Z_]+): /.exec(lines[0]!)![1] : undefined;
  saw(code, `CLI ${what} (exit ${run.code})`);
  return code;
}

const pgEnv = (): Record<string, string> => ({ DATABASE_URL: db.url, LOG_LEVEL: 'warn' });

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('error_codes'));
  closedPort = await freePort();
  receiver = await startReceiver(() => ({ status: 404 }));
  kafkaUnreachable = runCli(
    ['run'],
    { ...pgEnv(), KAFKA_BROKERS: `127.0.0.1:${closedPort}`, OPS_HOST: '127.0.0.1', OPS_PORT: '0' },
    170_000,
  );
}, 60_000);

afterAll(async () => {
  await stopAllChildren();
  await receiver?.close();
  await pool?.end();
  await db?.drop();
});

describe('CLI commands print `error CODE: message` on stderr', () => {
  it('bad configuration: CONNECTOR_CONFIG_INVALID, exit 1', async () => {
    const run = await runCli(['migrate'], { ...pgEnv(), DELIVERY_TIMEOUT_MS: 'abc' });
    expect(cliCode(run, 'migrate, DELIVERY_TIMEOUT_MS=abc')).toBe(ErrorCode.CONFIG_INVALID);
    expect(run.stderr).toMatch(
      /^error CONNECTOR_CONFIG_INVALID: invalid configuration:\n {2}- DELIVERY_TIMEOUT_MS/,
    );
    expect(run.code).toBe(1);
  });

  it('bad command line: CONNECTOR_USAGE, exit 2, then the usage', async () => {
    const run = await runCli(['subscriptions', 'add', '--bogus'], pgEnv());
    expect(cliCode(run, 'subscriptions add --bogus')).toBe(ErrorCode.USAGE);
    expect(run.stderr).toContain('Usage: webhook-connector subscriptions <command>');
    expect(run.code).toBe(2);
  });

  it('bad subscription: CONNECTOR_SUBSCRIPTION_INVALID; unknown id: CONNECTOR_SUBSCRIPTION_NOT_FOUND', async () => {
    const [invalid, missing] = await Promise.all([
      runCli(['subscriptions', 'add', '--project', 'P', '--event', 'e', '--target', 'ftp://x'], pgEnv()),
      runCli(['subscriptions', 'remove', '00000000-0000-4000-8000-000000000000'], pgEnv()),
    ]);
    expect(cliCode(invalid, 'subscriptions add --target ftp://x')).toBe(ErrorCode.SUBSCRIPTION_INVALID);
    expect(cliCode(missing, 'subscriptions remove <unknown id>')).toBe(ErrorCode.SUBSCRIPTION_NOT_FOUND);
    expect([invalid.code, missing.code]).toEqual([1, 1]);
  });

  it('deliveries retry-now: unknown id CONNECTOR_DELIVERY_NOT_FOUND; delivered one CONNECTOR_DELIVERY_NOT_PARKED', async () => {
    const event = await pool.query<{ id: string }>(
      `insert into webhook_events (event_id, event_name, event_ts, encoding, payload, topic, partition,
         record_offset, record_ts)
       values ('e1', 'request.create', 0, 'json', '\\x7b7d', 't', 0, 0, '0') returning id::text`,
    );
    const delivered = await pool.query<{ id: string }>(
      `insert into webhook_deliveries (event_ref, subscription_id, webhook_id, seq, state, parked_reason,
         due_at, finished_at)
       values ($1, 's1', 'msg_1', 0, 'delivered', 'retry', now(), now()) returning id::text`,
      [event.rows[0]!.id],
    );
    const [missing, notParked] = await Promise.all([
      runCli(['deliveries', 'retry-now', '987654321'], pgEnv()),
      runCli(['deliveries', 'retry-now', delivered.rows[0]!.id], pgEnv()),
    ]);
    expect(cliCode(missing, 'deliveries retry-now <unknown id>')).toBe(ErrorCode.DELIVERY_NOT_FOUND);
    expect(cliCode(notParked, 'deliveries retry-now <delivered id>')).toBe(ErrorCode.DELIVERY_NOT_PARKED);
    expect([missing.code, notParked.code]).toEqual([1, 1]);
  });

  it('Postgres unreachable: CONNECTOR_SUBSCRIPTIONS_UNAVAILABLE, exit 1, no stack trace', async () => {
    const run = await runCli(['subscriptions', 'list'], {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPort}/none`,
      LOG_LEVEL: 'warn',
    });
    expect(cliCode(run, 'subscriptions list, Postgres unreachable')).toBe(
      ErrorCode.SUBSCRIPTIONS_UNAVAILABLE,
    );
    expect(run.stderr).toContain('ECONNREFUSED');
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(1);
  });

  it('Kafka refusing the credentials: CONNECTOR_KAFKA_UNAVAILABLE, exit 1', async () => {
    const run = await runCli(['produce-sample', '--topic', uniqueName('error-codes-never'), '--count', '1'], {
      KAFKA_BROKERS: KAFKA_SASL_BROKERS,
      KAFKA_SASL_MECHANISM,
      KAFKA_SASL_USERNAME,
      KAFKA_SASL_PASSWORD: 'not-the-password',
      LOG_LEVEL: 'fatal',
    });
    expect(cliCode(run, 'produce-sample, wrong SASL password')).toBe(ErrorCode.KAFKA_UNAVAILABLE);
    expect(run.code).toBe(1);
  });
});

describe('the service refusing to start logs a fatal line with the code, and exits 1', () => {
  const fatal = (run: CliRun): Record<string, unknown> | undefined =>
    run.logs.find((l) => l.level === 'fatal');

  it('bad configuration: CONNECTOR_CONFIG_INVALID', async () => {
    const run = await runCli(['run'], { KAFKA_BROKERS: '', OPS_PORT: '0' });
    const line = fatal(run);
    saw(line?.code, 'run: log line, KAFKA_BROKERS empty');
    expect(line).toMatchObject({ code: ErrorCode.CONFIG_INVALID, msg: 'invalid configuration' });
    expect(line?.problems).toEqual(['KAFKA_BROKERS: needs at least 1 item(s)']);
    expect(cliCode(run, 'run, KAFKA_BROKERS empty')).toBe(ErrorCode.CONFIG_INVALID);
    expect(run.code).toBe(1);
  });

  it('OPS_PORT in use, or a KAFKA_SSL_CA_FILE that cannot be read: CONNECTOR_CONFIG_INVALID', async () => {
    const [portTaken, noCaFile] = await Promise.all([
      runCli(['run'], { ...pgEnv(), KAFKA_BROKERS, OPS_HOST: '127.0.0.1', OPS_PORT: String(receiver.port) }),
      runCli(['run'], { ...pgEnv(), KAFKA_BROKERS, OPS_PORT: '0', KAFKA_SSL_CA_FILE: '/nonexistent/ca.pem' }),
    ]);
    for (const [run, what] of [
      [portTaken, 'OPS_PORT in use'],
      [noCaFile, 'KAFKA_SSL_CA_FILE missing'],
    ] as const) {
      saw(fatal(run)?.code, `run: log line, ${what}`);
      expect(fatal(run)).toMatchObject({ code: ErrorCode.CONFIG_INVALID, msg: 'start failed' });
      expect(cliCode(run, `run, ${what}`)).toBe(ErrorCode.CONFIG_INVALID);
      expect(run.stderr).not.toMatch(/\n\s+at /);
      expect(run.code).toBe(1);
    }
    expect(portTaken.stderr).toContain(`OPS_PORT: 127.0.0.1:${receiver.port} is in use`);
    expect(noCaFile.stderr).toContain('KAFKA_SSL_CA_FILE: cannot read "/nonexistent/ca.pem"');
  });

  it('Postgres unreachable: CONNECTOR_SUBSCRIPTIONS_UNAVAILABLE', async () => {
    const run = await runCli(['run'], {
      DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPort}/none`,
      KAFKA_BROKERS,
      OPS_HOST: '127.0.0.1',
      OPS_PORT: '0',
    });
    const line = fatal(run);
    saw(line?.code, 'run: log line, Postgres unreachable');
    expect(line).toMatchObject({ code: ErrorCode.SUBSCRIPTIONS_UNAVAILABLE, msg: 'start failed' });
    expect(cliCode(run, 'run, Postgres unreachable')).toBe(ErrorCode.SUBSCRIPTIONS_UNAVAILABLE);
    expect(run.code).toBe(1);
  });

  it('database not migrated (or not up to date): CONNECTOR_CONFIG_INVALID naming `migrate`', async () => {
    const bare = await createTestDatabase('error_codes_bare');
    try {
      const run = await runCli(['run'], {
        DATABASE_URL: bare.url,
        KAFKA_BROKERS,
        OPS_HOST: '127.0.0.1',
        OPS_PORT: '0',
      });
      const line = fatal(run);
      saw(line?.code, 'run: log line, database not migrated');
      expect(line).toMatchObject({ code: ErrorCode.CONFIG_INVALID, msg: 'start failed' });
      expect(cliCode(run, 'run, database not migrated')).toBe(ErrorCode.CONFIG_INVALID);
      expect(run.stderr).toContain(
        'not applied: 001_webhook_subscriptions.sql, 002_parked_deliveries.sql, 003_delivery_log.sql',
      );
      expect(run.stderr).toContain('webhook-connector migrate');
      expect(run.code).toBe(1);
    } finally {
      await bare.drop();
    }
  });

  it('Kafka unreachable: CONNECTOR_KAFKA_UNAVAILABLE (after kafkajs has retried)', async () => {
    const run = await kafkaUnreachable;
    const line = fatal(run);
    saw(line?.code, 'run: log line, Kafka unreachable');
    expect(line).toMatchObject({ code: ErrorCode.KAFKA_UNAVAILABLE, msg: 'start failed' });
    expect(cliCode(run, 'run, Kafka unreachable')).toBe(ErrorCode.KAFKA_UNAVAILABLE);
    expect(run.code).toBe(1);
  }, 180_000);
});

describe('a running service logs each error with its code', () => {
  /** The codes of the child's log lines so far. */
  const codesLogged = (): Set<unknown> => new Set(child.logs().map((l) => l.code));

  beforeAll(async () => {
    topic = uniqueName('error-codes');
    dlqTopic = `${topic}.dlq`;
    await createTopic(topic, 2);
    const admin = testKafka().admin();
    await admin.connect();
    try {
      await admin.createTopics({
        topics: [
          {
            topic: dlqTopic,
            configEntries: [{ name: 'max.message.bytes', value: String(DLQ_MAX_MESSAGE_BYTES) }],
          },
        ],
        waitForLeaders: true,
      });
      const described = await admin.describeConfigs({
        resources: [{ type: ConfigResourceTypes.TOPIC, name: dlqTopic, configNames: ['max.message.bytes'] }],
        includeSynonyms: false,
      });
      expect(described.resources[0]!.configEntries[0]!.configValue).toBe(String(DLQ_MAX_MESSAGE_BYTES));
    } finally {
      await admin.disconnect();
    }
    const store = createSubscriptionStore(pool);
    const sub = { idProject: 'P1', event: 'request.create', global: false, createdBy: 'test' };
    // A link-local address (cloud metadata): refused by the target guard, never connected to.
    await store.add({ ...sub, target: 'http://169.254.169.254/latest/meta-data/' });
    failingSubscriptionId = (await store.add({ ...sub, target: `${receiver.url}/hook` })).id;
    child = await spawnConnector({
      name: 'error-codes',
      topic,
      groupId: uniqueName('error-codes'),
      databaseUrl: db.url,
      dlqTopic,
      env: {
        MAX_RECORD_BYTES: String(MAX_RECORD_BYTES),
        SCHEMA_REGISTRY_URL: `http://127.0.0.1:${closedPort}`,
        RETRY_SCHEDULE: '', // one attempt
      },
    });
    await child.waitReady(60_000);
    const event = { id: 'e1', event: 'request.create', id_project: 'P1', timestamp: Date.now(), payload: {} };
    await produce(topic, [
      { value: null, partition: 0 },
      { value: Buffer.from([0xff, 0xfe, 0x7b]), partition: 0 },
      { value: JSON.stringify({ event: 'request.create' }), partition: 0 },
      { value: 'x'.repeat(MAX_RECORD_BYTES + DLQ_MAX_MESSAGE_BYTES), partition: 0 },
      { key: 'P1', value: JSON.stringify(event), partition: 0 },
    ]);
    const onPartition0 = [
      ErrorCode.EVENT_UNDECODABLE,
      ErrorCode.EVENT_INVALID,
      ErrorCode.EVENT_TOO_LARGE,
      ErrorCode.DEAD_LETTER_PUBLISH,
      ErrorCode.TARGET_FORBIDDEN,
      ErrorCode.DELIVERY_FAILED,
    ];
    await waitFor(() => onPartition0.every((c) => codesLogged().has(c)), {
      timeoutMs: 60_000,
      message: () => `codes ${onPartition0.join(', ')} in the logs:\n${tail(child.output())}`,
    });
    // Last, on its own partition: a registry-framed record while the registry is unreachable pauses
    // consumption (by design), so it must not hold up the records above.
    await produce(topic, [{ value: Buffer.from([0, 0, 0, 0, 1, 2, 3]), partition: 1 }]);
    await waitFor(() => codesLogged().has(ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE), {
      timeoutMs: 60_000,
      message: () => `CONNECTOR_SCHEMA_REGISTRY_UNAVAILABLE in the logs:\n${tail(child.output())}`,
    });
    for (const line of child.logs()) saw(line.code, `run: log line "${String(line.msg)}"`);
  }, 180_000);

  it('dead letters of poison records carry the code of their reason', () => {
    const dead = child.logs('dead-lettered');
    const byReason = Object.fromEntries(dead.map((l) => [l.reason, l.code]));
    expect(byReason).toMatchObject({
      empty: ErrorCode.EVENT_UNDECODABLE,
      undecodable: ErrorCode.EVENT_UNDECODABLE,
      invalid: ErrorCode.EVENT_INVALID,
      too_large: ErrorCode.EVENT_TOO_LARGE,
    });
  });

  it('dead letters of deliveries carry CONNECTOR_TARGET_FORBIDDEN (ssrf) or CONNECTOR_DELIVERY_FAILED', () => {
    const dead = child.logs('dead-lettered').filter((l) => l.subscriptionId !== undefined);
    expect(dead.map((l) => [l.reason, l.code]).sort()).toEqual([
      ['http_4xx', ErrorCode.DELIVERY_FAILED],
      ['ssrf', ErrorCode.TARGET_FORBIDDEN],
    ]);
    expect(receiver.requests).toHaveLength(1); // the 404; nothing reached the refused target
  });

  it('a failed dead-letter write carries CONNECTOR_DEAD_LETTER_PUBLISH', () => {
    const failed = child.logs().filter((l) => l.code === ErrorCode.DEAD_LETTER_PUBLISH);
    expect(failed.map((l) => [l.level, l.msg])).toEqual([
      ['error', 'dead letter too large for the topic; writing it without its value'],
    ]);
  });

  it('a schema-registry outage carries CONNECTOR_SCHEMA_REGISTRY_UNAVAILABLE', () => {
    const outage = child.logs('schema registry unavailable; will retry');
    expect(outage.length).toBeGreaterThan(0);
    expect(outage.every((l) => l.code === ErrorCode.SCHEMA_REGISTRY_UNAVAILABLE)).toBe(true);
  });
});

describe('endpoint health and the parked-delivery store log their codes', () => {
  let gone: Receiver;
  let failing: Receiver;
  let healthChild: ChildConnector;

  afterAll(async () => {
    await healthChild?.kill();
    await gone?.close();
    await failing?.close();
  });

  it('a 410 disables with CONNECTOR_SUBSCRIPTION_DISABLED; a park Postgres refuses logs CONNECTOR_DELIVERY_STORE_UNAVAILABLE', async () => {
    const healthDb = await createMigratedDatabase('error_codes_health');
    try {
      gone = await startReceiver(() => ({ status: 410 }));
      failing = await startReceiver(() => ({ status: 503 }));
      const store = createSubscriptionStore(healthDb.pool);
      await store.add({ idProject: 'G', event: 'request.create', target: gone.url, createdBy: 't' });
      await store.add({ idProject: 'F', event: 'request.create', target: failing.url, createdBy: 't' });
      // The store's table out of reach (as a Postgres that refuses the write): a delivery that must park
      // cannot, and stays in process.
      await healthDb.pool.query('alter table webhook_deliveries rename to webhook_deliveries_away');
      const t = uniqueName('error-codes-health');
      await createTopic(t, 1);
      healthChild = await spawnConnector({
        name: 'error-codes-health',
        topic: t,
        groupId: uniqueName('error-codes-health'),
        databaseUrl: healthDb.db.url,
        env: { RETRY_SCHEDULE: '1h', LOG_LEVEL: 'warn' },
      });
      await healthChild.waitReady(60_000);
      const ev = (id: string, project: string): string =>
        JSON.stringify({
          id,
          event: 'request.create',
          id_project: project,
          timestamp: Date.now(),
          payload: {},
        });
      const logged = (): Set<unknown> => new Set(healthChild.logs().map((l) => l.code));
      await produce(t, [{ key: 'F', value: ev('f1', 'F') }]);
      await waitFor(() => logged().has(ErrorCode.DELIVERY_STORE_UNAVAILABLE), {
        timeoutMs: 30_000,
        message: () => tail(healthChild.output()),
      });
      await healthDb.pool.query('alter table webhook_deliveries_away rename to webhook_deliveries');
      // Back: the delivery parks (it was never lost).
      await waitFor(
        async () =>
          Number(
            (await healthDb.pool.query<{ n: string }>('select count(*) n from webhook_deliveries')).rows[0]!
              .n,
          ) === 1,
        { timeoutMs: 30_000, message: () => tail(healthChild.output()) },
      );
      await produce(t, [{ key: 'G', value: ev('g1', 'G') }]);
      await waitFor(() => logged().has(ErrorCode.SUBSCRIPTION_DISABLED), {
        timeoutMs: 30_000,
        message: () => tail(healthChild.output()),
      });
      for (const line of healthChild.logs()) saw(line.code, `run: log line "${String(line.msg)}"`);
      expect(healthChild.logs('subscription disabled').find((l) => l.code !== undefined)).toMatchObject({
        code: ErrorCode.SUBSCRIPTION_DISABLED,
        reason: 'gone',
      });
    } finally {
      await healthChild?.kill();
      await healthDb.pool.end();
      await healthDb.db.drop();
    }
  }, 120_000);
});

describe('replay', () => {
  it('prints CONNECTOR_DELIVERY_FAILED and exits 1 when a replayed delivery fails', async () => {
    const before = receiver.requests.length;
    const run = await runCli(['replay', '--subscription', failingSubscriptionId], {
      ...pgEnv(),
      KAFKA_BROKERS,
      KAFKA_TOPICS: topic,
      DLQ_TOPIC: dlqTopic,
      KAFKA_GROUP_ID: uniqueName('error-codes-replay'),
      TARGET_ALLOW_CIDRS: '127.0.0.1/32',
      RETRY_SCHEDULE: '', // one attempt
    });
    expect(run.stdout).toMatch(/^FAILED .*: http_4xx/m);
    expect(cliCode(run, 'replay, receiver answering 404')).toBe(ErrorCode.DELIVERY_FAILED);
    expect(run.stderr).toContain('error CONNECTOR_DELIVERY_FAILED: 1 of 1 replayed deliveries failed');
    expect(run.code).toBe(1);
    expect(receiver.requests.length).toBe(before + 1);
  });
});

describe('the management API answers `{"success": false, "code", "msg"}`', () => {
  it('CONNECTOR_API_UNAUTHORIZED, _FORBIDDEN, _NOT_FOUND, _BAD_REQUEST, _PAYLOAD_TOO_LARGE', async () => {
    const api = await spawnApi({ ...pgEnv(), API_BODY_LIMIT_BYTES: '1024' });
    try {
      const created = await runCli(['api-keys', 'create', '--project', 'P'], pgEnv());
      const key = /^key: (\S+)$/m.exec(created.stdout)![1]!;
      const cases: [string, string, string, Parameters<typeof callApi>[3], number, ErrorCode][] = [
        ['no credentials', 'GET', '/P/subscriptions', {}, 401, ErrorCode.API_UNAUTHORIZED],
        ['another project', 'GET', '/Q/subscriptions', { key }, 403, ErrorCode.API_FORBIDDEN],
        ['no such route', 'GET', '/P/nothing/here', { key }, 404, ErrorCode.API_NOT_FOUND],
        ['malformed JSON', 'POST', '/P/subscriptions', { key, rawBody: '{' }, 400, ErrorCode.API_BAD_REQUEST],
        [
          'body over API_BODY_LIMIT_BYTES',
          'POST',
          '/P/subscriptions',
          { key, body: { event: 'a.b', target: `https://e.example/${'x'.repeat(2_000)}` } },
          413,
          ErrorCode.API_PAYLOAD_TOO_LARGE,
        ],
      ];
      for (const [what, method, path, options, status, code] of cases) {
        const r = await callApi(api.apiUrl, method, path, options);
        const body = r.json as { success?: unknown; code?: unknown; msg?: unknown };
        if (body.success === false && typeof body.msg === 'string') {
          saw(body.code, `API ${what} (${r.status})`);
        }
        expect([what, r.status, body.code]).toEqual([what, status, code]);
      }
    } finally {
      await api.stop();
    }
  });
});

describe('the management API while it stops', () => {
  it('CONNECTOR_API_SHUTTING_DOWN (503): a request that reaches it after SIGTERM is not run', async () => {
    const api = await spawnApi(pgEnv());
    const locker = await pool.connect();
    let conn: RawConnection | undefined;
    try {
      const created = await runCli(['api-keys', 'create', '--project', 'P'], pgEnv());
      const key = /^key: (\S+)$/m.exec(created.stdout)![1]!;
      // The first request waits on the subscriptions table, so SIGTERM finds it running.
      await locker.query('begin');
      await locker.query('lock table webhook_subscriptions in access exclusive mode');
      const c = rawConnection(api.apiUrl);
      conn = c;
      c.get('/P/subscriptions', key);
      await waitFor(
        async () =>
          (
            await pool.query<{ n: number }>(
              `select count(*)::int as n from pg_stat_activity
                where wait_event_type = 'Lock' and query like '%webhook_subscriptions%'`,
            )
          ).rows[0]!.n > 0,
        { message: 'the first request waiting on the lock' },
      );
      const stopped = api.stop();
      await waitFor(() => api.output().includes('stopping the management API'), { message: 'SIGTERM taken' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      c.get('/P/subscriptions', key);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await locker.query('rollback');
      await c.ended;
      expect(await stopped).toBe(0);
      const responses = c.responses();
      expect(responses.map((r) => r.head.split(' ', 2)[1])).toEqual(['200', '503']);
      const body = JSON.parse(responses[1]!.body) as { success?: unknown; code?: unknown };
      expect(body.success).toBe(false);
      saw(body.code, 'API request after SIGTERM (503)');
      expect(body.code).toBe(ErrorCode.API_SHUTTING_DOWN);
    } finally {
      await locker.query('rollback').catch(() => undefined);
      locker.release();
      conn?.destroy();
      await api.stop();
    }
  });
});

describe("README's Errors table", () => {
  it('lists only codes this file saw produced, and every one of them', () => {
    const documented = Object.keys(errorDocs).sort();
    expect(documented).toEqual(Object.values(ErrorCode).sort());
    const missing = documented.filter((c) => !seen.has(c as ErrorCode));
    expect({ missing, undocumented: [...seen.keys()].filter((c) => !documented.includes(c)) }).toEqual({
      missing: [],
      undocumented: [],
    });
  });
});
