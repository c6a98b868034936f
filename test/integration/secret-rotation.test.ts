/**
 * Issue 5 acceptance (secret rotation): `subscriptions rotate-secret ID --overlap-hours H` on a running
 * connector. The snapshot learns of it through LISTEN/NOTIFY (the periodic resync is pushed out of the
 * test's reach). During the overlap every delivery's `webhook-signature` carries two signatures, and a
 * receiver holding EITHER the old or the new secret verifies it with the Standard Webhooks reference
 * library; the single-valued X-Hub-Signature* and the JWT stay on the OLD secret, so a Tiledesk-style
 * receiver that verifies X-Hub-Signature-256 or the JWT and has not moved yet accepts every delivery of
 * the overlap (issue 16 item 14). Once the overlap is over, only the new secret signs, everything, and a
 * receiver still on the old one rejects the delivery.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { verify as verifyGithub } from '@octokit/webhooks-methods';
import { execFile } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { jwtVerify } from 'jose';
import type pg from 'pg';
import { Webhook } from 'standardwebhooks';
import { createSubscriptionStore } from '../../src/subscriptions/pg-store.js';
import type { Subscription, SubscriptionStore } from '../../src/subscriptions/types.js';
import { startConnector, type TestConnector } from '../support/connector.js';
import { createTopic, produce, uniqueName } from '../support/kafka.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';
import { startReceiver, type ReceivedRequest, type Receiver } from '../support/receiver.js';
import { waitFor } from '../support/wait.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const execFileAsync = promisify(execFile);

let db: TestDatabase;
let pool: pg.Pool;
let store: SubscriptionStore;
let r: Receiver;
let connector: TestConnector;
let topic: string;

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('secret_rotation'));
  store = createSubscriptionStore(pool);
  r = await startReceiver();
  topic = uniqueName('rotation');
  await createTopic(topic, 1);
  // A resync far away: whatever the connector learns during the test, it learns from NOTIFY.
  connector = await startConnector({
    topic,
    groupId: uniqueName('rotation-group'),
    databaseUrl: db.url,
    env: { SUBSCRIPTIONS_RESYNC_INTERVAL_MS: '600000' },
  });
});
afterAll(async () => {
  await connector?.stop();
  await r?.close();
  await pool?.end();
  await db?.drop();
});

async function rotateWithCli(id: string, overlapHours: string): Promise<{ secret: string; stdout: string }> {
  const { stdout } = await execFileAsync(
    process.execPath,
    ['--import', 'tsx', 'src/cli.ts', 'subscriptions', 'rotate-secret', id, '--overlap-hours', overlapHours],
    {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', DATABASE_URL: db.url, LOG_LEVEL: 'warn' },
      encoding: 'utf8',
      timeout: 60_000,
    },
  );
  const secret = new RegExp(`^new secret for subscription ${id}: (whsec_\\S+)$`, 'm').exec(stdout)?.[1];
  if (secret === undefined) throw new Error(`no new secret in the CLI output:\n${stdout}`);
  return { secret, stdout };
}

/** Adds a subscription and waits until the running connector's snapshot holds it. */
async function subscribe(path: string): Promise<Subscription> {
  const cached = (): Promise<number> => connector.metric('webhook_connector_subscriptions_cached');
  const before = await cached();
  const sub = await store.add({
    idProject: 'P1',
    event: 'request.create',
    target: `${r.url}${path}`,
    createdBy: 'test',
  });
  await waitFor(async () => (await cached()) === before + 1, {
    timeoutMs: 5_000,
    message: 'the new subscription in the snapshot',
  });
  return sub;
}

let seq = 0;
/** Produces one event and resolves with the request `sub`'s target got for it. */
async function deliverOne(sub: Subscription, label: string): Promise<ReceivedRequest> {
  const id = `${label}-${++seq}`;
  await produce(topic, [
    {
      key: sub.idProject,
      value: JSON.stringify({
        id,
        event: sub.event,
        id_project: sub.idProject,
        timestamp: Date.now(),
        payload: { id },
      }),
    },
  ]);
  // Every subscription of the test matches the event: pick this one's delivery by its path.
  const path = new URL(sub.target).pathname;
  return waitFor(
    () => r.requests.find((q) => q.url === path && q.body.includes(`"payload":{"id":"${id}"}`)),
    {
      timeoutMs: 15_000,
      message: `delivery of ${id} to ${path}`,
    },
  );
}

const signatures = (q: ReceivedRequest): string[] => String(q.headers['webhook-signature']).split(' ');

/** Standard Webhooks verification as a receiver holding `secret` does it; true when accepted. */
function acceptedBy(secret: string, q: ReceivedRequest): boolean {
  try {
    new Webhook(secret).verify(q.body, {
      'webhook-id': String(q.headers['webhook-id']),
      'webhook-timestamp': String(q.headers['webhook-timestamp']),
      'webhook-signature': String(q.headers['webhook-signature']),
    });
    return true;
  } catch {
    return false;
  }
}

