import { describe, expect, it } from '@jest/globals';
import { apiRoutes } from '../../../src/api/create-api-app.js';
import { buildOpenApiDocument, openApiPath } from '../../../src/api/openapi.js';

describe('OpenAPI document', () => {
  it('turns fastify patterns into OpenAPI paths', () => {
    expect(openApiPath('/:projectid/subscriptions/:id/rotate-secret')).toBe(
      '/{projectid}/subscriptions/{id}/rotate-secret',
    );
  });

  it('has unique operation ids and an example that is a valid body for every route with a body', () => {
    const doc = buildOpenApiDocument(apiRoutes) as {
      paths: Record<string, Record<string, { operationId: string }>>;
    };
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    expect(new Set(ids).size).toBe(ids.length);
    for (const r of apiRoutes) {
      if (r.bodyRequired === true) {
        expect([r.operationId, r.example !== undefined]).toEqual([r.operationId, true]);
      }
    }
  });
});
