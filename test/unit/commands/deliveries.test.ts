import { describe, expect, it } from '@jest/globals';
import { ErrorCode, isConnectorError } from '../../../src/errors.js';
import { parseDeliveriesArgs, runDeliveriesCommand } from '../../../src/commands/deliveries.js';
import type { DeliveryAdmin, DeliveryRow } from '../../../src/parking/pg-delivery-admin.js';

function usageError(argv: string[]): string {
  try {
    parseDeliveriesArgs(argv);
  } catch (err) {
    if (isConnectorError(err, ErrorCode.USAGE)) return err.message;
    throw err;
  }
  throw new Error(`expected a USAGE error for ${JSON.stringify(argv)}`);
}

describe('parseDeliveriesArgs', () => {
  it('parses list with its defaults and filters, and retry-now', () => {
    expect(parseDeliveriesArgs(['list'])).toEqual({ kind: 'list', limit: 50 });
    expect(parseDeliveriesArgs(['list', '--subscription', 'abc', '--state', 'dead', '--limit=1000'])).toEqual(
      { kind: 'list', subscriptionId: 'abc', state: 'dead', limit: 1000 },
    );
    expect(parseDeliveriesArgs(['retry-now', '42'])).toEqual({ kind: 'retry-now', id: '42' });
    expect(parseDeliveriesArgs(['retry-now', '9223372036854775807'])).toEqual({
      kind: 'retry-now',
      id: '9223372036854775807',
    });
    expect(parseDeliveriesArgs(['-h'])).toEqual({ kind: 'help' });
  });

  it('rejects bad ids, states and limits with USAGE and the usage text', () => {
    expect(usageError([])).toMatch(/missing command[\s\S]*Usage: webhook-connector deliveries/);
    expect(usageError(['purge'])).toContain('unknown command "purge"');
    expect(usageError(['list', '--state', 'failed'])).toContain(
      '--state must be parked, delivered, dead, got "failed"',
    );
    for (const bad of ['0', '-1', '1001', '1.5', 'ten', '']) {
      expect(usageError(['list', `--limit=${bad}`])).toContain(
        '--limit must be a whole number from 1 to 1000',
      );
    }
    expect(usageError(['list', '--subscription', ''])).toContain('--subscription must be a subscription ID');
    expect(usageError(['list', '--subscription', 'a\nb'])).toContain('--subscription must be');
    expect(usageError(['list', 'extra'])).toContain('unexpected argument "extra"');
    expect(usageError(['list', '--bogus'])).toContain("'--bogus'");
    expect(usageError(['retry-now'])).toContain('expected exactly one delivery ID');
    expect(usageError(['retry-now', '1', '2'])).toContain('expected exactly one delivery ID');
    for (const bad of ['0', '01', 'abc', '1e3', '9223372036854775808', '99999999999999999999']) {
      expect(usageError(['retry-now', bad])).toContain('a delivery ID is a positive whole number');
    }
  });
});

describe('runDeliveriesCommand', () => {
  const row: DeliveryRow = {
    id: '7',
    subscriptionId: 'sub1',
    webhookId: 'msg_abc',
    state: 'parked',
    reason: 'retry',
    attempts: 3,
    dueAt: new Date('2026-12-06T13:00:00.000Z'),
    finishedAt: null,
    createdAt: new Date('2026-12-06T12:00:00.000Z'),
    leaseOwner: null,
    leaseUntil: null,
    lastStatus: 503,
    lastError: 'Service\nUnavailable',
    subscriptionEnabled: false,
  };

  async function run(argv: string[], rows: DeliveryRow[]): Promise<{ lines: string[]; calls: unknown[] }> {
    const lines: string[] = [];
    const calls: unknown[] = [];
    const admin: DeliveryAdmin = {
      list: async (filter) => (calls.push(['list', filter]), rows),
      retryNow: async (id) => (calls.push(['retryNow', id]), rows[0]!),
    };
    await runDeliveriesCommand(argv, { admin, out: (l) => lines.push(l) });
    return { lines, calls };
  }

  it('list prints a table: the reason, attempts, due or finished time, last status and error on one line', async () => {
    const dead: DeliveryRow = {
      ...row,
      id: '8',
      state: 'dead',
      reason: 'exhausted',
      finishedAt: new Date('2026-12-06T14:00:00.000Z'),
      lastStatus: null,
      lastError: null,
    };
    const { lines, calls } = await run(['list', '--state', 'parked'], [row, dead]);
    expect(calls).toEqual([['list', { subscriptionId: undefined, state: 'parked', limit: 50 }]]);
    expect(lines[0]).toMatch(
      /^ID\s+SUBSCRIPTION\s+WEBHOOK-ID\s+STATE\s+REASON\s+ATTEMPTS\s+DUE\/FINISHED\s+LAST$/,
    );
    expect(lines[1]).toMatch(
      /^7\s+sub1\s+msg_abc\s+parked\s+retry\s+3\s+2026-12-06T13:00:00.000Z\s+HTTP 503 Service Unavailable$/,
    );
    expect(lines[2]).toMatch(/^8\s+sub1\s+msg_abc\s+dead\s+exhausted\s+3\s+2026-12-06T14:00:00.000Z\s+-$/);
    expect((await run(['list'], [])).lines).toEqual(['no deliveries']);
  });

  it('retry-now says the delivery is due, and when its subscription is disabled', async () => {
    const { lines, calls } = await run(['retry-now', '7'], [row]);
    expect(calls).toEqual([['retryNow', '7']]);
    expect(lines).toEqual([
      'delivery 7 (subscription sub1, webhook-id msg_abc) is due now',
      'Subscription sub1 is disabled: the delivery waits until it is enabled.',
    ]);
  });
});
