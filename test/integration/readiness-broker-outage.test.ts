/**
 * Issue 16 item 12: /readyz says what the README says — joined to the group (a member now, not just once),
 * subscriptions loaded, not paused for an outage — whatever path a broker outage takes. The broker here is
 * the test's own (test/support/own-broker.ts), frozen with SIGSTOP: it stops answering without
 * closing connections, so kafkajs's requests hang (30 s request timeout) and nothing crashes the consumer
 * for a long while; the member is still out of the group once the session timeout passed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import { startConnector } from '../support/connector.js';
import { requestCreate } from '../support/events.js';
import { startOwnBroker, type OwnBroker } from '../support/own-broker.js';
import { startSubscribedReceiver, type SubscribedReceiver } from '../support/subscribed-receiver.js';
import { waitFor } from '../support/wait.js';

const SESSION_TIMEOUT_MS = 6_000; // the smallest KAFKA_SESSION_TIMEOUT_MS allowed

let setup: SubscribedReceiver;
let broker: OwnBroker;
beforeAll(async () => {
  setup = await startSubscribedReceiver('readiness');
  broker = await startOwnBroker();
}, 180_000);
afterAll(async () => {
  await broker?.destroy();
  await setup?.close();
});

/** GET /readyz on the ops port: status and body. */
function readyz(port: number): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: '/readyz' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString('utf8')));
      res.on('end', () =>
        resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }),
      );
    })
      .on('error', reject)
      .end();
  });
}

describe('/readyz during a broker outage', () => {
  it('turns 503 within the session timeout of a broker that stopped answering, and 200 again when it is back', async () => {
    const r = setup.receiver;
    const topic = 'readiness-events';
    await broker.createTopic(topic);
    const c = await startConnector({
      topic,
      groupId: 'readiness-group',
      databaseUrl: setup.db.url,
      env: { KAFKA_BROKERS: broker.brokers, KAFKA_SESSION_TIMEOUT_MS: String(SESSION_TIMEOUT_MS) },
    });
    const producer = broker.kafka().producer();
    try {
      await waitFor(async () => (await readyz(c.app.opsPort)).status === 200, {
        timeoutMs: 30_000,
        message: 'ready before the outage',
      });
      await producer.connect();
      await producer.send({ topic, messages: [{ key: 'P1', value: requestCreate('before') }] });
      await waitFor(() => r.requests.length === 1, {
        timeoutMs: 15_000,
        message: 'delivered before the outage',
      });

      broker.freeze();
      const frozenAt = Date.now();
      const notReady = await waitFor(
        async () => {
          const res = await readyz(c.app.opsPort);
          return res.status === 503 && res;
        },
        { timeoutMs: SESSION_TIMEOUT_MS + 6_000, message: '/readyz 503 while the broker does not answer' },
      );
      const tookMs = Date.now() - frozenAt;
      expect(tookMs).toBeGreaterThanOrEqual(SESSION_TIMEOUT_MS - 3_000); // not before heartbeats could fail
      expect(notReady.body.ready).toBe(false);
      expect(await c.metric('webhook_connector_ready')).toBe(0);

      broker.thaw();
      await waitFor(async () => (await readyz(c.app.opsPort)).status === 200, {
        timeoutMs: 60_000,
        message: 'ready again once the broker answers',
      });
      await producer.send({ topic, messages: [{ key: 'P1', value: requestCreate('after') }] });
      await waitFor(() => r.requests.some((q) => q.body.includes('"after"')), {
        timeoutMs: 30_000,
        message: 'delivered after the outage',
      });
    } finally {
      broker.thaw();
      await producer.disconnect();
      await c.stop();
    }
  }, 180_000);
});
