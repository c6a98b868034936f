/**
 * The join key of the delivery log: one event of one record. md5 hex of `topic NUL partition NUL offset
 * NUL eventId NUL` then the payload bytes — the same fields as webhook_events' unique key, so a record
 * redelivered after a rebalance logs under the same key. Cached per event object: every delivery of a
 * fan-out shares it.
 */
import { createHash } from 'node:crypto';
import type { InboundRecord } from '../dead-letter/dead-letter-record.js';
import type { TiledeskEvent } from '../events/event.js';

const cache = new WeakMap<TiledeskEvent, string>();

export function messageKey(record: InboundRecord, event: TiledeskEvent): string {
  let key = cache.get(event);
  if (key === undefined) {
    key = createHash('md5')
      .update(`${record.topic}\0${record.partition}\0${record.offset}\0${event.id}\0`)
      .update(event.payload)
      .digest('hex');
    cache.set(event, key);
  }
  return key;
}
