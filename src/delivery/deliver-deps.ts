/** The delivery settings from configuration, shared by the service and the replay command. */
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { WebhookTransport } from '../transport/types.js';
import { USER_AGENT } from '../version.js';
import type { DeliverDeps } from './deliver.js';
import { createJwtSigner, type JwtAlgorithm, type JwtSigner } from './jwt.js';
import { PreparedSubscriptions } from './prepared-subscription.js';
import type { RetryPolicy } from './retry-policy.js';
import { OriginSlots } from './origin-slots.js';
import { Semaphore } from './semaphore.js';

export function retryPolicyFromConfig(c: Config): RetryPolicy {
  return {
    schedule: c.RETRY_SCHEDULE,
    jitter: c.RETRY_JITTER,
    retryAfterMaxMs: c.RETRY_AFTER_MAX_MS,
    inProcessMaxMs: c.RETRY_IN_PROCESS_MAX_MS,
  };
}

/**
 * Most attempts in flight to one origin: HTTP_CONNECTIONS_PER_ORIGIN, but at most a quarter of
 * DELIVERY_CONCURRENCY, so a few slow receivers cannot take every slot from the healthy ones.
 */
export function originLimitFromConfig(c: Config): number {
  return Math.max(1, Math.min(c.HTTP_CONNECTIONS_PER_ORIGIN, Math.floor(c.DELIVERY_CONCURRENCY / 4)));
}

/**
 * The key of global subscriptions' JWT, as Tiledesk chooses it: GLOBAL_SECRET_OR_PRIVATE_KEY with
 * GLOBAL_SECRET_ALGORITHM, else GLOBAL_SECRET (HS256), else none (each subscription's own secret).
 */
export function globalJwtSignerFromConfig(
  c: Pick<Config, 'GLOBAL_SECRET' | 'GLOBAL_SECRET_OR_PRIVATE_KEY' | 'GLOBAL_SECRET_ALGORITHM'>,
): JwtSigner | undefined {
  if (c.GLOBAL_SECRET_OR_PRIVATE_KEY !== '') {
    return createJwtSigner(c.GLOBAL_SECRET_ALGORITHM as JwtAlgorithm, c.GLOBAL_SECRET_OR_PRIVATE_KEY);
  }
  return c.GLOBAL_SECRET !== '' ? createJwtSigner('HS256', c.GLOBAL_SECRET) : undefined;
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
    prepared: new PreparedSubscriptions(() => d.clock.now(), globalJwtSignerFromConfig(c)),
    policy: retryPolicyFromConfig(c),
    clock: d.clock,
    random: d.random,
    slots: new Semaphore(c.DELIVERY_CONCURRENCY),
    originSlots: new OriginSlots(originLimitFromConfig(c)),
    userAgent: USER_AGENT,
    legacySecretHeader: c.LEGACY_SECRET_HEADER,
    onAttempt: d.onAttempt,
  };
}
