/**
 * Tiledesk's webhook body `{hook, timestamp, payload, token}`, in Tiledesk's key order. Built from
 * pre-serialised parts (hook JSON per subscription, payload JSON per event), so it is byte-identical on every
 * attempt and costs one string concatenation per delivery.
 */
import type { TiledeskEvent } from '../events/event.js';
import type { PreparedSubscription } from './prepared-subscription.js';

export function buildEnvelope(sub: PreparedSubscription, event: TiledeskEvent): string {
  return `{"hook":${sub.hookJson},"timestamp":${event.timestamp},"payload":${event.payloadJson},"token":${JSON.stringify(sub.token)}}`;
}
