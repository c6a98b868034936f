/**
 * /openapi.json describes exactly the routes fastify serves: every registered route (seen by fastify's
 * onRoute hook, not read from our route table) is in the document with its method, path parameters,
 * query parameters and request body schema, and every operation of the document is registered.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { openApiPath } from '../../../src/api/openapi.js';
import { startTestApi, type TestApi } from '../../support/api-server.js';

let api: TestApi;
type Operation = {
  parameters: { name: string; in: string; required: boolean; schema: Record<string, unknown> }[];
  requestBody?: { content: { 'application/json': { schema: unknown } } };
};
let doc: { openapi: string; paths: Record<string, Record<string, Operation>> };

beforeAll(async () => {
  api = await startTestApi('api_openapi');
  const r = await api.call('GET', '/openapi.json');
  expect(r.status).toBe(200);
  doc = r.json as typeof doc;
});
afterAll(() => api.stop());

const withoutDescription = (s: Record<string, unknown>): Record<string, unknown> => {
  // eslint-disable-next-line @typescript-eslint/no-unused-vars
  const { description: _d, ...rest } = s;
  return rest;
};

describe('/openapi.json', () => {
  it('is OpenAPI 3.1, served without credentials', () => {
    expect(doc.openapi).toBe('3.1.0');
  });

  it('has every registered route with its method, params, query and body schema', () => {
    expect(api.api.registered.length).toBeGreaterThanOrEqual(15);
    for (const route of api.api.registered) {
      const op = doc.paths[openApiPath(route.url)]?.[route.method.toLowerCase()];
      expect([route.method, route.url, op !== undefined]).toEqual([route.method, route.url, true]);
      const schema = (route.schema ?? {}) as Record<
        string,
        { properties?: Record<string, Record<string, unknown>> }
      >;
      const inPath = op!.parameters.filter((p) => p.in === 'path');
      const pathNames = [...route.url.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]);
      expect(inPath.map((p) => p.name)).toEqual(pathNames);
      for (const p of inPath) {
        expect(p.required).toBe(true);
        expect(p.schema).toEqual(withoutDescription(schema.params!.properties![p.name]!));
      }
      const inQuery = op!.parameters.filter((p) => p.in === 'query');
      expect(inQuery.map((p) => p.name)).toEqual(Object.keys(schema.querystring?.properties ?? {}));
      for (const p of inQuery) {
        expect(p.schema).toEqual(withoutDescription(schema.querystring!.properties![p.name]!));
      }
      expect(op!.requestBody?.content['application/json'].schema).toEqual(schema.body);
    }
  });

  it('has no operation that is not registered', () => {
    const registered = new Set(api.api.registered.map((r) => `${r.method} ${openApiPath(r.url)}`));
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(documented.filter((d) => !registered.has(d))).toEqual([]);
    expect(documented.length).toBe(registered.size);
  });
});
