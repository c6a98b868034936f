/**
 * Issue 5 acceptance (authenticated Kafka): the connector configured for the broker's SASL_PLAINTEXT
 * listener with SCRAM-SHA-256 consumes, delivers, commits and writes dead letters end to end; with a wrong
 * password the service does not hang: it exits 1 within a bound, saying that SASL authentication failed,
 * and never prints the password it tried. A listener/settings mismatch (SASL on one side only) fails the
 * start within the same bound.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { spawnConnector, stopAllChildren } from '../support/child-connector.js';
import { startConnector } from '../support/connector.js';
import {
  KAFKA_BROKERS as KAFKA_BROKERS_PLAINTEXT,
  KAFKA_SASL_BROKERS,
  KAFKA_SASL_MECHANISM,
  KAFKA_SASL_PASSWORD,
  KAFKA_SASL_USERNAME,
} from '../support/env.js';
import { committedOffsets, createTopic, produce, readAll, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

const saslEnv = (password: string): Record<string, string> => ({
  KAFKA_BROKERS: KAFKA_SASL_BROKERS,
  KAFKA_SASL_MECHANISM,
  KAFKA_SASL_USERNAME,
  KAFKA_SASL_PASSWORD: password,
});

let db: TestDatabase;
let pool: pg.Pool;
let r: Receiver;

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('kafka_sasl'));
  r = await startReceiver();
  await createSubscriptionStore(pool).add({
    idProject: 'P1',
    event: 'request.create',
    target: `${r.url}/sasl`,
    createdBy: 'test',
  });
});
afterAll(async () => {
  await stopAllChildren();
  await r?.close();
  await pool?.end();
  await db?.drop();
});

describe('Kafka SASL/SCRAM', () => {
  it('delivers end to end through the SCRAM-SHA-256 listener, dead letters included', async () => {
    const topic = uniqueName('sasl');
    const groupId = uniqueName('sasl-group');
    await createTopic(topic, 1);
    const connector = await startConnector({
      topic,
      groupId,
      databaseUrl: db.url,
      env: saslEnv(KAFKA_SASL_PASSWORD),
    });
    try {
      await produce(topic, [
        {
          key: 'P1',
          value: JSON.stringify({
            id: 'sasl-1',
            event: 'request.create',
            id_project: 'P1',
            timestamp: Date.now(),
            payload: { n: 1 },
          }),
        },
        { key: 'P1', value: 'poison over SASL' },
      ]);
      await waitFor(() => r.requests.length === 1, { timeoutMs: 20_000, message: 'delivered' });
      expect(JSON.parse(r.requests[0]!.body)).toMatchObject({ payload: { n: 1 } });
      // The dead-letter producer authenticates too.
      const [dl] = await readAll(`${topic}.dlq`, { expected: 1, timeoutMs: 15_000 });
      expect(dl?.headers['dlq-reason']).toBe('undecodable');
      await waitFor(async () => (await committedOffsets(groupId, topic))[0] === '2', {
        timeoutMs: 15_000,
        message: 'committed',
      });
      expect(connector.app.readiness().ready).toBe(true);
    } finally {
      await connector.stop();
    }
    expect(connector.logs.join('')).not.toContain(KAFKA_SASL_PASSWORD);
  });

  it('a wrong password fails the start with a clear error, within a bound, without printing the password', async () => {
    const wrong = 'not-the-password-4c1d';
    const topic = uniqueName('sasl-wrong');
    await createTopic(topic, 1);
    const startedAt = Date.now();
    const child = await spawnConnector({
      name: 'sasl-wrong-password',
      topic,
      groupId: uniqueName('sasl-wrong-group'),
      databaseUrl: db.url,
      env: { ...saslEnv(wrong), LOG_LEVEL: 'info' },
    });
    const BOUND_MS = 45_000;
    const exit = await Promise.race([
      child.exited,
      new Promise<'timeout'>((resolve) => setTimeout(resolve, BOUND_MS, 'timeout').unref()),
    ]);
    if (exit === 'timeout') throw new Error(`still running ${BOUND_MS} ms after start:\n${child.output()}`);
    expect(exit.code).toBe(1);
    expect(Date.now() - startedAt).toBeLessThan(BOUND_MS);
    const output = child.output();
    expect(output).toContain('"msg":"start failed"');
    expect(output).toMatch(/KafkaJSSASLAuthenticationError: SASL SCRAM SHA256 authentication failed/);
    expect(output).toMatch(/invalid credentials/);
    expect(output).not.toContain(wrong);
    // It never got as far as reporting ready.
    expect(output).not.toContain('"msg":"started"');
  });

  it.each([
    ['no SASL settings against the SASL listener', { KAFKA_BROKERS: KAFKA_SASL_BROKERS }],
    [
      'SASL settings against the PLAINTEXT listener',
      { ...saslEnv(KAFKA_SASL_PASSWORD), KAFKA_BROKERS: KAFKA_BROKERS_PLAINTEXT },
    ],
  ])('%s: the start fails within a bound instead of hanging', async (name, env) => {
    const topic = uniqueName('sasl-mismatch');
    await createTopic(topic, 1);
    const child = await spawnConnector({
      name,
      topic,
      groupId: uniqueName('sasl-mismatch-group'),
      databaseUrl: db.url,
      env,
    });
    const BOUND_MS = 45_000;
    const exit = await Promise.race([
      child.exited,
      new Promise<'timeout'>((resolve) => setTimeout(resolve, BOUND_MS, 'timeout').unref()),
    ]);
    if (exit === 'timeout') throw new Error(`still running ${BOUND_MS} ms after start:\n${child.output()}`);
    expect(exit.code).toBe(1);
    expect(child.output()).toContain('"msg":"start failed"');
    expect(child.output()).not.toContain(KAFKA_SASL_PASSWORD);
  });
});
