import { describe, expect, it } from '@jest/globals';
import type { InboundRecord, TiledeskEvent } from '../../../src/events/event.js';
import { hash53, hex14, messageKey, messageKeyOf } from '../../../src/delivery-log/message-key.js';

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
  it('is the record timestamp, partition and offset, then a 53-bit hash of topic and event id', () => {
    const e = event('ev-1', '{"a":1}');
    expect(messageKey(record, e)).toBe(
      `1700000000000-2-1234-${hash53('tiledesk.events\u0000ev-1').toString(16).padStart(14, '0')}`,
    );
    expect(messageKey(record, e)).toMatch(/^1700000000000-2-1234-[0-9a-f]{14}$/);
    expect(hash53('tiledesk.events\u0000ev-1')).toBeLessThan(2 ** 53);
  });

  it('sorts by record time: keys are inserted at the end of their index', () => {
    const keys = ['999', '1700000000000', '1700000000001', '1800000000000'].map((timestamp) =>
      messageKey({ ...record, timestamp }, event('ev-1', '{}')),
    );
    expect([...keys].sort()).toEqual(keys);
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

  it('keeps the keys already in the log: the same strings as the first implementation made', () => {
    // Values from the implementation that built `${topic}\0${eventId}` and used toString(16).
    expect(messageKeyOf('tiledesk.events', 2, '1234', '1700000000000', 'ev-1')).toBe(
      '1700000000000-2-1234-14e0be6d224906',
    );
    expect(messageKeyOf('t', 0, '0', '99', 'évènement-✓')).toBe('0000000000099-0-0-1361efc7eee5af');
  });

  it('gives each event object its own key, asked in any order', () => {
    const a = event('ev-a', '{}');
    const b = event('ev-b', '{}');
    const ka = messageKey(record, a);
    const kb = messageKey(record, b);
    expect(ka).not.toBe(kb);
    expect([messageKey(record, a), messageKey(record, b), messageKey(record, a)]).toEqual([ka, kb, ka]);
  });
});

describe('hex14', () => {
  it('is toString(16) padded to 14 digits for every 53-bit value', () => {
    const values = [0, 1, 0xff, 2 ** 32 - 1, 2 ** 32, 2 ** 52, 2 ** 53 - 1];
    for (let i = 0; i < 1_000; i++) values.push(Math.floor(Math.random() * 2 ** 53));
    for (const v of values) expect(hex14(v)).toBe(v.toString(16).padStart(14, '0'));
  });
});
