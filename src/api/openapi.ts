/**
 * The OpenAPI 3.1 document of the management API, built from the route table that fastify serves (the
 * same JSON schemas validate requests), so every route is described as it is checked. JSON Schema in
 * OpenAPI 3.1 is plain JSON Schema 2020-12: the route schemas go in unchanged.
 */
import { VERSION } from '../version.js';
import type { ApiRoute, JsonSchema } from './route-table.js';

/** `/:projectid/subscriptions/:id` → `/{projectid}/subscriptions/{id}`. */
export const openApiPath = (url: string): string => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

const errorResponse = { $ref: '#/components/responses/Error' };

function parameters(route: ApiRoute): JsonSchema[] {
  const out: JsonSchema[] = [];
  const add = (where: 'path' | 'query', schema: JsonSchema | undefined): void => {
    const props = (schema?.properties ?? {}) as Record<string, JsonSchema>;
    const required = new Set((schema?.required ?? []) as string[]);
    for (const [name, s] of Object.entries(props)) {
      const { description, ...rest } = s;
      out.push({
        name,
        in: where,
        required: where === 'path' || required.has(name),
        ...(description !== undefined ? { description } : {}),
        schema: rest,
      });
    }
  };
  add('path', route.params);
  add('query', route.querystring);
  return out;
}

export function buildOpenApiDocument(routes: readonly ApiRoute[]): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of routes) {
    const path = (paths[openApiPath(r.url)] ??= {});
    const responses: Record<string, unknown> = {};
    for (const [status, description] of Object.entries(r.responses)) responses[status] = { description };
    for (const status of ['400', '401', '403', '404', '413']) responses[status] = errorResponse;
    path[r.method.toLowerCase()] = {
      operationId: r.operationId,
      summary: r.summary,
      tags: [r.tag],
      parameters: parameters(r),
      ...(r.body !== undefined
        ? {
            requestBody: {
              required: r.bodyRequired !== false,
              content: {
                'application/json': {
                  schema: r.body,
                  ...(r.example !== undefined ? { example: r.example } : {}),
                },
              },
            },
          }
        : {}),
      responses,
    };
  }
  paths['/openapi.json'] = {
    get: {
      operationId: 'openApiDocument',
      summary: 'This document.',
      tags: ['Meta'],
      security: [],
      parameters: [],
      responses: { '200': { description: 'The OpenAPI 3.1 document.' } },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'tiledesk-webhook-connector management API',
      version: VERSION,
      description:
        "Tiledesk's subscription routes (routes/subscription.js) and extensions: a subscription's deliveries and their attempts, resend, recover, rotate-secret, enable/disable, test.",
    },
    security: [{ apiKey: [] }, { basic: [] }, { jwt: [] }],
    components: {
      securitySchemes: {
        apiKey: { type: 'http', scheme: 'bearer', description: 'An API key `whk_<id>_<secret>`, or a JWT.' },
        basic: { type: 'http', scheme: 'basic', description: 'Any user name, the API key as password.' },
        jwt: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: "`JWT <token>` (Tiledesk's scheme): a JWT issued by the platform.",
        },
      },
      responses: {
        Error: {
          description: 'A refused or failed request.',
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['success', 'code', 'msg'],
                properties: {
                  success: { const: false },
                  code: { type: 'string', pattern: '^CONNECTOR_' },
                  msg: { type: 'string' },
                },
              },
            },
          },
        },
      },
    },
    paths,
  };
}
