/**
 * Routes beyond Tiledesk's, shaped like Svix's: a subscription's deliveries and a delivery's attempts (from
 * the delivery log), resend, recover, rotate-secret, enable/disable, test. Unknown fields are refused
 * (additionalProperties false). Work that the connector's parked runner does later answers 202.
 */
import { ConnectorError, ErrorCode } from '../errors.js';
import { attemptJson, deliveryJson, subscriptionJson } from './api-json.js';
import {
  emptyBody,
  idString,
  projectParam,
  subscriptionParams,
  type ApiRoute,
  type JsonSchema,
} from './route-table.js';
import { projectSubscription } from './tiledesk-routes.js';
import type { DeliveryFilter } from './store/types.js';

const HOUR_MS = 3_600_000;
const DEFAULT_OVERLAP_HOURS = 24;

/** ISO 8601 date or date-time (UTC or with an offset; a date-time without one is UTC, like a date). */
const TIME_PATTERN = '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}(:\\d{2}(\\.\\d{1,9})?)?(Z|[+-]\\d{2}:\\d{2})?)?$';
const time = (description: string): JsonSchema => ({
  type: 'string',
  maxLength: 40,
  pattern: TIME_PATTERN,
  description: `${description} (ISO 8601, e.g. 2026-01-02T03:04:05Z).`,
});

/**
 * A time within what Postgres and a person mean (years 1970 to 9999); BAD_REQUEST otherwise. A date-time
 * without an offset is UTC (JavaScript would read it in the server's time zone).
 */
function parseTime(name: string, value: unknown): Date | undefined {
  if (value === undefined) return undefined;
  const text = value as string;
  const d = new Date(text.includes('T') && !/(Z|[+-]\d{2}:\d{2})$/.test(text) ? `${text}Z` : text);
  const ms = d.getTime();
  if (!Number.isFinite(ms) || ms < 0 || ms >= Date.UTC(10_000, 0, 1)) {
    throw new ConnectorError(
      ErrorCode.API_BAD_REQUEST,
      `${name} is not a valid time: ${JSON.stringify(value)}`,
    );
  }
  return d;
}

const deliveryParams = {
  type: 'object',
  required: ['projectid', 'deliveryId'],
  additionalProperties: false,
  properties: { ...projectParam, deliveryId: idString('The delivery id (its webhook-id, msg_...).', 128) },
};

const subscriptionAction = (
  name: string,
  operationId: string,
  summary: string,
  responses: Record<string, string>,
  handler: ApiRoute['handler'],
  body: Pick<ApiRoute, 'body' | 'bodyRequired' | 'example'> = { body: emptyBody, bodyRequired: false },
): ApiRoute => ({
  method: 'POST',
  url: `/:projectid/subscriptions/:id/${name}`,
  operationId,
  summary,
  tag: 'Extensions',
  params: subscriptionParams,
  ...body,
  responses,
  handler,
});

