/**
 * The join key of the delivery log: one event of one record. `<record timestamp>-<partition>-<offset>-<h>`:
 * the record timestamp (epoch ms, 13 digits), where the record is in its topic, and `h`, a 53-bit hash of
 * the topic and the event id (14 hex digits). Where the record is and when it was written there name its
 * bytes (a topic deleted and created again reuses offsets, not record timestamps); the hash tells apart
 * topics and the API's own test events, which share one place.
 *
 * Why this shape: the key is indexed, and keys that start with the time are inserted at the right edge of
 * the index, on pages Postgres has in memory; an md5 hex key landed on a random page of an index that
 * grows all day. And no OpenSSL call per event: `crypto.hash` cost the delivery thread ~6 µs per event
 * under load (bench/README.md "Delivery log"). The hash is not a cryptographic one; the part a producer
 * cannot choose (timestamp, partition, offset) is in the key as it is, so two events can only share a key
 * if they share a place in a topic. Keys written before this shape (md5 hex) still join their own rows.
 *
 * A record redelivered after a rebalance logs under the same key. The last event's key is kept: the
 * deliveries of a fan-out ask for it one after the other (a WeakMap entry per event cost more than making
 * the key again).
 */
import type { InboundRecord, TiledeskEvent } from '../events/event.js';

/** The last event asked for and its key: a fan-out's deliveries of one event ask one after the other. */
let lastEvent: TiledeskEvent | undefined;
let lastKey = '';

/** The key from its parts (also the API's, for the events it logs itself: test events). */
export function messageKeyOf(
  topic: string,
  partition: number,
  offset: string,
  recordTimestamp: string,
  eventId: string,
): string {
  const ts = recordTimestamp.length >= 13 ? recordTimestamp : recordTimestamp.padStart(13, '0');
  return `${ts}-${partition}-${offset}-${hex14(hash53Of(topic, eventId))}`;
}

export function messageKey(record: InboundRecord, event: TiledeskEvent): string {
  if (event !== lastEvent) {
    lastKey = messageKeyOf(record.topic, record.partition, record.offset, record.timestamp, event.id);
    lastEvent = event;
  }
  return lastKey;
}

/** cyrb53 (public domain, bryc): a fast 53-bit string hash, the same on every instance. */
export function hash53(s: string): number {
  return hash53Of(s, undefined);
}

/** hash53 of `${a}\0${b}` (of `a` alone when `b` is undefined), without building that string. */
function hash53Of(a: string, b: string | undefined): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < a.length; i++) {
    const c = a.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  if (b !== undefined) {
    // The separator, char code 0.
    h1 = Math.imul(h1, 2654435761);
    h2 = Math.imul(h2, 1597334677);
    for (let i = 0; i < b.length; i++) {
      const c = b.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A 53-bit number as 14 hex digits: `h.toString(16).padStart(14, '0')`, without a double-to-text conversion. */
export function hex14(h: number): string {
  const hi = Math.floor(h / 4294967296);
  const lo = h >>> 0;
  return (
    HEX[(hi >>> 16) & 0xff]! +
    HEX[(hi >>> 8) & 0xff]! +
    HEX[hi & 0xff]! +
    HEX[lo >>> 24]! +
    HEX[(lo >>> 16) & 0xff]! +
    HEX[(lo >>> 8) & 0xff]! +
    HEX[lo & 0xff]!
  );
}
