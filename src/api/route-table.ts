/**
 * The management API as data: each route's method, path, JSON schemas (params, query, body) and handler.
 * createApiApp registers this table with fastify (which validates with the same schemas) and
 * openapi.ts describes it, so the document cannot drift from what is served.
 */
import type { FastifyReply } from 'fastify';
import type { SubscriptionStore } from '../subscriptions/types.js';
import type { Caller } from './auth.js';
import type { DeliveryLogReader, ManualResends } from './store/types.js';

export type JsonSchema = Record<string, unknown>;

export interface RouteContext {
  readonly caller: Caller;
  readonly params: Record<string, string>;
  readonly query: Record<string, unknown>;
  readonly body: Record<string, unknown>;
  readonly reply: FastifyReply;
}

export interface RouteDeps {
  readonly subscriptions: SubscriptionStore;
  readonly log: DeliveryLogReader;
  readonly resends: ManualResends;
  readonly now: () => Date;
}

export interface ApiRoute {
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** fastify's pattern: `/:projectid/subscriptions/:id`. */
  readonly url: string;
  readonly operationId: string;
  readonly summary: string;
  readonly tag: 'Tiledesk subscriptions' | 'Extensions';
  readonly params: JsonSchema;
  readonly querystring?: JsonSchema;
  readonly body?: JsonSchema;
  /** False: a request without a body is taken as `{}`. */
  readonly bodyRequired?: boolean;
  /** A valid body (the OpenAPI example; the README and the cross-project test send it). */
  readonly example?: Record<string, unknown>;
  /** Status code → what it means (the success ones; errors are common to every route). */
  readonly responses: Readonly<Record<string, string>>;
  readonly handler: (ctx: RouteContext, deps: RouteDeps) => Promise<unknown>;
}

/** No control characters (Postgres text cannot hold NUL; none belongs in an id). */
const PRINTABLE = '^[^\\u0000-\\u001f\\u007f]+$';

export const idString = (description: string, maxLength = 256): JsonSchema => ({
  type: 'string',
  minLength: 1,
  maxLength,
  pattern: PRINTABLE,
  description,
});

export const projectParam = { projectid: idString('The project (Tiledesk id_project).') };
export const subscriptionParams = {
  type: 'object',
  required: ['projectid', 'id'],
  additionalProperties: false,
  properties: { ...projectParam, id: idString('The subscription id (`_id`).', 64) },
};
export const projectParams = {
  type: 'object',
  required: ['projectid'],
  additionalProperties: false,
  properties: projectParam,
};

/** `{}` with no field: the body of the POST actions that take none. */
export const emptyBody: JsonSchema = { type: 'object', additionalProperties: false, properties: {} };
