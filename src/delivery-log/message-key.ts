/**
 * The join key of the delivery log: one event of one record. md5 hex of `topic NUL partition NUL offset
 * NUL record timestamp NUL event id`: where the record is in the log, and when it was written there (a
 * topic deleted and created again reuses offsets, not record timestamps), and the event. Not the payload:
 * hashing ~1 KiB per event cost the delivery thread ~2 µs, and the record's place already names its bytes.
 * A record redelivered after a rebalance logs under the same key. Cached per event object: every delivery
 * of a fan-out shares it.
 */
import { hash } from 'node:crypto';
import type { InboundRecord, TiledeskEvent } from '../events/event.js';

const cache = new WeakMap<TiledeskEvent, string>();

/** The key from its parts (also the API's, for the events it logs itself: test events). */
export function messageKeyOf(
  topic: string,
  partition: number,
  offset: string,
  recordTimestamp: string,
  eventId: string,
): string {
  // One-shot hash (no Hash object): about half the CPU of createHash().update().digest() for a short input.
  return hash('md5', `${topic}\0${partition}\0${offset}\0${recordTimestamp}\0${eventId}`, 'hex');
}

export function messageKey(record: InboundRecord, event: TiledeskEvent): string {
  let key = cache.get(event);
  if (key === undefined) {
    key = messageKeyOf(record.topic, record.partition, record.offset, record.timestamp, event.id);
    cache.set(event, key);
  }
  return key;
}