export const extensionRoutes: readonly ApiRoute[] = [
  {
    method: 'GET',
    url: '/:projectid/subscriptions/:id/deliveries',
    operationId: 'listDeliveries',
    summary: "The subscription's deliveries, newest first, a page at a time (`iterator` names the next).",
    tag: 'Extensions',
    params: subscriptionParams,
    querystring: {
      type: 'object',
      additionalProperties: false,
      properties: {
        status: { type: 'string', enum: ['delivered', 'failed', 'pending'] },
        status_class: { type: 'string', enum: ['2xx', '3xx', '4xx', '5xx', 'none'] },
        since: time('Only deliveries last attempted at or after this time'),
        until: time('Only deliveries last attempted before this time'),
        limit: { type: 'integer', minimum: 1, maximum: 250, default: 50 },
        cursor: idString('The `iterator` of the previous page.', 1024),
      },
    },
    responses: { '200': '`{data: [delivery], iterator: string|null, done: boolean}`.' },
    async handler({ caller, params, query }, d) {
      const s = await projectSubscription(d, caller, params.projectid!, params.id!);
      const since = parseTime('since', query.since);
      const until = parseTime('until', query.until);
      const filter: DeliveryFilter = {
        idProject: s.idProject,
        subscriptionId: s.id,
        limit: (query.limit as number | undefined) ?? 50,
        ...(query.status !== undefined ? { status: query.status as DeliveryFilter['status'] } : {}),
        ...(query.status_class !== undefined
          ? { statusClass: query.status_class as DeliveryFilter['statusClass'] }
          : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
        ...(query.cursor !== undefined ? { before: query.cursor as string } : {}),
      };
      const page = await d.log.deliveries(filter);
      return { data: page.items.map(deliveryJson), iterator: page.next, done: page.next === null };
    },
  },
  {
    method: 'GET',
    url: '/:projectid/deliveries/:deliveryId',
    operationId: 'getDelivery',
    summary: 'One delivery and every attempt of it (time, status code, duration, error, response excerpt).',
    tag: 'Extensions',
    params: deliveryParams,
    responses: { '200': 'The delivery with `attempts`, oldest first.' },
    async handler({ caller, params }, d) {
      const found = await d.log.delivery(params.projectid!, params.deliveryId!, caller.kind === 'platform');
      if (found === undefined) throw deliveryNotFound(params.projectid!, params.deliveryId!);
      return { ...deliveryJson(found.delivery), attempts: found.attempts.map(attemptJson) };
    },
  },
  {
    method: 'POST',
    url: '/:projectid/deliveries/:deliveryId/resend',
    operationId: 'resendDelivery',
    summary: 'Send a delivery again (same webhook-id), now; the connector makes the attempt.',
    tag: 'Extensions',
    params: deliveryParams,
    body: emptyBody,
    bodyRequired: false,
    responses: { '202': '`{id, status: "queued"}`.' },
    async handler({ caller, params, reply }, d) {
      const r = await d.resends.resend(params.projectid!, params.deliveryId!, caller.kind === 'platform');
      if (r === 'not_found') throw deliveryNotFound(params.projectid!, params.deliveryId!);
      reply.code(202);
      return { id: params.deliveryId, status: 'queued' };
    },
  },
  subscriptionAction(
    'recover',
    'recoverSubscription',
    'Send again every delivery of the subscription that failed since `since`.',
    { '202': '`{queued: n}`: how many deliveries were queued.' },
    async ({ caller, params, body, reply }, d) => {
      const s = await projectSubscription(d, caller, params.projectid!, params.id!);
      const since = parseTime('since', body.since)!;
      const queued = await d.resends.recover(s.idProject, s.id, since, caller.kind === 'platform');
      reply.code(202);
      return { queued };
    },
    {
      body: {
        type: 'object',
        required: ['since'],
        additionalProperties: false,
        properties: { since: time('Failed deliveries last attempted at or after this time') },
      },
      bodyRequired: true,
      example: { since: '2026-01-01T00:00:00Z' },
    },
  ),
  subscriptionAction(
    'rotate-secret',
    'rotateSubscriptionSecret',
    'A new secret (shown once, also in x-hook-secret); the old one keeps signing for `overlapHours` (default 24).',
    { '200': '`{secret, previous_secret_expires_at}`.' },
    async ({ caller, params, body, reply }, d) => {
      const s = await projectSubscription(d, caller, params.projectid!, params.id!);
      const hours = (body.overlapHours as number | undefined) ?? DEFAULT_OVERLAP_HOURS;
      const secret = await d.subscriptions.rotateSecret(s.id, Math.round(hours * HOUR_MS));
      const after = await projectSubscription(d, caller, s.idProject, s.id);
      reply.header('x-hook-secret', secret);
      return {
        secret,
        previous_secret_expires_at: after.previousSecretExpiresAt?.toISOString() ?? null,
      };
    },
    {
      body: {
        type: 'object',
        additionalProperties: false,
        properties: { overlapHours: { type: 'number', minimum: 0, maximum: 720 } },
      },
      bodyRequired: false,
      example: { overlapHours: 24 },
    },
  ),
  subscriptionAction(
    'enable',
    'enableSubscription',
    'Enable the subscription (clears why it was disabled).',
    { '200': 'The subscription.' },
    async ({ caller, params }, d) => {
      const s = await projectSubscription(d, caller, params.projectid!, params.id!);
      return subscriptionJson(await d.subscriptions.setEnabled(s.id, true));
    },
  ),
  subscriptionAction(
    'disable',
    'disableSubscription',
    'Disable the subscription (reason `operator`): no delivery is made until it is enabled.',
    { '200': 'The subscription.' },
    async ({ caller, params }, d) => {
      const s = await projectSubscription(d, caller, params.projectid!, params.id!);
      return subscriptionJson(await d.subscriptions.setEnabled(s.id, false));
    },
  ),
  subscriptionAction(
    'test',
    'testSubscription',
    "Send an example event of the subscription's event name through the normal signed path.",
    { '202': '`{id}`: the webhook-id of the test delivery.' },
    async ({ caller, params, reply }, d) => {
      const s = await projectSubscription(d, caller, params.projectid!, params.id!);
      const id = await d.resends.sendTest(s.idProject, s.id, caller.kind === 'platform');
      reply.code(202);
      return { id, status: 'queued' };
    },
  ),
];

function deliveryNotFound(idProject: string, id: string): ConnectorError {
  return new ConnectorError(
    ErrorCode.DELIVERY_NOT_FOUND,
    `no delivery with id ${JSON.stringify(id)} in project ${JSON.stringify(idProject)}`,
    { id },
  );
}
