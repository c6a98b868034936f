/**
 * The delivery's idempotency key (`webhook-id`): a hash of (event id, subscription id), so it is the same on
 * every attempt, after restarts and rebalances, and in a replay; header-safe whatever the ids contain.
 */
import { createHash } from 'node:crypto';

export function webhookId(eventId: string, subscriptionId: string): string {
  return `msg_${createHash('sha256').update(eventId).update('\u0000').update(subscriptionId).digest('base64url').slice(0, 32)}`;
}
