/**
 * Issue 2 acceptance, on the real broker, real Postgres and real HTTP receivers, for both transports:
 * an event reaches every matching subscriber (project match, global match; not another project's or
 * another event's), with Tiledesk's exact envelope and three independently verified signatures, and the
 * group's offset moves past the record only after the 2xx. Subscription changes apply without a restart.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { verify as verifyGithub } from '@octokit/webhooks-methods';
import { createHmac } from 'node:crypto';
import { jwtVerify } from 'jose';
import type pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import type { Subscription } from '../../src/subscriptions/types.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import { committedOffsets, createTopic, produce, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { subscribeProjectAndGlobal } from '../support/subscribed-receiver.js';
import { waitFor } from '../support/wait.js';

describe.each(['undici', 'got'] as const)('end-to-end delivery (%s)', (transport) => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let connector: TestConnector;
  let topic: string;
  let groupId: string;
  let release: (() => void) | undefined;
  const receivers: Record<'project' | 'global' | 'otherProject' | 'otherEvent', Receiver> = {} as never;
  const subs: Record<string, Subscription> = {};

  beforeAll(async () => {
    ({ db, pool } = await createMigratedDatabase(`e2e_${transport}`));
    topic = uniqueName('e2e');
    groupId = uniqueName('e2e-group');
    await createTopic(topic, 1);
    // The project receiver holds its first answer until the test releases it (to watch the offset).
    receivers.project = await startReceiver(async (_req, n) => {
      if (n === 1) await new Promise<void>((resolve) => (release = resolve));
      return { status: 200 };
    });
    receivers.global = await startReceiver();
    receivers.otherProject = await startReceiver();
    receivers.otherEvent = await startReceiver();
    Object.assign(subs, await subscribeProjectAndGlobal(pool, receivers));
    const store = createSubscriptionStore(pool);
    subs.otherProject = await store.add({
      idProject: 'P2',
      event: 'request.create',
      target: receivers.otherProject.url,
      createdBy: 'u2',
    });
    subs.otherEvent = await store.add({
      idProject: 'P1',
      event: 'message.create',
      target: receivers.otherEvent.url,
      createdBy: 'u1',
    });
    connector = await startConnector({ topic, groupId, databaseUrl: db.url, transport });
  });

  afterAll(async () => {
    release?.();
    await connector?.stop();
    for (const r of Object.values(receivers)) await r?.close();
    await pool?.end();
    await db?.drop();
  });

  it('delivers to project and global subscribers with the exact envelope, verifiable signatures, and commits after the 2xx', async () => {
    const event = {
      id: 'evt-1',
      event: 'request.create',
      id_project: 'P1',
      timestamp: 1_764_000_000_000,
      payload: { request_id: 'r-1', first_text: 'hi', nested: { ü: [1, 2] } },
    };
    await produce(topic, [{ key: 'P1', value: JSON.stringify(event) }]);

    await waitFor(() => receivers.project.requests.length === 1, {
      timeoutMs: 20_000,
      message: 'project receiver got the event',
    });
    // The receiver has not answered yet: the record must not be committed.
    await waitFor(() => receivers.global.requests.length === 1, {
      timeoutMs: 10_000,
      message: 'global receiver got the event',
    });
    await connector.app.consumer.commit();
    expect((await committedOffsets(groupId, topic))[0]).not.toBe('1');

    release!();
    await waitFor(async () => (await committedOffsets(groupId, topic))[0] === '1', {
      timeoutMs: 10_000,
      message: 'offset committed after the 2xx',
    });
    expect(receivers.otherProject.requests).toHaveLength(0);
    expect(receivers.otherEvent.requests).toHaveLength(0);

    for (const [name, sub] of [
      ['project', subs.project!],
      ['global', subs.global!],
    ] as const) {
      const req = receivers[name].requests[0]!;
      expect(req.method).toBe('POST');
      expect(req.url).toBe(name === 'project' ? '/hooks' : '/all');
      const expectedBody = JSON.stringify({
        hook: {
          _id: sub.id,
          event: 'request.create',
          target: sub.target,
          id_project: sub.idProject,
          createdBy: sub.createdBy,
          createdAt: sub.createdAt.toISOString(),
          updatedAt: sub.updatedAt.toISOString(),
        },
        timestamp: event.timestamp,
        payload: event.payload,
        token: (JSON.parse(req.body) as { token: string }).token,
      });
      expect(req.body).toBe(expectedBody);
      expect(req.body).not.toContain(sub.secret);
      expect(req.body).not.toContain('"global"');

      const h = req.headers;
      expect(h['content-type']).toBe('application/json');
      expect(h['user-agent']).toMatch(/^tiledesk-webhooks/);
      expect(h['x-tiledesk-event']).toBe('request.create');
      expect(h['x-webhook-attempt']).toBe('1');
      expect(h['x-hook-secret']).toBeUndefined();
      // X-Hub-Signature-256 with GitHub's own verifier; X-Hub-Signature (sha1) recomputed.
      expect(await verifyGithub(sub.secret, req.body, String(h['x-hub-signature-256']))).toBe(true);
      expect(h['x-hub-signature']).toBe(
        `sha1=${createHmac('sha1', sub.secret).update(req.body).digest('hex')}`,
      );
      // Standard Webhooks with the reference library (throws when invalid).
      const verified = new Webhook(sub.secret).verify(req.body, {
        'webhook-id': String(h['webhook-id']),
        'webhook-timestamp': String(h['webhook-timestamp']),
        'webhook-signature': String(h['webhook-signature']),
      });
      expect(verified).toEqual(JSON.parse(req.body));
      // The JWT: HS256 keyed with the secret's UTF-8 bytes, Tiledesk's claims.
      const token = (JSON.parse(req.body) as { token: string }).token;
      const { payload, protectedHeader } = await jwtVerify(token, new TextEncoder().encode(sub.secret), {
        issuer: 'https://tiledesk.com',
        audience: sub.global ? 'https://tiledesk.com' : `https://tiledesk.com/subscriptions/${sub.id}`,
        subject: 'subscription',
      });
      expect(protectedHeader.alg).toBe('HS256');
      expect(payload._id).toBe(sub.id);
      expect(payload).not.toHaveProperty('secret');
    }
    // One webhook-id per (event, subscription).
    expect(receivers.project.requests[0]!.headers['webhook-id']).not.toBe(
      receivers.global.requests[0]!.headers['webhook-id'],
    );
  });

  it('applies subscriptions inserted, disabled and deleted in Postgres within 2 s, without a restart', async () => {
    const cached = (): Promise<number> => connector.metric('webhook_connector_subscriptions_cached');
    const before = await cached();
    const { rows } = await pool.query<{ id: string }>(
      `insert into webhook_subscriptions (id_project, event, target, secret, created_by) values ('P3', 'lead.create', $1, 'whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0', 'sql') returning id`,
      [`${receivers.otherProject.url}/lead`],
    );
    await waitFor(async () => (await cached()) === before + 1, {
      timeoutMs: 2_000,
      message: 'insert visible within 2 s',
    });
    await produce(topic, [
      {
        key: 'P3',
        value: JSON.stringify({
          id: 'lead-1',
          event: 'lead.create',
          id_project: 'P3',
          timestamp: Date.now(),
          payload: { n: 1 },
        }),
      },
    ]);
    await waitFor(() => receivers.otherProject.requests.some((r) => r.url === '/lead'), {
      timeoutMs: 10_000,
      message: 'new subscription delivered',
    });

    await pool.query(`update webhook_subscriptions set enabled = false where id = $1`, [rows[0]!.id]);
    await waitFor(async () => (await cached()) === before, {
      timeoutMs: 2_000,
      message: 'disable visible within 2 s',
    });
    await pool.query(`update webhook_subscriptions set enabled = true where id = $1`, [rows[0]!.id]);
    await waitFor(async () => (await cached()) === before + 1, {
      timeoutMs: 2_000,
      message: 're-enable visible within 2 s',
    });
    await pool.query(`delete from webhook_subscriptions where id = $1`, [rows[0]!.id]);
    await waitFor(async () => (await cached()) === before, {
      timeoutMs: 2_000,
      message: 'delete visible within 2 s',
    });

    // After the delete, a lead.create for P3 matches nothing: it is committed without any delivery.
    const delivered = receivers.otherProject.requests.length;
    await produce(topic, [
      {
        key: 'P3',
        value: JSON.stringify({
          id: 'lead-2',
          event: 'lead.create',
          id_project: 'P3',
          timestamp: Date.now(),
          payload: { n: 2 },
        }),
      },
    ]);
    await waitFor(
      async () =>
        (await connector.metric('webhook_connector_events_unmatched_total', { event_family: 'lead' })) >= 1,
      {
        timeoutMs: 10_000,
        message: 'the event after the delete is unmatched',
      },
    );
    expect(receivers.otherProject.requests).toHaveLength(delivered);
  });
});
