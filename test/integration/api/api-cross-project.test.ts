/**
 * A caller of project A can never read or change anything of project B. Every route fastify registered
 * (so a new route cannot be forgotten) is called by A, with an API key and with a JWT, naming B's project
 * and B's ids (403), and naming A's project with B's ids (404, or A's own data only); B's subscriptions,
 * keys and deliveries are unchanged and no resend, recover or test reached B.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { SignJWT } from 'jose';
import { startTestApi, type TestApi } from '../../support/api-server.js';
import { attemptView, deliveryView } from '../../support/memory-delivery-log.js';

const JWT_SECRET = 'cross-project-test-secret-0123456789abcdef';
const A = 'project-a';
const B = 'project-b';
let api: TestApi;
let bSubscription: string;
const bDelivery = 'msg_bbbbbbbbbbbbbbbbbbbbbbbbbb';
let examples: Map<string, unknown>;

beforeAll(async () => {
  api = await startTestApi('api_cross', { jwt: { API_JWT_SECRET: JWT_SECRET } });
  const b = await api.subscriptions.add({
    idProject: B,
    event: 'request.create',
    target: 'https://b.example/',
    createdBy: 'b',
  });
  bSubscription = b.id;
  await api.subscriptions.add({
    idProject: A,
    event: 'request.create',
    target: 'https://a.example/',
    createdBy: 'a',
  });
  await api.projectKey(B);
  api.memoryLog.add(deliveryView({ id: bDelivery, idProject: B, subscriptionId: b.id }), [attemptView()]);
  const doc = (await api.call('GET', '/openapi.json')).json as {
    paths: Record<
      string,
      Record<string, { requestBody?: { content: { 'application/json': { example?: unknown } } } }>
    >;
  };
  examples = new Map();
  for (const [path, ops] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(ops)) {
      examples.set(`${method.toUpperCase()} ${path}`, op.requestBody?.content['application/json'].example);
    }
  }
});
afterAll(() => api.stop());

async function bState(): Promise<unknown> {
  const subs = await api.pool.query(
    "select * from webhook_subscriptions where id_project = 'project-b' order by id",
  );
  const keys = await api.pool.query(
    "select id, revoked_at from webhook_api_keys where id_project = 'project-b'",
  );
  const touched = api.memoryLog.calls.filter(
    (c) => ['resend', 'recover', 'sendTest'].includes(c[0] as string) && c[1] === B,
  );
  return { subs: subs.rows, keys: keys.rows, touched };
}

function fill(url: string, project: string): string {
  return url.replace(':projectid', project).replace(':id', bSubscription).replace(':deliveryId', bDelivery);
}

const callers: [string, () => Promise<Record<string, string>>][] = [
  ['API key', async () => ({ authorization: `Bearer ${await api.projectKey(A)}` })],
  [
    'JWT',
    async () => ({
      authorization: `JWT ${await new SignJWT({ id_project: A, role: 'owner' })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('5m')
        .sign(new TextEncoder().encode(JWT_SECRET))}`,
    }),
  ],
];

describe.each(callers)('a caller of project A (%s)', (_name, headersOf) => {
  it("gets 403 on every route naming B's project, and B is unchanged", async () => {
    const headers = await headersOf();
    const before = await bState();
    const routes = api.api.registered.filter((r) => r.url.includes(':projectid'));
    expect(routes.length).toBeGreaterThanOrEqual(14);
    for (const route of routes) {
      const example = examples.get(`${route.method} ${route.url.replace(/:([a-zA-Z]+)/g, '{$1}')}`);
      const r = await api.call(route.method, fill(route.url, B), {
        headers,
        ...(example !== undefined ? { body: example } : {}),
      });
      expect([route.method, route.url, r.status, (r.json as { code?: string }).code]).toEqual([
        route.method,
        route.url,
        403,
        'CONNECTOR_API_FORBIDDEN',
      ]);
    }
    expect(await bState()).toEqual(before);
  });

  it("naming its own project with B's ids: 404, or A's own data only", async () => {
    const headers = await headersOf();
    const before = await bState();
    for (const route of api.api.registered.filter((r) => r.url.includes(':projectid'))) {
      const example = examples.get(`${route.method} ${route.url.replace(/:([a-zA-Z]+)/g, '{$1}')}`);
      const r = await api.call(route.method, fill(route.url, A), {
        headers,
        ...(example !== undefined ? { body: example } : {}),
      });
      const names = [route.method, route.url];
      if (/:id|:deliveryId/.test(route.url)) {
        expect([...names, r.status]).toEqual([...names, 404]);
      } else {
        expect([...names, r.status < 300]).toEqual([...names, true]);
        expect([...names, r.text.includes(B) || r.text.includes(bSubscription)]).toEqual([...names, false]);
      }
    }
    expect(await bState()).toEqual(before);
  });
});

describe("a global subscription (every project's events), even under A's own project", () => {
  it('is invisible to a caller of A: every route with its id 404, not listed, no duplicate answered', async () => {
    const platform = await api.platformKey();
    const created = await api.call('POST', `/${A}/subscriptions`, {
      key: platform,
      body: { event: 'request.close', target: 'https://platform.example/all', global: true },
    });
    expect(created.status).toBe(200);
    const globalId = (created.json as { _id: string })._id;
    const snapshot = async (): Promise<unknown> =>
      (await api.pool.query('select * from webhook_subscriptions where id = $1', [globalId])).rows;
    const before = await snapshot();
    const headers = await callers[0]![1]();

    for (const route of api.api.registered.filter((r) => r.url.includes(':projectid/subscriptions/:id'))) {
      const example = examples.get(`${route.method} ${route.url.replace(/:([a-zA-Z]+)/g, '{$1}')}`);
      const r = await api.call(route.method, route.url.replace(':projectid', A).replace(':id', globalId), {
        headers,
        ...(example !== undefined ? { body: example } : {}),
      });
      expect([route.method, route.url, r.status]).toEqual([route.method, route.url, 404]);
    }
    const listed = await api.call('GET', `/${A}/subscriptions`, { headers });
    expect(listed.text).not.toContain(globalId);
    // Asking for the same (event, target) does not hand over the global one and its secret.
    const duplicate = await api.call('POST', `/${A}/subscriptions`, {
      headers,
      body: { event: 'request.close', target: 'https://platform.example/all' },
    });
    expect(duplicate.status).toBe(400);
    expect(duplicate.headers.get('x-hook-secret')).toBeNull();
    expect(duplicate.text).not.toContain(globalId);
    expect(await snapshot()).toEqual(before);

    // The platform still sees and manages it.
    expect((await api.call('GET', `/${A}/subscriptions/${globalId}`, { key: platform })).status).toBe(200);
    const all = await api.call('GET', `/${A}/subscriptions`, { key: platform });
    expect(all.text).toContain(globalId);
  });
});
