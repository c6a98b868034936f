/**
 * The management API's routes against the real server (fastify on port 0) and a real Postgres: Tiledesk's
 * subscription routes with Tiledesk's shapes, the extension routes, and bad input that writes nothing.
 * The delivery log behind history/deliveries/resend is the in-memory one: the routes are under test here.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startTestApi, TILEDESK_SUBSCRIPTION_FIELDS, type TestApi } from '../../support/api-server.js';
import { attemptView, deliveryView } from '../../support/memory-delivery-log.js';

let api: TestApi;
let key: string;
const P = 'proj-routes';

beforeAll(async () => {
  api = await startTestApi('api_routes', { bodyLimitBytes: 2_048 });
  key = await api.projectKey(P);
});
afterAll(() => api.stop());

async function rowCount(): Promise<number> {
  return Number((await api.pool.query('select count(*) from webhook_subscriptions')).rows[0].count);
}

describe('Tiledesk routes', () => {
  it('POST creates: the saved document with its secret, also in x-hook-secret; unknown fields ignored', async () => {
    const r = await api.call('POST', `/${P}/subscriptions`, {
      key,
      body: { event: 'request.create', target: 'https://example.com/a', description: 'ignored', secret: 'x' },
    });
    expect(r.status).toBe(200);
    const s = r.json as Record<string, unknown>;
    for (const f of TILEDESK_SUBSCRIPTION_FIELDS) expect(s).toHaveProperty(f);
    expect(s).toMatchObject({
      event: 'request.create',
      target: 'https://example.com/a',
      id_project: P,
      __v: 0,
      global: false,
      enabled: true,
      ordering: 'concurrent',
    });
    expect(s._id).toMatch(/^[0-9a-f]{24}$/);
    expect(typeof s.secret).toBe('string');
    expect(s.secret).not.toBe('x');
    expect(r.headers.get('x-hook-secret')).toBe(s.secret);
    expect(s.createdBy).toMatch(/^apikey:/);
    expect(new Date(s.createdAt as string).toISOString()).toBe(s.createdAt);
    expect((await api.subscriptions.get(s._id as string))?.secret).toBe(s.secret);
  });

  it('POST of an existing (project, event, target) answers the existing one with its secret', async () => {
    const body = { event: 'request.close', target: 'https://example.com/dup' };
    const first = await api.call('POST', `/${P}/subscriptions`, { key, body });
    const before = await rowCount();
    const again = await api.call('POST', `/${P}/subscriptions`, { key, body });
    expect(again.status).toBe(200);
    expect((again.json as { _id: string })._id).toBe((first.json as { _id: string })._id);
    expect(again.headers.get('x-hook-secret')).toBe(first.headers.get('x-hook-secret'));
    expect(await rowCount()).toBe(before);
  });

  it('GET lists the project only, without secret or global', async () => {
    await api.subscriptions.add({
      idProject: 'other',
      event: 'e.x',
      target: 'https://o.example/',
      createdBy: 't',
    });
    const r = await api.call('GET', `/${P}/subscriptions`, { key });
    expect(r.status).toBe(200);
    const list = r.json as Record<string, unknown>[];
    expect(list.length).toBeGreaterThanOrEqual(2);
    for (const s of list) {
      expect(s.id_project).toBe(P);
      expect(s).not.toHaveProperty('secret');
      expect(s).not.toHaveProperty('global');
      for (const f of TILEDESK_SUBSCRIPTION_FIELDS) expect(s).toHaveProperty(f);
    }
  });

  it("GET, PUT, DELETE by id; PUT changes event/target only; another project's id is 404", async () => {
    const c = await api.call('POST', `/${P}/subscriptions`, {
      key,
      body: { event: 'lead.create', target: 'https://example.com/put' },
    });
    const id = (c.json as { _id: string })._id;
    const secret = c.headers.get('x-hook-secret');
    const got = await api.call('GET', `/${P}/subscriptions/${id}`, { key });
    expect(got.status).toBe(200);
    expect(got.json).toMatchObject({ _id: id, event: 'lead.create' });
    expect(got.json).not.toHaveProperty('secret');

    const put = await api.call('PUT', `/${P}/subscriptions/${id}`, {
      key,
      body: {
        target: 'https://example.com/put2',
        secret: 'nope-nope-nope-nope',
        global: true,
        id_project: 'x',
      },
    });
    expect(put.status).toBe(200);
    expect(put.json).toMatchObject({
      _id: id,
      event: 'lead.create',
      target: 'https://example.com/put2',
      id_project: P,
    });
    const stored = await api.subscriptions.get(id);
    expect(stored).toMatchObject({ secret, global: false, idProject: P, target: 'https://example.com/put2' });

    const bad = await api.call('PUT', `/${P}/subscriptions/${id}`, { key, body: { target: 'ftp://x' } });
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ success: false, code: 'CONNECTOR_SUBSCRIPTION_INVALID' });
    expect((await api.subscriptions.get(id))?.target).toBe('https://example.com/put2');

    const other = await api.subscriptions.add({
      idProject: 'other',
      event: 'e.y',
      target: 'https://o.example/',
      createdBy: 't',
    });
    for (const method of ['GET', 'PUT', 'DELETE']) {
      const r = await api.call(method, `/${P}/subscriptions/${other.id}`, {
        key,
        ...(method === 'PUT' ? { body: { target: 'https://evil.example/' } } : {}),
      });
      expect(r.status).toBe(404);
      expect(r.json).toMatchObject({ success: false, code: 'CONNECTOR_SUBSCRIPTION_NOT_FOUND' });
    }
    expect(await api.subscriptions.get(other.id)).toMatchObject({ target: 'https://o.example/' });

    const del = await api.call('DELETE', `/${P}/subscriptions/${id}`, { key });
    expect(del.status).toBe(200);
    expect(del.json).toMatchObject({ _id: id, target: 'https://example.com/put2' });
    expect(await api.subscriptions.get(id)).toBeUndefined();
    expect((await api.call('GET', `/${P}/subscriptions/${id}`, { key })).status).toBe(404);
  });

  it('global subscriptions: only a platform caller may create one', async () => {
    const body = { event: 'request.create', target: 'https://example.com/global', global: true };
    const before = await rowCount();
    const denied = await api.call('POST', `/${P}/subscriptions`, { key, body });
    expect(denied.status).toBe(403);
    expect(denied.json).toMatchObject({ code: 'CONNECTOR_API_FORBIDDEN' });
    expect(await rowCount()).toBe(before);
    const ok = await api.call('POST', `/${P}/subscriptions`, { key: await api.platformKey(), body });
    expect(ok.status).toBe(200);
    expect(ok.json).toMatchObject({ global: true, id_project: P });
  });

  it('history: 40 rows a page, ?page=N passed 0-based', async () => {
    for (let i = 0; i < 45; i++) {
      api.memoryLog.add(
        deliveryView({ id: `msg_h${String(i).padStart(2, '0')}`, idProject: P, subscriptionId: 'x' }),
      );
    }
    const p0 = await api.call('GET', `/${P}/subscriptions/history`, { key });
    const p1 = await api.call('GET', `/${P}/subscriptions/history?page=1`, { key });
    expect(p0.status).toBe(200);
    expect((p0.json as unknown[]).length).toBe(40);
    expect((p1.json as unknown[]).length).toBe(5);
    expect(api.memoryLog.calls.filter((c) => c[0] === 'history').slice(-2)).toEqual([
      ['history', P, 0],
      ['history', P, 1],
    ]);
    expect((p1.json as Record<string, unknown>[])[0]).toMatchObject({ id_project: P, __v: 0 });
    expect((await api.call('GET', `/${P}/subscriptions/history?page=-1`, { key })).status).toBe(400);
    // 1,000 pages deep at most (OFFSET paging reads every page before the one asked for).
    expect((await api.call('GET', `/${P}/subscriptions/history?page=1000`, { key })).status).toBe(200);
    expect((await api.call('GET', `/${P}/subscriptions/history?page=1001`, { key })).status).toBe(400);
  });
});

describe('extension routes', () => {
  let id: string;
  beforeAll(async () => {
    const c = await api.call('POST', `/${P}/subscriptions`, {
      key,
      body: { event: 'message.create', target: 'https://example.com/ext' },
    });
    id = (c.json as { _id: string })._id;
    api.memoryLog.add(deliveryView({ id: 'msg_ext1', idProject: P, subscriptionId: id, status: 'failed' }), [
      attemptView({ attempt: 1 }),
      attemptView({ attempt: 2, statusCode: 502, responseExcerpt: 'bad gateway' }),
    ]);
    api.memoryLog.add(
      deliveryView({
        id: 'msg_ext2',
        idProject: P,
        subscriptionId: id,
        status: 'delivered',
        lastStatusCode: 200,
      }),
    );
  });

  it("deliveries: a page of the subscription's deliveries with the filters passed on", async () => {
    const r = await api.call(
      'GET',
      `/${P}/subscriptions/${id}/deliveries?status=failed&status_class=5xx&since=2026-01-01T00:00:00Z&until=2026-02-01&limit=10&cursor=abc`,
      { key },
    );
    expect(r.status).toBe(200);
    expect(r.json).toMatchObject({
      iterator: null,
      done: true,
      data: [{ id: 'msg_ext1', status: 'failed', subscription_id: id }],
    });
    expect(api.memoryLog.calls.filter((c) => c[0] === 'deliveries').at(-1)).toEqual([
      'deliveries',
      {
        idProject: P,
        subscriptionId: id,
        status: 'failed',
        statusClass: '5xx',
        since: new Date('2026-01-01T00:00:00Z'),
        until: new Date('2026-02-01T00:00:00Z'),
        limit: 10,
        before: 'abc',
      },
    ]);
    // A date-time without an offset is UTC, whatever the server's time zone.
    await api.call('GET', `/${P}/subscriptions/${id}/deliveries?since=2026-01-01T05:00`, { key });
    expect(api.memoryLog.calls.filter((c) => c[0] === 'deliveries').at(-1)?.[1]).toMatchObject({
      since: new Date('2026-01-01T05:00:00Z'),
    });
    for (const q of [
      'status=lost',
      'limit=0',
      'limit=251',
      'since=yesterday',
      'since=0000-01-01',
      'colour=red',
    ]) {
      const bad = await api.call('GET', `/${P}/subscriptions/${id}/deliveries?${q}`, { key });
      expect([q, bad.status, (bad.json as { code: string }).code]).toEqual([
        q,
        400,
        'CONNECTOR_API_BAD_REQUEST',
      ]);
    }
  });

  it("a delivery with its attempts; another project's delivery is 404", async () => {
    const r = await api.call('GET', `/${P}/deliveries/msg_ext1`, { key });
    expect(r.status).toBe(200);
    const d = r.json as { attempts: Record<string, unknown>[] };
    expect(d).toMatchObject({ id: 'msg_ext1', status: 'failed' });
    expect(d.attempts.map((a) => a.status_code)).toEqual([500, 502]);
    expect(d.attempts[1]).toMatchObject({
      attempt: 2,
      response_excerpt: 'bad gateway',
      duration_ms: 12.5,
      trigger: 'scheduled',
    });
    api.memoryLog.add(deliveryView({ id: 'msg_elsewhere', idProject: 'other', subscriptionId: 'y' }));
    const other = await api.call('GET', `/${P}/deliveries/msg_elsewhere`, { key });
    expect(other.status).toBe(404);
    expect(other.json).toMatchObject({ code: 'CONNECTOR_DELIVERY_NOT_FOUND' });
  });

  it('resend, recover, test answer 202 with what was queued', async () => {
    const resend = await api.call('POST', `/${P}/deliveries/msg_ext1/resend`, { key });
    expect(resend.status).toBe(202);
    expect(resend.json).toEqual({ id: 'msg_ext1', status: 'queued' });
    expect((await api.call('POST', `/${P}/deliveries/msg_elsewhere/resend`, { key, body: {} })).status).toBe(
      404,
    );

    const recover = await api.call('POST', `/${P}/subscriptions/${id}/recover`, {
      key,
      body: { since: '2026-01-01T00:00:00Z' },
    });
    expect(recover.status).toBe(202);
    expect(recover.json).toEqual({ queued: 1 });
    expect((await api.call('POST', `/${P}/subscriptions/${id}/recover`, { key, body: {} })).status).toBe(400);

    const test = await api.call('POST', `/${P}/subscriptions/${id}/test`, { key });
    expect(test.status).toBe(202);
    expect(test.json).toMatchObject({ id: expect.stringMatching(/^msg_/), status: 'queued' });
    expect(api.memoryLog.calls.filter((c) => c[0] === 'sendTest').at(-1)).toEqual(['sendTest', P, id]);
  });

  it('rotate-secret: a new secret once, the old one kept for the overlap', async () => {
    const old = (await api.subscriptions.get(id))!.secret;
    const r = await api.call('POST', `/${P}/subscriptions/${id}/rotate-secret`, {
      key,
      body: { overlapHours: 2 },
    });
    expect(r.status).toBe(200);
    const body = r.json as { secret: string; previous_secret_expires_at: string };
    expect(r.headers.get('x-hook-secret')).toBe(body.secret);
    const stored = (await api.subscriptions.get(id))!;
    expect(stored.secret).toBe(body.secret);
    expect(stored.previousSecret).toBe(old);
    const hours = (new Date(body.previous_secret_expires_at).getTime() - Date.now()) / 3_600_000;
    expect(hours).toBeGreaterThan(1.9);
    expect(hours).toBeLessThanOrEqual(2);
    const none = await api.call('POST', `/${P}/subscriptions/${id}/rotate-secret`, {
      key,
      body: { overlapHours: 0 },
    });
    expect((none.json as { previous_secret_expires_at: unknown }).previous_secret_expires_at).toBeNull();
  });

  it('disable and enable', async () => {
    const off = await api.call('POST', `/${P}/subscriptions/${id}/disable`, { key });
    expect(off.status).toBe(200);
    expect(off.json).toMatchObject({ enabled: false, disabled_reason: 'operator' });
    expect((await api.subscriptions.get(id))?.enabled).toBe(false);
    const on = await api.call('POST', `/${P}/subscriptions/${id}/enable`, { key, body: {} });
    expect(on.json).toMatchObject({ enabled: true, disabled_reason: null });
  });

  it('unknown fields are refused on extension routes, and nothing is written', async () => {
    const before = (await api.subscriptions.get(id))!;
    const r = await api.call('POST', `/${P}/subscriptions/${id}/rotate-secret`, {
      key,
      body: { overlapHours: 1, force: true },
    });
    expect(r.status).toBe(400);
    expect(r.json).toMatchObject({ success: false, code: 'CONNECTOR_API_BAD_REQUEST' });
    expect((await api.subscriptions.get(id))!.secret).toBe(before.secret);
  });
});

describe('bad input', () => {
  it('malformed JSON, wrong types, oversize bodies, wrong media type: a JSON error and no row', async () => {
    const before = await rowCount();
    const cases: [string, Parameters<TestApi['call']>[2], number, string][] = [
      ['malformed', { key, rawBody: '{"event": "a.b", ' }, 400, 'CONNECTOR_API_BAD_REQUEST'],
      ['empty', { key, rawBody: '' }, 400, 'CONNECTOR_API_BAD_REQUEST'],
      ['array', { key, body: [] }, 400, 'CONNECTOR_API_BAD_REQUEST'],
      [
        'number event',
        { key, body: { event: 1, target: 'https://e.example/' } },
        400,
        'CONNECTOR_API_BAD_REQUEST',
      ],
      ['missing target', { key, body: { event: 'a.b' } }, 400, 'CONNECTOR_API_BAD_REQUEST'],
      [
        'bad target',
        { key, body: { event: 'a.b', target: 'https://u:p@e.example/' } },
        400,
        'CONNECTOR_SUBSCRIPTION_INVALID',
      ],
      [
        'nul',
        { key, body: { event: 'a\u0000b', target: 'https://e.example/' } },
        400,
        'CONNECTOR_SUBSCRIPTION_INVALID',
      ],
      [
        'proto',
        { key, rawBody: '{"event":"a.b","target":"https://e.example/","__proto__":{"x":1}}' },
        400,
        'CONNECTOR_API_BAD_REQUEST',
      ],
      [
        'oversize',
        { key, body: { event: 'a.b', target: `https://e.example/${'x'.repeat(3_000)}` } },
        413,
        'CONNECTOR_API_PAYLOAD_TOO_LARGE',
      ],
      [
        'form',
        { key, rawBody: 'event=a', headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        415,
        'CONNECTOR_API_BAD_REQUEST',
      ],
    ];
    for (const [name, options, status, code] of cases) {
      const r = await api.call('POST', `/${P}/subscriptions`, options);
      expect([name, r.status, r.json]).toEqual([
        name,
        status,
        { success: false, code, msg: expect.any(String) },
      ]);
    }
    expect(await rowCount()).toBe(before);
  });

  it('an unknown route is a JSON 404', async () => {
    const r = await api.call('GET', '/nowhere', { key });
    expect(r.status).toBe(404);
    expect(r.json).toMatchObject({ success: false, code: 'CONNECTOR_API_NOT_FOUND' });
  });
});

describe('metrics', () => {
  it('count requests by route pattern (never the raw URL), method and status', async () => {
    await api.call('GET', `/${P}/subscriptions/0123456789abcdef01234567`, { key });
    const text = await api.registry.metrics();
    expect(text).toMatch(
      /webhook_connector_api_requests_total\{route="\/:projectid\/subscriptions\/:id",method="GET",status_code="404"\} [1-9]/,
    );
    expect(text).toMatch(
      /webhook_connector_api_request_duration_seconds_count\{route="\/:projectid\/subscriptions",method="POST"\} [1-9]/,
    );
    expect(text).toMatch(
      /webhook_connector_api_requests_total\{route="unmatched",method="GET",status_code="404"\}/,
    );
    expect(text).not.toContain(P);
    expect(text).not.toContain('0123456789abcdef01234567');
  });
});
