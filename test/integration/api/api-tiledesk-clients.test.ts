/**
 * Tiledesk's own clients work unchanged against this server: the requests below are those of
 * Tiledesk/tiledesk-dashboard `src/app/services/webhook.service.ts` ("Manage WebHook") and of
 * Tiledesk/tiledesk-telegram-connector `telegramRoute/tiledesk/TiledeskSubscriptionClient.js`, byte for
 * byte in method, path, headers and body, with the platform's token as `Authorization` (Tiledesk's
 * `JWT <token>`). What each client reads from the answer is what is asserted: the telegram connector needs
 * a 200 with a body and reads `_id` and `secret`; the dashboard lists, reads, edits and deletes.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { startTestApi, TILEDESK_SUBSCRIPTION_FIELDS, type TestApi } from '../../support/api-server.js';

const JWT_SECRET = 'tiledesk-clients-hs256-secret-0123456789';
const PROJECT = '65a1b2c3d4e5f60718293a4b';
const USER = '5e1f2a3b4c5d6e7f8a9b0c1d';

let api: TestApi;
let token: string;

beforeAll(async () => {
  api = await startTestApi('api_tiledesk_clients', { jwt: { API_JWT_SECRET: JWT_SECRET } });
  const jwt = await new SignJWT({ id_project: PROJECT, role: 'owner' })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(USER)
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(JWT_SECRET));
  token = `JWT ${jwt}`;
});
afterAll(() => api?.stop());

interface Answer {
  readonly status: number;
  readonly headers: Headers;
  readonly data: unknown;
}

/** One request as the client sends it: exact method, headers and body bytes. */
async function send(
  method: string,
  path: string,
  headers: Record<string, string>,
  body?: string,
): Promise<Answer> {
  const res = await fetch(`${api.url}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, headers: res.headers, data: text === '' ? undefined : JSON.parse(text) };
}

it('the telegram connector subscribes and unsubscribes (TiledeskSubscriptionClient)', async () => {
  // subscribe(): axios POST, `json: subscription_info` sent as `data`, Content-Type and Authorization.
  const subscriptionInfo = {
    target: 'https://telegram-connector.example/tiledesk',
    event: 'message.create.request.channel.telegram',
  };
  const subscribed = await send(
    'POST',
    `/${PROJECT}/subscriptions`,
    { 'Content-Type': 'application/json', Authorization: token },
    JSON.stringify(subscriptionInfo),
  );
  // myrequest(): success only when `res.status == 200 && res.data`.
  expect(subscribed.status).toBe(200);
  const saved = subscribed.data as Record<string, unknown>;
  expect(saved).toBeTruthy();
  // The connector stores `subscription._id` and `subscription.secret`.
  expect(saved._id).toMatch(/^[0-9a-f]{24}$/);
  expect(typeof saved.secret).toBe('string');
  expect(subscribed.headers.get('x-hook-secret')).toBe(saved.secret);
  expect(saved).toMatchObject({ ...subscriptionInfo, id_project: PROJECT, createdBy: USER, __v: 0 });
  for (const k of TILEDESK_SUBSCRIPTION_FIELDS) expect(saved).toHaveProperty(k);

  // Configuring twice (the page reloaded) returns the same subscription, secret in the header again.
  const again = await send(
    'POST',
    `/${PROJECT}/subscriptions`,
    { 'Content-Type': 'application/json', Authorization: token },
    JSON.stringify(subscriptionInfo),
  );
  expect(again.status).toBe(200);
  expect((again.data as Record<string, unknown>)._id).toBe(saved._id);
  expect(again.headers.get('x-hook-secret')).toBe(saved.secret);

  // unsubscribe(): axios DELETE with the same headers (Content-Type: application/json) and no body.
  const unsubscribed = await send('DELETE', `/${PROJECT}/subscriptions/${String(saved._id)}`, {
    'Content-Type': 'application/json',
    Authorization: token,
  });
  expect(unsubscribed.status).toBe(200);
  expect(unsubscribed.data).toMatchObject({ _id: saved._id, event: subscriptionInfo.event });
  expect(await api.subscriptions.get(String(saved._id))).toBeUndefined();
});

it("the dashboard's Manage WebHook page lists, creates, reads, edits and deletes (WebhookService)", async () => {
  const auth = { Authorization: token };
  // createNewSubscription(target, event): the body is JSON.stringify({ target, event }).
  const created = await send(
    'POST',
    `/${PROJECT}/subscriptions`,
    { 'Content-Type': 'application/json', ...auth },
    JSON.stringify({ target: 'https://hooks.example/tiledesk', event: 'request.create' }),
  );
  expect(created.status).toBe(200);
  const sub = created.data as Record<string, unknown>;
  // The "Webhook Secret Generated" modal shows the secret once.
  expect(typeof sub.secret).toBe('string');
  const id = String(sub._id);

  // getAllSubscriptions(): GET with Authorization only; an array of subscriptions without secrets.
  const all = await send('GET', `/${PROJECT}/subscriptions`, auth);
  expect(all.status).toBe(200);
  expect(Array.isArray(all.data)).toBe(true);
  const listed = (all.data as Record<string, unknown>[]).find((s) => s._id === id);
  expect(listed).toMatchObject({ event: 'request.create', target: 'https://hooks.example/tiledesk' });
  expect(listed).not.toHaveProperty('secret');
  expect(listed).not.toHaveProperty('global');

  // getWHSubscritionById(id)
  const one = await send('GET', `/${PROJECT}/subscriptions/${id}`, auth);
  expect(one.status).toBe(200);
  expect(one.data).toMatchObject({ _id: id, event: 'request.create', id_project: PROJECT });
  expect(one.data).not.toHaveProperty('secret');

  // updateSubscription(id, target, event): Angular sends the object as JSON, header spelled 'Content-type'.
  const updated = await send(
    'PUT',
    `/${PROJECT}/subscriptions/${id}`,
    { 'Content-type': 'application/json', ...auth },
    JSON.stringify({ target: 'https://hooks.example/v2', event: 'request.close' }),
  );
  expect(updated.status).toBe(200);
  expect(updated.data).toMatchObject({ _id: id, target: 'https://hooks.example/v2', event: 'request.close' });
  expect(await api.subscriptions.get(id)).toMatchObject({
    target: 'https://hooks.example/v2',
    event: 'request.close',
  });

  // deleteSubscription(id): Authorization only.
  const deleted = await send('DELETE', `/${PROJECT}/subscriptions/${id}`, auth);
  expect(deleted.status).toBe(200);
  expect(deleted.data).toMatchObject({ _id: id });
  const after = await send('GET', `/${PROJECT}/subscriptions`, auth);
  expect((after.data as Record<string, unknown>[]).some((s) => s._id === id)).toBe(false);
});
