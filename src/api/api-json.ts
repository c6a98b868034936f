/**
 * What the management API answers: subscriptions in Tiledesk's JSON shape (its Mongoose document:
 * `_id`, `event`, `target`, `id_project`, `createdBy`, `createdAt`, `updatedAt`, `__v`) plus additive
 * fields of this service (`enabled`, `ordering`, `disabled_reason`, `disabled_at`,
 * `previous_secret_expires_at`); deliveries and attempts in snake case like Svix's message attempts.
 * The secret appears only where Tiledesk shows it: the answer to a create (and a rotate-secret).
 */
import type { Subscription, SubscriptionInfo } from '../subscriptions/types.js';
import type { AttemptView, DeliveryView } from './store/types.js';

const iso = (d: Date | null): string | null => (d === null ? null : d.toISOString());

export function subscriptionJson(s: SubscriptionInfo): Record<string, unknown> {
  return {
    _id: s.id,
    event: s.event,
    target: s.target,
    id_project: s.idProject,
    createdBy: s.createdBy,
    createdAt: iso(s.createdAt),
    updatedAt: iso(s.updatedAt),
    __v: 0,
    enabled: s.enabled,
    ordering: s.ordering,
    disabled_reason: s.disabledReason,
    disabled_at: iso(s.disabledAt),
    previous_secret_expires_at: iso(s.previousSecretExpiresAt),
  };
}

/** The answer to a create: Tiledesk's saved document, which carries `secret` and `global`. */
export function createdSubscriptionJson(s: Subscription): Record<string, unknown> {
  return { ...subscriptionJson(s), secret: s.secret, global: s.global };
}

export function deliveryJson(d: DeliveryView): Record<string, unknown> {
  return {
    id: d.id,
    subscription_id: d.subscriptionId,
    id_project: d.idProject,
    event: d.event,
    event_id: d.eventId,
    status: d.status,
    attempts: d.attempts,
    last_attempt_at: iso(d.lastAttemptAt),
    last_status_code: d.lastStatusCode,
    next_attempt_at: iso(d.nextAttemptAt),
  };
}

export function attemptJson(a: AttemptView): Record<string, unknown> {
  return {
    attempted_at: iso(a.attemptedAt),
    attempt: a.attempt,
    trigger: a.trigger,
    result: a.result,
    reason: a.reason,
    status_code: a.statusCode,
    duration_ms: a.durationMs,
    error: a.error,
    response_excerpt: a.responseExcerpt,
    instance: a.instance,
    target: a.target,
  };
}
