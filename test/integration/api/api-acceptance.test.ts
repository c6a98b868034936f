/**
 * The management API against the running connector, on one Postgres, with a real receiver: a subscription
 * created through the API gets events delivered; history and deliveries show each attempt as the log
 * recorded it; a resend delivers again with the same webhook-id and body; recover re-sends what failed since
 * T; rotate-secret signs with both secrets during the overlap.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { Webhook } from 'standardwebhooks';
import { startTestApi, type TestApi } from '../../support/api-server.js';
import { startConnector, type TestConnector } from '../../support/connector.js';
import { requestCreate, payloadId } from '../../support/events.js';
import { createTopic, produce, uniqueName } from '../../support/kafka.js';
import { startReceiver, type ReceivedRequest, type Receiver } from '../../support/receiver.js';
import { waitFor } from '../../support/wait.js';

let api: TestApi;
let c: TestConnector;
let r: Receiver;
let topic: string;
let key: string;
/** While false, events whose id starts with `bad` get a 400, with `busy` a 503. */
let healed = false;

beforeAll(async () => {
  api = await startTestApi('api_acceptance', { pgStores: true });
  key = await api.projectKey('P1');
  r = await startReceiver((q) => {
    const id = payloadId(q.body);
    if (id.startsWith('bad') && !healed) return { status: 400, body: '{"error":"unknown customer"}' };
    if (id.startsWith('busy') && !healed) return { status: 503, body: 'busy, try later' };
    return { status: 200, body: `thanks for ${id}` };
  });
  topic = uniqueName('api-acceptance');
  await createTopic(topic, 1);
  c = await startConnector({
    topic,
    groupId: uniqueName('g'),
    databaseUrl: api.db.url,
    // The test schedule (support/connector.ts): 6 attempts within ~3.5 s, all in process.
    env: { PARKED_POLL_INTERVAL_MS: '100', DELIVERY_LOG: 'all' },
  });
});
afterAll(async () => {
  await c?.stop();
  await r?.close();
  await api?.stop();
});

const requestsFor = (id: string): ReceivedRequest[] => r.requests.filter((q) => payloadId(q.body) === id);

interface Delivery {
  id: string;
  event_id: string;
  status: string;
  attempts: number;
  last_status_code: number | null;
}

async function deliveries(subId: string): Promise<Map<string, Delivery>> {
  const res = await api.call('GET', `/P1/subscriptions/${subId}/deliveries?limit=250`, { key });
  expect(res.status).toBe(200);
  return new Map((res.json as { data: Delivery[] }).data.map((d) => [d.event_id, d]));
}