async function jwtValidWith(secret: string, sub: Subscription, q: ReceivedRequest): Promise<boolean> {
  const token = (JSON.parse(q.body) as { token: string }).token;
  try {
    await jwtVerify(token, new TextEncoder().encode(secret), {
      issuer: 'https://tiledesk.com',
      audience: `https://tiledesk.com/subscriptions/${sub.id}`,
      subject: 'subscription',
      algorithms: ['HS256'],
    });
    return true;
  } catch {
    return false;
  }
}

/** Everything but webhook-signature (X-Hub-Signature*, the JWT) uses exactly `secret`, not `other`. */
async function expectSignedOnlyBy(
  secret: string,
  other: string,
  sub: Subscription,
  q: ReceivedRequest,
): Promise<void> {
  expect(await verifyGithub(secret, q.body, String(q.headers['x-hub-signature-256']))).toBe(true);
  expect(await verifyGithub(other, q.body, String(q.headers['x-hub-signature-256']))).toBe(false);
  expect(q.headers['x-hub-signature']).toBe(
    `sha1=${createHmac('sha1', secret).update(q.body).digest('hex')}`,
  );
  expect(await jwtValidWith(secret, sub, q)).toBe(true);
  expect(await jwtValidWith(other, sub, q)).toBe(false);
}

describe('secret rotation', () => {
  it('signs with both secrets during the overlap, then with the new one only', async () => {
    const sub = await subscribe('/overlap');
    const oldSecret = sub.secret;
    const before = await deliverOne(sub, 'before');
    expect(signatures(before)).toHaveLength(1);
    expect(acceptedBy(oldSecret, before)).toBe(true);

    // 0.01 h = 36 s of overlap: long enough for a few deliveries on a busy machine, short enough to see it end.
    const { secret: newSecret, stdout } = await rotateWithCli(sub.id, '0.01');
    const rotated = (await store.get(sub.id))!;
    expect(rotated.secret).toBe(newSecret);
    expect(rotated.previousSecret).toBe(oldSecret);
    const expiresAt = rotated.previousSecretExpiresAt!.getTime();
    expect(stdout).toContain(
      `The previous secret also signs deliveries until ${rotated.previousSecretExpiresAt!.toISOString()}.`,
    );
    expect(newSecret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(newSecret).not.toBe(oldSecret);

    // The first delivery signed with two keys shows the snapshot saw the NOTIFY (no resync can explain it).
    const firstDual = await waitFor(
      async () => {
        const q = await deliverOne(sub, 'probe');
        return signatures(q).length === 2 && q;
      },
      { timeoutMs: 10_000, intervalMs: 0, message: 'a delivery signed with both secrets' },
    );
    const during = [firstDual, await deliverOne(sub, 'during'), await deliverOne(sub, 'during')];
    expect(Date.now()).toBeLessThan(expiresAt); // still inside the overlap, or the test proves nothing
    for (const q of during) {
      expect(signatures(q)).toHaveLength(2);
      expect(signatures(q).every((s) => /^v1,[A-Za-z0-9+/]{43}=$/.test(s))).toBe(true);
      expect(acceptedBy(newSecret, q)).toBe(true);
      expect(acceptedBy(oldSecret, q)).toBe(true);
      expect(acceptedBy('whsec_' + Buffer.alloc(32, 7).toString('base64'), q)).toBe(false);
      // A Tiledesk-style receiver still holding the old secret: X-Hub-Signature-256 and the JWT verify.
      await expectSignedOnlyBy(oldSecret, newSecret, sub, q);
    }

    await waitFor(() => Date.now() > expiresAt + 200, {
      timeoutMs: 45_000,
      intervalMs: 200,
      message: 'the overlap to end',
    });
    const after = await deliverOne(sub, 'after');
    expect(signatures(after)).toHaveLength(1);
    expect(acceptedBy(newSecret, after)).toBe(true);
    expect(acceptedBy(oldSecret, after)).toBe(false);
    await expectSignedOnlyBy(newSecret, oldSecret, sub, after);
  });

  it('with --overlap-hours 0 the old secret stops signing at once', async () => {
    const sub = await subscribe('/no-overlap');
    const oldSecret = sub.secret;
    const { secret: newSecret, stdout } = await rotateWithCli(sub.id, '0');
    expect(stdout).toContain('The previous secret no longer signs deliveries.');
    expect((await store.get(sub.id))?.previousSecret).toBeNull();
    const q = await waitFor(
      async () => {
        const d = await deliverOne(sub, 'no-overlap');
        return acceptedBy(newSecret, d) && d;
      },
      { timeoutMs: 10_000, intervalMs: 0, message: 'a delivery signed with the new secret' },
    );
    expect(signatures(q)).toHaveLength(1);
    expect(acceptedBy(oldSecret, q)).toBe(false);
    await expectSignedOnlyBy(newSecret, oldSecret, sub, q);
  });
});
