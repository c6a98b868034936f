import { describe, expect, it } from '@jest/globals';
import type { DeliveryOutcome } from '../../../src/delivery/deliver.js';
import { parkRequestFromOutcome } from '../../../src/parking/park-request.js';
import { inboundRecord, tiledeskEvent } from '../../support/record.js';

const record = inboundRecord();
const event = tiledeskEvent();

describe('parkRequestFromOutcome', () => {
  it('parks a far retry with its attempts, their times and the last answer', () => {
    const outcome: DeliveryOutcome = {
      kind: 'park',
      reason: 'retry',
      dueAt: 90_000,
      webhookId: 'msg_1',
      attempts: 3,
      lastStatus: 503,
      lastError: 'HTTP 503',
      firstAttemptAt: 1_000,
      lastAttemptAt: 9_000,
    };
    expect(parkRequestFromOutcome(record, event, 's1', 's1\u0000k', outcome)).toEqual({
      record,
      event,
      subscriptionId: 's1',
      webhookId: 'msg_1',
      lane: 's1\u0000k',
      reason: 'retry',
      attempts: 3,
      dueAt: 90_000,
      firstAttemptAt: 1_000,
      lastAttemptAt: 9_000,
      lastStatus: 503,
      lastError: 'HTTP 503',
    });
  });

  it('gives no attempt times when the breaker refused the first attempt', () => {
    const outcome: DeliveryOutcome = {
      kind: 'park',
      reason: 'circuit',
      dueAt: 30_000,
      webhookId: 'msg_2',
      attempts: 0,
      firstAttemptAt: 5_000,
      lastAttemptAt: 5_000,
    };
    const req = parkRequestFromOutcome(record, event, 's2', null, outcome);
    expect(req).toMatchObject({
      subscriptionId: 's2',
      lane: null,
      reason: 'circuit',
      attempts: 0,
      dueAt: 30_000,
    });
    expect(req.firstAttemptAt).toBeUndefined();
    expect(req.lastAttemptAt).toBeUndefined();
  });
});
