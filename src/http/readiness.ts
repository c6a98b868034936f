/**
 * The readiness rule behind /readyz and the `ready` gauge: ready to work means a member of the consumer
 * group *now*, the subscriptions loaded, and not paused for an outage of our own dependencies.
 *
 * "A member now": kafkajs keeps its group state through a broker outage and only drops it when it gives
 * up and crashes, which a hung broker (requests that time out after 30 s, retried) can delay for minutes.
 * The coordinator drops a member that sent no heartbeat for the session timeout, so that is the bound: no
 * successful heartbeat (or join) within it, and the instance is not in the group, whatever kafkajs says.
 */
import type { SubscriptionCacheState } from '../subscriptions/snapshot-freshness.js';

export interface ReadinessInputs {
  /** The consumer joined the group and has not crashed or stopped since. */
  readonly joined: boolean;
  /** Since the last successful heartbeat or join (Infinity: never). */
  readonly groupContactAgeMs: number;
  readonly sessionTimeoutMs: number;
  readonly subscriptions: SubscriptionCacheState;
  /** Dependencies down, for which consumption is paused. */
  readonly outages: readonly string[];
}

export interface Readiness {
  readonly ready: boolean;
  readonly detail: Record<string, unknown>;
}

export function readinessOf(i: ReadinessInputs): Readiness {
  const inGroup = i.joined && i.groupContactAgeMs <= i.sessionTimeoutMs;
  const reasons: string[] = [];
  if (!i.joined) reasons.push('not joined to the consumer group');
  else if (!inGroup) {
    reasons.push(`no heartbeat answered for longer than the session timeout (${i.sessionTimeoutMs} ms)`);
  }
  if (i.subscriptions === 'unavailable') reasons.push('subscriptions not loaded');
  for (const dep of i.outages) reasons.push(`paused: ${dep} outage`);
  return {
    ready: reasons.length === 0,
    detail: {
      joined: inGroup,
      lastGroupContactMsAgo: Number.isFinite(i.groupContactAgeMs) ? Math.round(i.groupContactAgeMs) : null,
      subscriptions: i.subscriptions,
      outages: [...i.outages],
      ...(reasons.length > 0 ? { reasons } : {}),
    },
  };
}
