/** The delivery settings from configuration, shared by the service and the replay command. */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { WebhookTransport } from '../transport/types.js';
import { USER_AGENT } from '../version.js';
import type { DeliverDeps } from './deliver.js';
import { PreparedSubscriptions } from './prepared-subscription.js';
import type { RetryPolicy } from './retry-policy.js';
import { OriginSlots } from './origin-slots.js';
import { Semaphore } from './semaphore.js';

export function retryPolicyFromConfig(c: Config): RetryPolicy {
  return {
    maxAttempts: c.DELIVERY_MAX_ATTEMPTS,
    initialDelayMs: c.RETRY_INITIAL_DELAY_MS,
    multiplier: c.RETRY_MULTIPLIER,
    maxDelayMs: c.RETRY_MAX_DELAY_MS,
    retryAfterMaxMs: c.RETRY_AFTER_MAX_MS,
  };
}

export function deliverDepsFromConfig(
  c: Config,
  d: {
    transport: WebhookTransport;
    clock: Clock;
    random: () => number;
    onAttempt?: DeliverDeps['onAttempt'];
  },
): DeliverDeps {
  return {
    transport: d.transport,
    prepared: new PreparedSubscriptions(() => d.clock.now()),
    policy: retryPolicyFromConfig(c),
    clock: d.clock,
    random: d.random,
    slots: new Semaphore(c.DELIVERY_CONCURRENCY),
    originSlots: new OriginSlots(Math.min(c.HTTP_CONNECTIONS_PER_ORIGIN, c.DELIVERY_CONCURRENCY)),
    userAgent: USER_AGENT,
    legacySecretHeader: c.LEGACY_SECRET_HEADER,
    onAttempt: d.onAttempt,
  };
}
