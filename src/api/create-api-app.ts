/**
 * The management API as a fastify app, from injected dependencies (no process.env, no listen): the
 * command (src/commands/api.ts) and the tests build it the same way.
 *
 * Per request: route matched → caller authenticated from the Authorization header and its access to the
 * path's project checked (before the body is read: a caller of another project gets 403 whatever it
 * sends) → body parsed (at most API_BODY_LIMIT_BYTES) and validated → handler. Bodies are validated
 * without type coercion (a number is not a string); path and query values are coerced (`?page=2`).
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from 'fastify';
import type { Logger } from '../logger.js';
import { ConnectorError, ErrorCode } from '../errors.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import type { SubscriptionStore } from '../subscriptions/types.js';
import { apiErrorReply } from './api-errors.js';
import { assertProjectAccess, type Authenticate, type Caller } from './auth.js';
import { extensionRoutes } from './extension-routes.js';
import { buildOpenApiDocument } from './openapi.js';
import type { ApiRoute, RouteDeps } from './route-table.js';
import type { DeliveryLogReader, ManualResends } from './store/types.js';
import { tiledeskRoutes } from './tiledesk-routes.js';

export const apiRoutes: readonly ApiRoute[] = [...tiledeskRoutes, ...extensionRoutes];

export interface ApiAppDeps {
  readonly logger: Logger;
  readonly authenticate: Authenticate;
  readonly subscriptions: SubscriptionStore;
  readonly log: DeliveryLogReader;
  readonly resends: ManualResends;
  readonly bodyLimitBytes: number;
  readonly metrics?: ApiMetrics;
  readonly now?: () => Date;
}

/** A route as fastify registered it (seen by its onRoute hook): what the OpenAPI test compares. */
export interface RegisteredRoute {
  readonly method: string;
  readonly url: string;
  readonly schema: Record<string, unknown> | undefined;
}

export interface ApiApp {
  readonly app: FastifyInstance;
  readonly registered: readonly RegisteredRoute[];
  readonly openApi: Record<string, unknown>;
}

interface RouteConfig {
  readonly api?: ApiRoute;
}

const callers = new WeakMap<FastifyRequest, Caller>();

export async function createApiApp(deps: ApiAppDeps): Promise<ApiApp> {
  const app = Fastify({
    loggerInstance: deps.logger.child({ component: 'api' }) as FastifyBaseLogger,
    bodyLimit: deps.bodyLimitBytes,
    exposeHeadRoutes: false,
    // Its 503 while closing has fastify's body, not this API's error shape: the hook below answers instead.
    return503OnClosing: false,
  });
  // A request that reaches the server once it is closing (pipelined, or on a busy keep-alive connection)
  // is not run: the stores may be closing behind it.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (_request, reply) => {
    if (!closing) return;
    const r = apiErrorReply(
      new ConnectorError(
        ErrorCode.API_SHUTTING_DOWN,
        'this instance is shutting down; send the request again',
      ),
    );
    return reply.code(r.status).header('connection', 'close').send(r.body);
  });
  const strict = new Ajv2020({ strict: true, allErrors: false, coerceTypes: false, useDefaults: false });
  const coercing = new Ajv2020({ strict: true, allErrors: false, coerceTypes: true, useDefaults: true });
  app.setValidatorCompiler(({ schema, httpPart }) =>
    (httpPart === 'body' ? strict : coercing).compile(schema),
  );

  // Tiledesk's clients send `Content-Type: application/json` on requests without a body (the telegram
  // connector's DELETE); express's body-parser, which Tiledesk runs, reads an empty body as none.
  const json = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    if (body === '') done(null, undefined);
    // Called with `done`, fastify's parser answers through it and returns nothing; the promise in its type
    // is the other (async) form of a body parser.
    else void json(request, body as string, done);
  });

  const registered: RegisteredRoute[] = [];
  app.addHook('onRoute', (r) => {
    for (const method of [r.method].flat()) {
      registered.push({ method, url: r.url, schema: r.schema as Record<string, unknown> | undefined });
    }
  });

  app.setErrorHandler((err, request, reply) => {
    const r = apiErrorReply(err);
    if (r.internal) request.log.error({ err }, 'request failed');
    void reply.code(r.status).send(r.body);
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({
      success: false,
      code: 'CONNECTOR_API_NOT_FOUND',
      msg: `no route ${request.method} ${request.url.split('?', 1)[0]} (see /openapi.json)`,
    });
  });
  if (deps.metrics !== undefined) {
    const metrics = deps.metrics;
    app.addHook('onResponse', async (request, reply) => {
      metrics.observe(
        request.routeOptions.url ?? 'unmatched',
        request.method,
        reply.statusCode,
        reply.elapsedTime / 1_000,
      );
    });
  }

  const openApi = buildOpenApiDocument(apiRoutes);
  const routeDeps: RouteDeps = {
    subscriptions: deps.subscriptions,
    log: deps.log,
    resends: deps.resends,
    now: deps.now ?? (() => new Date()),
  };

  for (const route of apiRoutes) {
    app.route({
      method: route.method,
      url: route.url,
      config: { api: route } satisfies RouteConfig,
      schema: {
        params: route.params,
        ...(route.querystring !== undefined ? { querystring: route.querystring } : {}),
        ...(route.body !== undefined ? { body: route.body } : {}),
      },
      onRequest: async (request) => {
        const caller = await deps.authenticate(request.headers.authorization);
        assertProjectAccess(caller, (request.params as { projectid: string }).projectid);
        callers.set(request, caller);
      },
      preValidation: async (request) => {
        // The POST actions that take no field may be sent without a body.
        if (request.body === undefined && route.body !== undefined && route.bodyRequired === false) {
          request.body = {};
        }
      },
      handler: async (request, reply) =>
        route.handler(
          {
            caller: callers.get(request)!,
            params: request.params as Record<string, string>,
            query: (request.query ?? {}) as Record<string, unknown>,
            body: (request.body ?? {}) as Record<string, unknown>,
            reply,
          },
          routeDeps,
        ),
    });
  }
  app.get('/openapi.json', async () => openApi);
  await app.ready();
  return { app, registered, openApi };
}
