/**
 * Issue 16 item 6: one unusable subscription fails only its own delivery. A row written by another tool
 * with `created_at = 'infinity'` cannot be turned into Tiledesk's `hook` (no ISO date for it); the healthy
 * subscription on the same event still gets its webhook, the unusable one is dead-lettered with reason
 * `subscription_invalid`, and the record is committed instead of being re-run for ever.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import { committedOffsets, createTopic, produce, readAll, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

let db: TestDatabase;
let pool: pg.Pool;
let r: Receiver;
let connector: TestConnector | undefined;

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('subscription_invalid'));
  r = await startReceiver();
});
afterAll(async () => {
  await connector?.stop();
  await r?.close();
  await pool?.end();
  await db?.drop();
});

describe('an unusable subscription', () => {
  it("created_at = 'infinity': dead-lettered as subscription_invalid, the healthy one delivered, the record committed", async () => {
    const healthy = await createSubscriptionStore(pool).add({
      idProject: 'P1',
      event: 'request.create',
      target: `${r.url}/healthy`,
      createdBy: 'test',
    });
    const { rows } = await pool.query<{ id: string; created_at: string }>(
      `insert into webhook_subscriptions (id_project, event, target, secret, created_by, created_at)
       values ('P1', 'request.create', $1, 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', 'other-tool', 'infinity')
       returning id, created_at::text`,
      [`${r.url}/broken`],
    );
    const broken = rows[0]!;
    expect(broken.created_at).toBe('infinity');

    const topic = uniqueName('sub-invalid');
    const groupId = uniqueName('sub-invalid-group');
    const dlq = `${topic}.dlq`;
    await createTopic(topic, 1);
    connector = await startConnector({ topic, groupId, databaseUrl: db.url });
    expect(await connector.metric('webhook_connector_subscriptions_cached')).toBe(2);

    const value = JSON.stringify({
      id: 'e1',
      event: 'request.create',
      id_project: 'P1',
      timestamp: Date.now(),
      payload: { id: 'e1' },
    });
    await produce(topic, [{ key: 'P1', value }]);

    const [dl] = await readAll(dlq, { expected: 1, timeoutMs: 20_000 });
    expect(dl).toBeDefined();
    expect(dl!.value?.toString()).toBe(value);
    expect(dl!.headers['dlq-reason']).toBe('subscription_invalid');
    expect(dl!.headers['dlq-subscription-id']).toBe(broken.id);
    expect(dl!.headers['dlq-attempts']).toBe('0');
    expect(dl!.headers['dlq-error']).toMatch(/Invalid time value/);

    await waitFor(async () => (await committedOffsets(groupId, topic))[0] === '1', {
      timeoutMs: 15_000,
      message: 'the record committed',
    });
    expect(r.requests.map((q) => q.url)).toEqual(['/healthy']); // the broken target got nothing
    expect(JSON.parse(r.requests[0]!.body).hook._id).toBe(healthy.id);
    // Exactly one dead letter (read to the end offsets), counted under its reason.
    expect(await readAll(dlq)).toHaveLength(1);
    expect(
      await connector.metric('webhook_connector_dead_letters_total', { reason: 'subscription_invalid' }),
    ).toBe(1);
  });
});
