/**
 * A manual re-send is really sent: the API store parks a 'manual' row and the running connector's parked
 * runner delivers it to the receiver, with the original payload bytes and the same webhook-id, through the
 * normal signed path. The same for a test event.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { createPgManualResends } from '../../src/api/store/pg-manual-resends.js';
import { webhookId } from '../../src/delivery/webhook-id.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import { logAttempts, logMessage } from '../support/delivery-log.js';
import { createTopic, uniqueName } from '../support/kafka.js';
import { startSubscribedReceiver, type SubscribedReceiver } from '../support/subscribed-receiver.js';
import { waitFor } from '../support/wait.js';

let s: SubscribedReceiver;
let c: TestConnector | undefined;
let subId: string;

beforeAll(async () => {
  s = await startSubscribedReceiver('api_resend_runner');
  subId = (await s.pool.query<{ id: string }>('select id from webhook_subscriptions')).rows[0]!.id;
  const topic = uniqueName('api-resend');
  await createTopic(topic, 1);
  c = await startConnector({
    topic,
    groupId: uniqueName('g'),
    databaseUrl: s.db.url,
    env: { PARKED_POLL_INTERVAL_MS: '100' },
  });
});

afterAll(async () => {
  await c?.stop();
  await s?.close();
});

async function deliveryState(id: string): Promise<string[]> {
  const r = await s.pool.query<{ state: string }>(
    'select state from webhook_deliveries where webhook_id = $1 order by id',
    [id],
  );
  return r.rows.map((row) => row.state);
}

it("the parked runner sends a resend's 'manual' row: the original payload bytes, the same webhook-id", async () => {
  // Bytes a re-serialization would change: key order, spacing, an escaped and a literal non-ASCII character.
  const payload = Buffer.from('{"z":1, "a":"caf\\u00e9 – ü","id":"r1"}', 'utf8');
  const m = await logMessage(s.pool, { eventId: 'r1', idProject: 'P1', payload, offset: '42' });
  const [id] = await logAttempts(s.pool, [
    { message: m, subscriptionId: subId, attemptedAt: new Date(Date.now() - 60_000), statusCode: 400 },
  ]);
  expect(id).toBe(webhookId('r1', subId));
  expect(s.receiver.requests).toHaveLength(0);

  expect(await createPgManualResends(s.pool).resend('P1', id!)).toBe('queued');

  const [request] = await waitFor(() => s.receiver.requests.length >= 1 && s.receiver.requests, {
    timeoutMs: 15_000,
    message: () => `the re-send delivered\n${c!.logs.slice(-5).join('')}`,
  });
  expect(request!.headers['webhook-id']).toBe(id);
  expect(request!.headers['webhook-signature']).toMatch(/^v1,/);
  expect(request!.body).toContain(`,"payload":${payload.toString('utf8')},"token":`);
  expect((JSON.parse(request!.body) as { hook: { event: string } }).hook.event).toBe('request.create');
  await waitFor(async () => (await deliveryState(id!)).join() === 'delivered', {
    message: 'the manual row marked delivered',
  });
  expect(s.receiver.requests).toHaveLength(1);
});

it('a test event goes out the same way, with the webhook-id sendTest returned', async () => {
  const before = s.receiver.requests.length;
  const id = await createPgManualResends(s.pool).sendTest('P1', subId);
  const request = await waitFor(
    () => s.receiver.requests.find((r, i) => i >= before && r.headers['webhook-id'] === id),
    { timeoutMs: 15_000, message: 'the test event delivered' },
  );
  const body = JSON.parse(request.body) as { hook: { event: string }; payload: Record<string, unknown> };
  expect(body.hook.event).toBe('request.create');
  expect(body.payload).toMatchObject({ id_project: 'P1', test: true, id: expect.stringMatching(/^test-/) });
  await waitFor(async () => (await deliveryState(id)).join() === 'delivered', {
    message: 'the test row marked delivered',
  });
});
