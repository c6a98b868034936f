import { describe, expect, it } from '@jest/globals';
import {
  buildDeadLetterRecord,
  dlqHeaders,
  headerString,
  type DeadLetterInfo,
} from '../../../src/dead-letter/dead-letter-record.js';
import type { InboundRecord } from '../../../src/events/event.js';

const SECRET = 'whsec_c3VwZXItc2VjcmV0LXN1YnNjcmlwdGlvbi1rZXk=';

const original: InboundRecord = {
  topic: 'tiledesk.events',
  partition: 4,
  offset: '98765',
  timestamp: '1772366400123',
  key: Buffer.from('proj-42'),
  value: Buffer.from('{"event":"request.create","timestamp":1,"payload":{"x":"é"}}'),
  headers: {
    traceparent: Buffer.from('00-abc-def-01'),
    'content-type': 'application/json',
    multi: [Buffer.from('one'), Buffer.from('two')],
    gone: undefined,
  },
};

const failedDelivery: DeadLetterInfo = {
  reason: 'retries_exhausted',
  error: 'HTTP 503',
  eventId: 'evt-1',
  event: 'request.create',
  subscriptionId: 'sub-1',
  target: 'https://crm.example.com/hooks',
  webhookId: 'msg_abc',
  attempts: 6,
  lastStatus: 503,
  firstAttemptAt: Date.parse('2026-03-01T12:00:00.000Z'),
  lastAttemptAt: Date.parse('2026-03-01T12:03:21.500Z'),
};

const str = (v: unknown): string => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

describe('buildDeadLetterRecord', () => {
  it('keeps the key and value byte for byte', () => {
    const r = buildDeadLetterRecord(original, failedDelivery);
    expect(Buffer.compare(r.key!, original.key!)).toBe(0);
    expect(Buffer.compare(r.value!, original.value!)).toBe(0);
    const keyless = buildDeadLetterRecord({ ...original, key: null, value: null }, { reason: 'empty' });
    expect(keyless.key).toBeNull();
    expect(keyless.value).toBeNull();
  });

  it('keeps the original headers', () => {
    const r = buildDeadLetterRecord(original, failedDelivery);
    expect(str(r.headers.traceparent)).toBe('00-abc-def-01');
    expect(r.headers['content-type']).toBe('application/json');
    expect((r.headers.multi as Buffer[]).map(str)).toEqual(['one', 'two']);
    expect(r.headers).not.toHaveProperty('gone');
  });

  it('adds dlq-* headers describing a failed delivery', () => {
    const h = buildDeadLetterRecord(original, failedDelivery).headers;
    expect(
      Object.fromEntries(
        Object.entries(h)
          .filter(([k]) => k.startsWith('dlq-'))
          .map(([k, v]) => [k, str(v)]),
      ),
    ).toEqual({
      'dlq-reason': 'retries_exhausted',
      'dlq-error': 'HTTP 503',
      'dlq-event': 'request.create',
      'dlq-event-id': 'evt-1',
      'dlq-subscription-id': 'sub-1',
      'dlq-target': 'https://crm.example.com/hooks',
      'dlq-webhook-id': 'msg_abc',
      'dlq-attempts': '6',
      'dlq-last-status': '503',
      'dlq-first-attempt-at': '2026-03-01T12:00:00.000Z',
      'dlq-last-attempt-at': '2026-03-01T12:03:21.500Z',
      'dlq-original-topic': 'tiledesk.events',
      'dlq-original-partition': '4',
      'dlq-original-offset': '98765',
      'dlq-original-timestamp': '1772366400123',
    });
  });

  it('describes a poison record without subscription headers', () => {
    const h = buildDeadLetterRecord(original, {
      reason: 'invalid',
      error: '/timestamp must be integer',
    }).headers;
    expect(headerString(h, 'dlq-reason')).toBe('invalid');
    expect(headerString(h, 'dlq-error')).toBe('/timestamp must be integer');
    expect(headerString(h, 'dlq-original-offset')).toBe('98765');
    for (const absent of [
      'dlq-subscription-id',
      'dlq-target',
      'dlq-attempts',
      'dlq-last-status',
      'dlq-webhook-id',
    ]) {
      expect(h).not.toHaveProperty(absent);
    }
  });

  it('truncates a long error to 500 characters', () => {
    const h = buildDeadLetterRecord(original, { reason: 'network', error: 'e'.repeat(5_000) }).headers;
    expect(str(h['dlq-error'])).toHaveLength(500);
  });

  it('replaces the dlq-* headers of a record dead-lettered before (a failed replay), keeping one set', () => {
    const first = buildDeadLetterRecord(original, failedDelivery);
    const replayedRecord: InboundRecord = {
      topic: 'tiledesk.events.dlq',
      partition: 0,
      offset: '7',
      timestamp: '1772370000000',
      key: first.key,
      value: first.value,
      headers: { ...first.headers, 'dlq-stale-extra': 'old' },
    };
    const second = buildDeadLetterRecord(replayedRecord, {
      reason: 'http_4xx',
      subscriptionId: 'sub-1',
      attempts: 1,
      lastStatus: 410,
    });
    const h = second.headers;
    expect(str(h['dlq-reason'])).toBe('http_4xx');
    expect(str(h['dlq-attempts'])).toBe('1');
    expect(str(h['dlq-last-status'])).toBe('410');
    expect(str(h['dlq-original-topic'])).toBe('tiledesk.events.dlq');
    expect(h).not.toHaveProperty('dlq-stale-extra');
    expect(h).not.toHaveProperty('dlq-error'); // the old error does not survive
    expect(h).not.toHaveProperty('dlq-webhook-id');
    expect(str(h.traceparent)).toBe('00-abc-def-01');
  });

  it('never carries the subscription secret', () => {
    const r = buildDeadLetterRecord(original, failedDelivery);
    const everything = [
      ...Object.keys(r.headers),
      ...Object.values(r.headers).flatMap((v) => (Array.isArray(v) ? v.map(str) : [str(v)])),
      str(r.key),
      str(r.value),
    ].join('\n');
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain('c3VwZXItc2VjcmV0');
  });

  it('only adds headers that are documented', () => {
    const h = buildDeadLetterRecord(original, failedDelivery).headers;
    const added = Object.keys(h).filter((k) => k.startsWith('dlq-'));
    for (const name of added) expect(Object.keys(dlqHeaders)).toContain(name);
  });
});

describe('headerString', () => {
  it('reads Buffer, string and repeated headers', () => {
    const headers = { a: Buffer.from('x'), b: 'y', c: [Buffer.from('first'), 'second'], d: undefined };
    expect(headerString(headers, 'a')).toBe('x');
    expect(headerString(headers, 'b')).toBe('y');
    expect(headerString(headers, 'c')).toBe('first');
    expect(headerString(headers, 'd')).toBeUndefined();
    expect(headerString(headers, 'missing')).toBeUndefined();
  });
});
