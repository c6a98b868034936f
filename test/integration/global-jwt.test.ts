/**
 * Global subscriptions' JWT signed with the platform's key, as Tiledesk signs it (GLOBAL_SECRET_OR_PRIVATE_KEY
 * with GLOBAL_SECRET_ALGORITHM RS256 here), through the real connector, broker, Postgres and receivers: the
 * global receiver's token verifies with the platform's public key and Tiledesk's bare audience, the project
 * receiver's with its own secret, and the HMAC signatures of both stay on each subscription's secret.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import { importSPKI, jwtVerify } from 'jose';
import type pg from 'pg';
import type { Subscription } from '../../src/subscriptions/types.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import { createTopic, produce, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type Receiver } from '../support/receiver.js';
import { subscribeProjectAndGlobal } from '../support/subscribed-receiver.js';
import { waitFor } from '../support/wait.js';

describe('global subscriptions: JWT with the platform key', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let connector: TestConnector;
  let topic: string;
  const receivers: Record<'project' | 'global', Receiver> = {} as never;
  const subs: Record<'project' | 'global', Subscription> = {} as never;
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });

  beforeAll(async () => {
    ({ db, pool } = await createMigratedDatabase('global_jwt'));
    topic = uniqueName('global-jwt');
    await createTopic(topic, 1);
    receivers.project = await startReceiver();
    receivers.global = await startReceiver();
    Object.assign(subs, await subscribeProjectAndGlobal(pool, receivers));
    connector = await startConnector({
      topic,
      groupId: uniqueName('global-jwt-group'),
      databaseUrl: db.url,
      // One line with literal \n, as a key passed in an environment variable usually is.
      env: {
        GLOBAL_SECRET_OR_PRIVATE_KEY: keys.privateKey.trim().split('\n').join('\\n'),
        GLOBAL_SECRET_ALGORITHM: 'RS256',
      },
    });
  });

  afterAll(async () => {
    await connector?.stop();
    for (const r of Object.values(receivers)) await r?.close();
    await pool?.end();
    await db?.drop();
  });

  it("signs the global subscription's token with the platform key, the project's with its secret", async () => {
    const event = {
      id: 'evt-g1',
      event: 'request.create',
      id_project: 'P1',
      timestamp: 1_764_000_000_000,
      payload: { request_id: 'r-1' },
    };
    await produce(topic, [{ key: 'P1', value: JSON.stringify(event) }]);
    await waitFor(() => receivers.project.requests.length === 1 && receivers.global.requests.length === 1, {
      timeoutMs: 20_000,
      message: 'both receivers got the event',
    });

    const globalReq = receivers.global.requests[0]!;
    const globalToken = (JSON.parse(globalReq.body) as { token: string }).token;
    const { payload, protectedHeader } = await jwtVerify(
      globalToken,
      await importSPKI(keys.publicKey, 'RS256'),
      {
        algorithms: ['RS256'],
        issuer: 'https://tiledesk.com',
        subject: 'subscription',
        audience: 'https://tiledesk.com',
      },
    );
    expect(protectedHeader.alg).toBe('RS256');
    expect(payload).toMatchObject({ _id: subs.global.id, id_project: 'P9', iat: 1_764_000_000 });
    expect(globalReq.headers['x-hub-signature-256']).toBe(
      `sha256=${createHmac('sha256', subs.global.secret).update(globalReq.body).digest('hex')}`,
    );

    const projectReq = receivers.project.requests[0]!;
    const projectToken = (JSON.parse(projectReq.body) as { token: string }).token;
    const project = await jwtVerify(projectToken, new TextEncoder().encode(subs.project.secret), {
      algorithms: ['HS256'],
      audience: `https://tiledesk.com/subscriptions/${subs.project.id}`,
    });
    expect(project.payload._id).toBe(subs.project.id);
    expect(projectReq.headers['x-hub-signature-256']).toBe(
      `sha256=${createHmac('sha256', subs.project.secret).update(projectReq.body).digest('hex')}`,
    );
  });
});
