import { describe, expect, it } from '@jest/globals';
import { attemptRow, logsAttempt, messageRow, safeText } from '../../../src/delivery-log/rows.js';
import { messageKey } from '../../../src/delivery-log/message-key.js';
import type { AttemptContext } from '../../../src/delivery/deliver.js';
import type { Subscription } from '../../../src/subscriptions/types.js';

const sub = {
  id: 'sub-1',
  idProject: 'P1',
  event: 'request.create',
  target: 'https://crm.example.com/hooks',
  global: false,
} as Subscription;
const record = {
  topic: 't',
  partition: 0,
  offset: '7',
  timestamp: '1',
  key: null,
  value: null,
  headers: {},
};
const event = {
  id: 'e1',
  event: 'request.create',
  idProject: 'P1',
  timestamp: 1,
  payload: Buffer.from('{}'),
  encoding: 'json' as const,
};
const context: AttemptContext = {
  event,
  webhookId: 'msg_abc',
  sentAt: 1_700_000_000_000,
  origin: { record, trigger: 'manual' },
  exhausted: false,
};

describe('delivery log rows', () => {
  it('logs every attempt under all, only non-2xx ones under failures', () => {
    const ok = { kind: 'delivered', status: 200 } as const;
    const bad = { kind: 'retryable', reason: 'http_5xx', status: 503 } as const;
    expect([logsAttempt('all', ok), logsAttempt('all', bad)]).toEqual([true, true]);
    expect([logsAttempt('failures', ok), logsAttempt('failures', bad)]).toEqual([false, true]);
    expect([logsAttempt('off', ok), logsAttempt('off', bad)]).toEqual([false, false]);
  });

  it('turns an attempt into its row: status, duration, reason, error, excerpt as text', () => {
    const row = attemptRow(
      { kind: 'retryable', reason: 'http_5xx', status: 503, error: 'bad\u0000gateway' },
      {
        kind: 'response',
        status: 503,
        headers: {},
        durationMs: 12,
        excerpt: Buffer.from([0x6f, 0x6b, 0x00, 0xff, 0x21]),
      },
      3,
      sub,
      context,
      'host:1:abc',
    );
    expect(row).toEqual({
      attemptedAt: 1_700_000_000_000,
      webhookId: 'msg_abc',
      messageKey: messageKey(record, event),
      subscriptionId: 'sub-1',
      subscriptionGlobal: false,
      idProject: 'P1',
      eventName: 'request.create',
      target: 'https://crm.example.com/hooks',
      attempt: 3,
      trigger: 'manual',
      result: 'retryable',
      reason: 'http_5xx',
      statusCode: 503,
      durationMs: 12,
      error: 'bad\ufffdgateway',
      responseExcerpt: 'ok\ufffd\ufffd!',
      instance: 'host:1:abc',
    });
    expect(messageRow(row!, context)).toEqual({
      loggedAt: 1_700_000_000_000,
      messageKey: row!.messageKey,
      event,
      record,
    });
  });

  it('an answer with an empty body has an empty excerpt (the transport made none)', () => {
    const row = attemptRow(
      { kind: 'delivered', status: 204 },
      { kind: 'response', status: 204, headers: {}, durationMs: 2, excerpt: undefined },
      1,
      sub,
      context,
      'host:1:abc',
    );
    expect(row?.responseExcerpt).toBe('');
  });

  it('a network error has no status and no excerpt; a delivery without its record is not logged', () => {
    const outcome = { kind: 'retryable', reason: 'network', error: 'ECONNREFUSED' } as const;
    const result = { kind: 'error', code: 'ECONNREFUSED', message: 'x', durationMs: 1 } as const;
    expect(attemptRow(outcome, result, 1, sub, context, 'i')).toMatchObject({
      statusCode: null,
      responseExcerpt: null,
      error: 'ECONNREFUSED',
    });
    expect(attemptRow(outcome, result, 1, sub, { ...context, origin: undefined }, 'i')).toBeUndefined();
  });

  it('the last attempt of a delivery whose retries ran out has reason retries_exhausted', () => {
    const outcome = { kind: 'retryable', reason: 'http_5xx', status: 503 } as const;
    const result = { kind: 'response', status: 503, headers: {}, durationMs: 1 } as const;
    expect(attemptRow(outcome, result, 6, sub, { ...context, exhausted: true }, 'i')).toMatchObject({
      result: 'retryable',
      reason: 'retries_exhausted',
      statusCode: 503,
    });
    expect(attemptRow(outcome, result, 5, sub, context, 'i')).toMatchObject({ reason: 'http_5xx' });
  });

  it('replaces invalid UTF-8 and NUL in texts', () => {
    expect(safeText(Buffer.from([0xe2, 0x82]))).toBe('\ufffd');
    expect(safeText(Buffer.from('é\u0000'))).toBe('é\ufffd');
  });
});
