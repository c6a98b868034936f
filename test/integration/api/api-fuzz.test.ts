/**
 * Property-based fuzzing (fast-check) of every registered route: random path values, query strings,
 * bodies (any JSON, the route's own fields with values of any type, raw bytes) and content types, sent
 * over HTTP to the real server on a real Postgres. The server never answers 5xx, and every refusal is
 * the JSON error shape with a stable code.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { startTestApi, type TestApi } from '../../support/api-server.js';
import { deliveryView } from '../../support/memory-delivery-log.js';

const P = 'fuzz-project';
let api: TestApi;
let key: string;
let subscriptionId: string;
const RUNS = Number(process.env.API_FUZZ_RUNS ?? 60);

beforeAll(async () => {
  api = await startTestApi('api_fuzz', { bodyLimitBytes: 4_096 });
  key = await api.projectKey(P);
  subscriptionId = (
    await api.subscriptions.add({
      idProject: P,
      event: 'request.create',
      target: 'https://f.example/',
      createdBy: 'f',
    })
  ).id;
  api.memoryLog.add(deliveryView({ id: 'msg_fuzz', idProject: P, subscriptionId }));
});
afterAll(() => api.stop());

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    ' ',
    '%00',
    '\u0000',
    '..',
    '%',
    '%zz',
    '-1',
    '1e309',
    'null',
    '{}',
    '[]',
    '2026-13-45',
  ),
);
const anyValue = fc.oneof(fc.jsonValue({ maxDepth: 3 }), text, fc.integer(), fc.double(), fc.boolean());

describe('fuzzed requests', () => {
  it('never produce a 5xx, on any route', async () => {
    const routes = api.api.registered;
    const doc = (await api.call('GET', '/openapi.json')).json as {
      paths: Record<
        string,
        Record<
          string,
          {
            parameters: { name: string; in: string }[];
            requestBody?: {
              content: { 'application/json': { schema: { properties?: Record<string, unknown> } } };
            };
          }
        >
      >;
    };
    let requests = 0;
    for (const route of routes) {
      const op = doc.paths[route.url.replace(/:([A-Za-z]+)/g, '{$1}')]![route.method.toLowerCase()]!;
      const queryNames = op.parameters.filter((p) => p.in === 'query').map((p) => p.name);
      const fields = Object.keys(op.requestBody?.content['application/json'].schema.properties ?? {});
      const param = (name: string): fc.Arbitrary<string> =>
        fc.oneof(
          fc.constant(name === 'projectid' ? P : name === 'id' ? subscriptionId : 'msg_fuzz'),
          text.filter((s) => s !== ''),
        );
      const body = fc.oneof(
        fc.constant(undefined),
        fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
        fc
          .dictionary(fc.constantFrom(...fields, 'extra', '__proto__', 'constructor'), anyValue)
          .map((v) => JSON.stringify(v)),
        fc.string({ unit: 'binary', maxLength: 60 }),
        fc.constant(JSON.stringify({ pad: 'x'.repeat(5_000) })),
      );
      const query = fc.dictionary(fc.constantFrom(...queryNames, 'page', 'x'), text, { maxKeys: 4 });
      const contentType = fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'application/octet-stream',
      );
      await fc.assert(
        fc.asyncProperty(
          fc.record({ projectid: param('projectid'), id: param('id'), deliveryId: param('deliveryId') }),
          query,
          body,
          contentType,
          async (params, q, b, ct) => {
            const path = route.url.replace(/:([A-Za-z]+)/g, (_m, n: string) =>
              encodeURIComponent(params[n as keyof typeof params]),
            );
            const qs = new URLSearchParams(q).toString();
            requests += 1;
            const r = await api.call(route.method, `${path}${qs === '' ? '' : `?${qs}`}`, {
              key,
              ...(b !== undefined && route.method !== 'GET'
                ? { rawBody: b, headers: { 'content-type': ct } }
                : {}),
            });
            if (r.status >= 500) {
              throw new Error(`${route.method} ${path}?${qs} ${String(b)} → ${r.status} ${r.text}`);
            }
            if (r.status >= 400) {
              expect(r.json).toEqual({
                success: false,
                code: expect.stringMatching(/^CONNECTOR_[A-Z_]+$/),
                msg: expect.any(String),
              });
            }
          },
        ),
        { numRuns: RUNS },
      );
    }
    expect(requests).toBeGreaterThanOrEqual(routes.length * RUNS);
  });
});
