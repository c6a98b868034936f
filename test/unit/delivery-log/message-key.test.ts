import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { InboundRecord, TiledeskEvent } from '../../../src/events/event.js';
import { messageKey } from '../../../src/delivery-log/message-key.js';

const record: InboundRecord = {
  topic: 'tiledesk.events',
  partition: 2,
  offset: '1234',
  timestamp: '1700000000000',
  key: null,
  value: null,
  headers: {},
};
const event = (id: string, payload: string): TiledeskEvent => ({
  id,
  event: 'request.create',
  idProject: 'P1',
  timestamp: 1_700_000_000_000,
  payload: Buffer.from(payload),
  encoding: 'json',
});

describe('messageKey', () => {
  it('is md5 hex of topic, partition, offset, record timestamp and event id (NUL-separated)', () => {
    const e = event('ev-1', '{"a":1}');
    const want = createHash('md5')
      .update(Buffer.from('tiledesk.events\u00002\u00001234\u00001700000000000\u0000ev-1'))
      .digest('hex');
    expect(messageKey(record, e)).toBe(want);
    expect(messageKey(record, e)).toMatch(/^[0-9a-f]{32}$/);
  });

  it('differs when any part differs, and fields cannot shift into each other', () => {
    const base = messageKey(record, event('ev-1', '{}'));
    expect(messageKey({ ...record, offset: '1235' }, event('ev-1', '{}'))).not.toBe(base);
    expect(messageKey({ ...record, partition: 3 }, event('ev-1', '{}'))).not.toBe(base);
    expect(messageKey(record, event('ev-2', '{}'))).not.toBe(base);
    expect(messageKey({ ...record, timestamp: '1700000000001' }, event('ev-1', '{}'))).not.toBe(base);
    expect(messageKey({ ...record, topic: 'a' }, event('b', '{}'))).not.toBe(
      messageKey({ ...record, topic: 'a\u00002' }, event('b', '{}')),
    );
  });

  it('is the same for equal events given as different objects (a redelivered record)', () => {
    expect(messageKey(record, event('ev-1', 'x'))).toBe(messageKey({ ...record }, event('ev-1', 'x')));
  });
});
