/**
 * Tiledesk's own subscription routes (tiledesk-server routes/subscription.js), same paths, methods, bodies
 * and answers, so Tiledesk's dashboard and clients work unchanged. Differences, on purpose (README
 * "Management API"): GET/PUT/DELETE by id act only on a subscription of the project in the path (Tiledesk
 * does not check); PUT changes only `event` and `target` (Tiledesk writes the whole body, upserting); a
 * missing id answers 404. Unknown body fields are ignored, as Mongoose's strict mode does.
 */
import { ConnectorError, ErrorCode, isConnectorError } from '../errors.js';
import type { Subscription } from '../subscriptions/types.js';
import { createdSubscriptionJson, subscriptionJson } from './api-json.js';
import type { Caller } from './auth.js';
import { projectParams, subscriptionParams, type ApiRoute, type RouteDeps } from './route-table.js';

/**
 * The subscription `id` of project `idProject`, with secrets; SUBSCRIPTION_NOT_FOUND otherwise. A global
 * subscription receives every project's events: only a platform caller sees or acts on it, even under the
 * project it was created in.
 */
export async function projectSubscription(
  d: RouteDeps,
  caller: Caller,
  idProject: string,
  id: string,
): Promise<Subscription> {
  const s = await d.subscriptions.get(id);
  // Another project's subscription is "not found", never "forbidden": its existence is not revealed.
  if (s === undefined || s.idProject !== idProject || (s.global && caller.kind !== 'platform')) {
    throw new ConnectorError(
      ErrorCode.SUBSCRIPTION_NOT_FOUND,
      `no subscription with id ${JSON.stringify(id)} in project ${JSON.stringify(idProject)}`,
      { id },
    );
  }
  return s;
}

const isDuplicate = (err: unknown): boolean =>
  isConnectorError(err, ErrorCode.SUBSCRIPTION_INVALID) &&
  (err.cause as { code?: unknown } | undefined)?.code === '23505';

const subscriptionFields = {
  event: {
    type: 'string',
    maxLength: 256,
    description: 'Event name, matched exactly (e.g. request.create).',
  },
  target: { type: 'string', maxLength: 2048, description: 'http(s) URL the events are POSTed to.' },
};

export const tiledeskRoutes: readonly ApiRoute[] = [
  {
    method: 'POST',
    url: '/:projectid/subscriptions',
    operationId: 'createSubscription',
    summary:
      'Subscribe a target to an event. The answer (and its x-hook-secret header) carries the secret; a duplicate (project, event, target) answers the existing subscription.',
    tag: 'Tiledesk subscriptions',
    params: projectParams,
    body: {
      type: 'object',
      required: ['event', 'target'],
      properties: {
        ...subscriptionFields,
        global: {
          type: 'boolean',
          description: 'Receive the event of every project (platform callers only).',
        },
      },
    },
    bodyRequired: true,
    example: { event: 'request.create', target: 'https://example.com/hooks/tiledesk' },
    responses: { '200': 'The saved subscription, with `secret` (also in the `x-hook-secret` header).' },
    async handler({ caller, params, body, reply }, d) {
      const global = body.global === true;
      if (global && caller.kind !== 'platform') {
        throw new ConnectorError(
          ErrorCode.API_FORBIDDEN,
          'only a platform caller may create a global subscription',
        );
      }
      const key = {
        idProject: params.projectid!,
        event: body.event as string,
        target: body.target as string,
      };
      let s: Subscription | undefined;
      try {
        s = await d.subscriptions.add({ ...key, createdBy: caller.who, global });
      } catch (err) {
        if (!isDuplicate(err)) throw err;
        s = await d.subscriptions.findByKey(key.idProject, key.event, key.target);
        if (s === undefined) throw err; // deleted in between: the conflict stands
        // The existing one is answered (with its secret) only when it is what was asked for: never a
        // global one to a project caller, nor a project one to a request for a global one.
        if (s.global !== global) {
          throw new ConnectorError(
            ErrorCode.SUBSCRIPTION_INVALID,
            `a ${s.global ? 'global' : 'project'} subscription with this event and target exists in project ${JSON.stringify(key.idProject)}`,
          );
        }
      }
      // http://resthooks.org/docs/security/, as Tiledesk does.
      reply.header('x-hook-secret', s.secret);
      return createdSubscriptionJson(s);
    },
  },
  {
    method: 'GET',
    url: '/:projectid/subscriptions',
    operationId: 'listSubscriptions',
    summary: "The project's subscriptions (without secrets).",
    tag: 'Tiledesk subscriptions',
    params: projectParams,
    responses: { '200': 'An array of subscriptions.' },
    async handler({ caller, params }, d) {
      return (await d.subscriptions.list({ idProject: params.projectid! }))
        .filter((s) => !s.global || caller.kind === 'platform')
        .map(subscriptionJson);
    },
  },
  {
    method: 'GET',
    url: '/:projectid/subscriptions/history',
    operationId: 'subscriptionHistory',
    summary:
      "The project's delivery attempts in Tiledesk's SubscriptionLog shape, 40 per page, newest first.",
    tag: 'Tiledesk subscriptions',
    params: projectParams,
    querystring: {
      type: 'object',
      properties: {
        // 1,000 pages (40,000 attempts) deep at most: each page reads the ones before it (OFFSET paging, as
        // Tiledesk's); deeper, the deliveries route pages by cursor.
        page: {
          type: 'integer',
          minimum: 0,
          maximum: 1_000,
          default: 0,
          description: '0-based page (≤ 1000).',
        },
      },
    },
    responses: { '200': 'An array of SubscriptionLog rows.' },
    async handler({ caller, params, query }, d) {
      return d.log.history(params.projectid!, query.page as number, caller.kind === 'platform');
    },
  },
  {
    method: 'GET',
    url: '/:projectid/subscriptions/:id',
    operationId: 'getSubscription',
    summary: 'One subscription of the project (without its secret).',
    tag: 'Tiledesk subscriptions',
    params: subscriptionParams,
    responses: { '200': 'The subscription.' },
    async handler({ caller, params }, d) {
      return subscriptionJson(await projectSubscription(d, caller, params.projectid!, params.id!));
    },
  },
  {
    method: 'PUT',
    url: '/:projectid/subscriptions/:id',
    operationId: 'updateSubscription',
    summary: "Change a subscription's event and/or target; other fields are ignored.",
    tag: 'Tiledesk subscriptions',
    params: subscriptionParams,
    body: { type: 'object', properties: subscriptionFields },
    bodyRequired: true,
    example: { target: 'https://example.com/hooks/tiledesk-v2' },
    responses: { '200': 'The updated subscription (without its secret).' },
    async handler({ caller, params, body }, d) {
      const s = await projectSubscription(d, caller, params.projectid!, params.id!);
      const change = {
        ...(typeof body.event === 'string' ? { event: body.event } : {}),
        ...(typeof body.target === 'string' ? { target: body.target } : {}),
      };
      if (Object.keys(change).length === 0) return subscriptionJson(s);
      return subscriptionJson(await d.subscriptions.update(s.id, change));
    },
  },
  {
    method: 'DELETE',
    url: '/:projectid/subscriptions/:id',
    operationId: 'deleteSubscription',
    summary: 'Delete a subscription; answers it as it was.',
    tag: 'Tiledesk subscriptions',
    params: subscriptionParams,
    responses: { '200': 'The deleted subscription (without its secret).' },
    async handler({ caller, params }, d) {
      const s = await projectSubscription(d, caller, params.projectid!, params.id!);
      await d.subscriptions.remove(s.id);
      return subscriptionJson(s);
    },
  },
];