it('create → delivered → history and attempts → resend → recover → rotate-secret', async () => {
  // Create through the Tiledesk route; wait until the connector's snapshot holds it.
  const cached = (): Promise<number> => c.metric('webhook_connector_subscriptions_cached');
  const created = await api.call('POST', '/P1/subscriptions', {
    key,
    body: { event: 'request.create', target: `${r.url}/hooks` },
  });
  expect(created.status).toBe(200);
  const sub = created.json as { _id: string; secret: string };
  await waitFor(async () => (await cached()) === 1, { message: 'the subscription in the snapshot' });
  const t0 = new Date(Date.now() - 1_000);

  // One delivered at once, one refused for good (400), one failing until its retries run out (6 × 503).
  await produce(topic, [
    { key: 'P1', value: requestCreate('ok-1') },
    { key: 'P1', value: requestCreate('bad-1') },
    { key: 'P1', value: requestCreate('busy-1') },
  ]);
  await waitFor(() => requestsFor('busy-1').length === 6 && requestsFor('bad-1').length === 1, {
    timeoutMs: 20_000,
    message: () => `deliveries: ${r.requests.map((q) => payloadId(q.body)).join()}`,
  });
  expect(requestsFor('ok-1')).toHaveLength(1);

  // The log (written in batches off the delivery path) shows each attempt, and each delivery's state.
  const byEvent = await waitFor(
    async () => {
      const d = await deliveries(sub._id);
      return d.get('busy-1')?.attempts === 6 && d.size === 3 && d;
    },
    { timeoutMs: 10_000, message: 'three deliveries in the log' },
  );
  expect(byEvent.get('ok-1')).toMatchObject({ status: 'delivered', attempts: 1, last_status_code: 200 });
  expect(byEvent.get('bad-1')).toMatchObject({ status: 'failed', attempts: 1, last_status_code: 400 });
  expect(byEvent.get('busy-1')).toMatchObject({ status: 'failed', attempts: 6, last_status_code: 503 });
  for (const [eventId, d] of byEvent) expect(d.id).toBe(requestsFor(eventId)[0]!.headers['webhook-id']);

  const busy = await api.call('GET', `/P1/deliveries/${byEvent.get('busy-1')!.id}`, { key });
  const attempts = (busy.json as { attempts: Record<string, unknown>[] }).attempts;
  expect(attempts.map((a) => a.attempt)).toEqual([1, 2, 3, 4, 5, 6]);
  for (const a of attempts) {
    expect(a).toMatchObject({
      status_code: 503,
      result: 'retryable',
      trigger: 'scheduled',
      response_excerpt: 'busy, try later',
      target: `${r.url}/hooks`,
    });
    expect(a.duration_ms).toEqual(expect.any(Number));
  }
  expect(attempts.at(-1)).toMatchObject({ reason: 'retries_exhausted' });

  const history = await api.call('GET', '/P1/subscriptions/history', { key });
  const rows = history.json as { webhook_id: string; createdAt: string; response: string }[];
  expect(rows).toHaveLength(8);
  const times = rows.map((h) => Date.parse(h.createdAt));
  expect([...times].sort((a, b) => b - a)).toEqual(times); // newest first
  expect(JSON.parse(rows.find((h) => h.webhook_id === byEvent.get('bad-1')!.id)!.response)).toEqual({
    statusCode: 400,
    body: '{"error":"unknown customer"}',
  });

  // Resend a delivered one: the same webhook-id and the same body, again.
  const ok = byEvent.get('ok-1')!;
  const resent = await api.call('POST', `/P1/deliveries/${ok.id}/resend`, { key });
  expect(resent.status).toBe(202);
  const [first, again] = await waitFor(() => requestsFor('ok-1').length === 2 && requestsFor('ok-1'), {
    timeoutMs: 15_000,
    message: 'the resend delivered',
  });
  expect(again!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
  expect(again!.body).toBe(first!.body);
  await waitFor(
    async () => {
      const d = await api.call('GET', `/P1/deliveries/${ok.id}`, { key });
      const a = (d.json as { attempts: { trigger: string }[] }).attempts;
      return a.length === 2 && a[1]!.trigger === 'manual';
    },
    { message: "the resend's attempt logged as manual" },
  );

  // Recover what failed since t0: the two failed deliveries, once each, now that the receiver is healed.
  healed = true;
  const recovered = await api.call('POST', `/P1/subscriptions/${sub._id}/recover`, {
    key,
    body: { since: t0.toISOString() },
  });
  expect(recovered.status).toBe(202);
  expect(recovered.json).toEqual({ queued: 2 });
  await waitFor(() => requestsFor('busy-1').length === 7 && requestsFor('bad-1').length === 2, {
    timeoutMs: 15_000,
    message: 'the recovered deliveries sent',
  });
  expect(requestsFor('busy-1')[6]!.headers['webhook-id']).toBe(byEvent.get('busy-1')!.id);
  const after = await waitFor(
    async () => {
      const d = await deliveries(sub._id);
      return [...d.values()].every((x) => x.status === 'delivered') && d;
    },
    { timeoutMs: 10_000, message: 'every delivery delivered after recover' },
  );
  expect(after.size).toBe(3);

  // Rotate with an overlap: deliveries carry a signature by each secret.
  const rotated = await api.call('POST', `/P1/subscriptions/${sub._id}/rotate-secret`, {
    key,
    body: { overlapHours: 1 },
  });
  expect(rotated.status).toBe(200);
  const newSecret = (rotated.json as { secret: string }).secret;
  expect(rotated.headers.get('x-hook-secret')).toBe(newSecret);
  expect(newSecret).not.toBe(sub.secret);
  const accepted = (secret: string, q: ReceivedRequest): boolean => {
    try {
      new Webhook(secret).verify(q.body, {
        'webhook-id': q.headers['webhook-id']!,
        'webhook-timestamp': q.headers['webhook-timestamp']!,
        'webhook-signature': q.headers['webhook-signature']!,
      });
      return true;
    } catch {
      return false;
    }
  };
  let n = 0;
  // The connector learns of the rotation by NOTIFY: the first delivery signed twice proves it did.
  const dual = await waitFor(
    async () => {
      const id = `rotated-${++n}`;
      await produce(topic, [{ key: 'P1', value: requestCreate(id) }]);
      const q = await waitFor(() => requestsFor(id)[0], { message: `delivery of ${id}` });
      return q.headers['webhook-signature']!.split(' ').length === 2 && q;
    },
    { timeoutMs: 15_000, intervalMs: 0, message: 'a delivery signed with both secrets' },
  );
  expect(accepted(newSecret, dual)).toBe(true);
  expect(accepted(sub.secret, dual)).toBe(true);
});
