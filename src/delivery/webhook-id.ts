/**
 * The delivery's idempotency key (`webhook-id`): a hash of (event id, subscription id), so it is the same on
 * every attempt, after restarts and rebalances, and in a replay; header-safe whatever the ids contain.
 */
import { hash } from 'node:crypto';

export function webhookId(eventId: string, subscriptionId: string): string {
  // One-shot hash (no Hash object): the same digest as update(eventId), update('\0'), update(subscriptionId).
  return `msg_${hash('sha256', `${eventId}\u0000${subscriptionId}`, 'base64url').slice(0, 32)}`;
}
