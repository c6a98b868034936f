/**
 * Tiledesk's webhook body `{hook, timestamp, payload, token}`, in Tiledesk's key order, as UTF-8 bytes.
 * Assembled from pre-encoded parts — the prefix (`{"hook":…,"timestamp":`) per subscription, the suffix
 * (`,"token":"…"}`) per subscription and second of event time, the payload bytes per event — so it is
 * byte-identical on every attempt and costs one buffer and three copies per delivery: no string is built,
 * flattened or UTF-8 encoded on the way (the body can wait for a slot, and a body kept as a heap string
 * would be promoted and cost GC time).
 */
import type { TiledeskEvent } from '../events/event.js';

const PAYLOAD_KEY = Buffer.from(',"payload":', 'latin1');

/** A subscription's pre-encoded parts of the body (prepared-subscription.ts builds and caches them). */
export interface EnvelopeParts {
  /** `{"hook":<hook JSON>,"timestamp":` */
  readonly envelopePrefix: Buffer;
  /** `,"token":"<JWT issued at iatSec>"}` */
  envelopeSuffix(iatSec: number): Buffer;
}

/** The JWT's `iat` for an event: its time in whole seconds. */
export function issuedAtOf(event: TiledeskEvent): number {
  return Math.floor(event.timestamp / 1000);
}

/** `{"hook":<hook JSON>,"timestamp":` */
export function envelopePrefix(hookJson: string): Buffer {
  return Buffer.from(`{"hook":${hookJson},"timestamp":`, 'utf8');
}

/** `,"token":"<JWT>"}` */
export function envelopeSuffix(token: string): Buffer {
  return Buffer.from(`,"token":${JSON.stringify(token)}}`, 'utf8');
}

export function buildEnvelope(sub: EnvelopeParts, event: TiledeskEvent): Buffer {
  const ts = String(event.timestamp); // a JSON number: ASCII digits (validated as a number)
  const prefix = sub.envelopePrefix;
  const suffix = sub.envelopeSuffix(issuedAtOf(event));
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
