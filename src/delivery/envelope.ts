/**
 * Tiledesk's webhook body `{hook, timestamp, payload, token}`, in Tiledesk's key order, as UTF-8 bytes.
 * Assembled from pre-encoded parts — the prefix (`{"hook":…,"timestamp":`) and suffix (`,"token":"…"}`)
 * per subscription, the payload bytes per event — so it is byte-identical on every attempt and costs one
 * buffer and three copies per delivery: no string is built, flattened or UTF-8 encoded on the way (the
 * body can wait for a slot, and a body kept as a heap string would be promoted and cost GC time).
 */
import type { TiledeskEvent } from '../events/event.js';
import type { PreparedSubscription } from './prepared-subscription.js';

/** The parts of a subscription's envelope that do not depend on the event. */
export interface EnvelopeParts {
  /** `{"hook":<hook JSON>,"timestamp":` */
  readonly envelopePrefix: Buffer;
  /** `,"token":"<JWT>"}` */
  readonly envelopeSuffix: Buffer;
}

const PAYLOAD_KEY = Buffer.from(',"payload":', 'latin1');

export function envelopeParts(hookJson: string, token: string): EnvelopeParts {
  return {
    envelopePrefix: Buffer.from(`{"hook":${hookJson},"timestamp":`, 'utf8'),
    envelopeSuffix: Buffer.from(`,"token":${JSON.stringify(token)}}`, 'utf8'),
  };
}

export function buildEnvelope(sub: PreparedSubscription, event: TiledeskEvent): Buffer {
  const ts = String(event.timestamp); // a JSON number: ASCII digits (validated as a number)
  const { envelopePrefix: prefix, envelopeSuffix: suffix } = sub;
  const body = Buffer.allocUnsafe(
    prefix.length + ts.length + PAYLOAD_KEY.length + event.payload.length + suffix.length,
  );
  let at = prefix.copy(body, 0);
  at += body.write(ts, at, 'latin1');
  at += PAYLOAD_KEY.copy(body, at);
  at += event.payload.copy(body, at);
  suffix.copy(body, at);
  return body;
}
