import { describe, expect, it } from '@jest/globals';
import { ErrorCode, isConnectorError } from '../../../src/errors.js';
import type { ReplayFilter } from '../../../src/dead-letter/replay.js';
import { parseSubscriptionsArgs, runSubscriptionsCommand } from '../../../src/commands/subscriptions.js';
import type { NewSubscription, SubscriptionStore } from '../../../src/subscriptions/types.js';
import { subscription } from '../../support/subscription.js';

function usageError(argv: string[]): string {
  try {
    parseSubscriptionsArgs(argv);
  } catch (err) {
    if (isConnectorError(err, ErrorCode.USAGE)) return err.message;
    throw err;
  }
  throw new Error(`expected a USAGE error for ${JSON.stringify(argv)}`);
}

describe('parseSubscriptionsArgs', () => {
  it('parses add with its defaults', () => {
    expect(
      parseSubscriptionsArgs([
        'add',
        '--project',
        'P',
        '--event',
        'request.create',
        '--target',
        'https://x.example/h',
      ]),
    ).toEqual({
      kind: 'add',
      idProject: 'P',
      event: 'request.create',
      target: 'https://x.example/h',
      global: false,
      createdBy: 'cli',
      ordering: 'concurrent',
    });
    expect(
      parseSubscriptionsArgs([
        'add',
        '--global',
        '--target=https://x.example',
        '--event',
        'e',
        '--project',
        'P',
        '--created-by',
        'ops',
        '--ordered',
      ]),
    ).toMatchObject({ global: true, createdBy: 'ops', target: 'https://x.example', ordering: 'ordered' });
  });

  it('parses set-ordering and enable --recover-since (ISO time or a duration back from now)', () => {
    const now = Date.parse('2026-12-06T12:00:00.000Z');
    expect(parseSubscriptionsArgs(['set-ordering', 'abc', 'ordered'])).toEqual({
      kind: 'set-ordering',
      id: 'abc',
      ordering: 'ordered',
    });
    expect(parseSubscriptionsArgs(['set-ordering', 'abc', 'concurrent'])).toMatchObject({
      ordering: 'concurrent',
    });
    expect(parseSubscriptionsArgs(['enable', 'abc', '--recover-since', '2h'], now)).toEqual({
      kind: 'enable',
      id: 'abc',
      recoverSince: now - 7_200_000,
    });
    expect(parseSubscriptionsArgs(['enable', 'abc', '--recover-since=90m'], now)).toMatchObject({
      recoverSince: now - 5_400_000,
    });
    expect(parseSubscriptionsArgs(['enable', 'abc', '--recover-since', '1.5d'], now)).toMatchObject({
      recoverSince: now - 129_600_000,
    });
    expect(
      parseSubscriptionsArgs(['enable', '--recover-since', '2026-12-06T10:30:00Z', 'abc'], now),
    ).toMatchObject({ id: 'abc', recoverSince: Date.parse('2026-12-06T10:30:00Z') });
  });

  it('parses list, remove, enable, disable and rotate-secret', () => {
    expect(parseSubscriptionsArgs(['list'])).toEqual({ kind: 'list' });
    expect(parseSubscriptionsArgs(['list', '--project', 'P'])).toEqual({ kind: 'list', idProject: 'P' });
    expect(parseSubscriptionsArgs(['remove', 'abc'])).toEqual({ kind: 'remove', id: 'abc' });
    expect(parseSubscriptionsArgs(['enable', 'abc'])).toEqual({ kind: 'enable', id: 'abc' });
    expect(parseSubscriptionsArgs(['disable', 'abc'])).toEqual({ kind: 'disable', id: 'abc' });
    expect(parseSubscriptionsArgs(['rotate-secret', 'abc'])).toEqual({
      kind: 'rotate-secret',
      id: 'abc',
      overlapHours: 24,
    });
    expect(parseSubscriptionsArgs(['rotate-secret', 'abc', '--overlap-hours', '0.5'])).toEqual({
      kind: 'rotate-secret',
      id: 'abc',
      overlapHours: 0.5,
    });
    expect(parseSubscriptionsArgs(['--help'])).toEqual({ kind: 'help' });
  });

  it('rejects bad usage with USAGE and the usage text', () => {
    expect(usageError([])).toMatch(/missing command[\s\S]*Usage: webhook-connector subscriptions/);
    expect(usageError(['frobnicate'])).toContain('unknown command "frobnicate"');
    expect(usageError(['add', '--event', 'e', '--target', 'https://x.example'])).toContain(
      '--project is required',
    );
    expect(
      usageError(['add', '--project', 'P', '--event', 'e', '--target', 'https://x', '--bogus']),
    ).toContain("'--bogus'");
    expect(usageError(['add', '--project', '--event', 'e'])).toContain('Usage:');
    expect(usageError(['list', 'extra'])).toContain('unexpected argument "extra"');
    expect(usageError(['remove'])).toContain('expected exactly one subscription ID');
    expect(usageError(['enable', 'a', 'b'])).toContain('expected exactly one subscription ID');
    expect(usageError(['rotate-secret', 'a', '--overlap-hours=-1'])).toContain(
      '--overlap-hours must be a number >= 0',
    );
    expect(usageError(['rotate-secret', 'a', '--overlap-hours', 'soon'])).toContain('--overlap-hours');
    expect(usageError(['set-ordering', 'a'])).toContain('expected a subscription ID and an ordering');
    expect(usageError(['set-ordering', 'a', 'fifo'])).toContain(
      'ordering must be concurrent or ordered, got "fifo"',
    );
    expect(
      usageError(['add', '--project', 'P', '--event', 'e', '--target', 'https://x', '--ordered=yes']),
    ).toContain('Usage:');
    for (const bad of ['', 'yesterday', '2', '-2h', '2 h', '2w', '12/06/2026']) {
      expect(usageError(['enable', 'a', `--recover-since=${bad}`])).toContain(
        '--recover-since must be an ISO 8601 time',
      );
    }
    expect(usageError(['enable', 'a', '--recover-since', '2999-01-01T00:00:00Z'])).toContain(
      '--recover-since is in the future',
    );
  });
});

describe('runSubscriptionsCommand', () => {
  const created = subscription({
    id: '0123456789abcdef01234567',
    idProject: 'P',
    target: 'https://x.example/h',
    secret: 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
    createdBy: 'cli',
    createdAt: new Date('2026-01-02T03:04:05.000Z'),
    updatedAt: new Date('2026-01-02T03:04:05.000Z'),
  });

  function fakeStore(calls: unknown[]): SubscriptionStore {
    const fail = (): never => {
      throw new Error('not used');
    };
    return {
      add: async (input: NewSubscription) => (calls.push(['add', input]), created),
      list: async (filter) => (
        calls.push(['list', filter]),
        [{ ...created, secret: undefined, previousSecret: undefined }]
      ),
      get: async () => ({ ...created, previousSecretExpiresAt: new Date('2026-01-03T00:00:00.000Z') }),
      remove: async (id) => void calls.push(['remove', id]),
      setEnabled: async (id, enabled, reason) => (
        calls.push(reason === undefined ? ['setEnabled', id, enabled] : ['setEnabled', id, enabled, reason]),
        created
      ),
      setOrdering: async (id, ordering) => (calls.push(['setOrdering', id, ordering]), created),
      rotateSecret: async (id, overlapMs) => (calls.push(['rotateSecret', id, overlapMs]), 'whsec_NEW'),
      findByKey: fail,
      update: fail,
      loadEnabled: fail,
      loadByIds: fail,
    };
  }

  async function run(
    argv: string[],
    recovered: { delivered: number; failed: number } = { delivered: 0, failed: 0 },
  ): Promise<{ lines: string[]; calls: unknown[] }> {
    const lines: string[] = [];
    const calls: unknown[] = [];
    await runSubscriptionsCommand(argv, {
      store: fakeStore(calls),
      out: (l) => lines.push(l),
      nowMs: Date.parse('2026-12-06T12:00:00.000Z'),
      recoverDeadLetters: async (filter: ReplayFilter) => {
        calls.push(['recover', filter]);
        return { read: 9, matched: 5, skipped: 4, parked: 0, ...recovered };
      },
    });
    return { lines, calls };
  }

  it('add prints the secret once with a warning', async () => {
    const { lines, calls } = await run([
      'add',
      '--project',
      'P',
      '--event',
      'request.create',
      '--target',
      'https://x.example/h',
    ]);
    expect(calls).toEqual([
      [
        'add',
        {
          idProject: 'P',
          event: 'request.create',
          target: 'https://x.example/h',
          global: false,
          createdBy: 'cli',
          ordering: 'concurrent',
        },
      ],
    ]);
    expect(lines.filter((l) => l.includes(created.secret))).toHaveLength(1);
    expect(lines.join('\n')).toMatch(/will not be shown again/);
  });

  it('list prints a table without secrets', async () => {
    const { lines, calls } = await run(['list', '--project', 'P']);
    expect(calls).toEqual([['list', { idProject: 'P' }]]);
    expect(lines[0]).toMatch(/^ID\s+PROJECT\s+EVENT\s+TARGET\s+GLOBAL\s+ENABLED\s+ORDERING/);
    expect(lines[1]).toContain(created.id);
    expect(lines.join('\n')).not.toContain('whsec_');
  });

  it('remove, enable, disable and rotate-secret call the store', async () => {
    expect((await run(['remove', 'x'])).calls).toEqual([['remove', 'x']]);
    expect((await run(['enable', 'x'])).calls).toEqual([['setEnabled', 'x', true]]);
    expect((await run(['disable', 'x'])).calls).toEqual([['setEnabled', 'x', false, 'operator']]);
    expect((await run(['set-ordering', 'x', 'ordered'])).calls).toEqual([['setOrdering', 'x', 'ordered']]);
    const rotated = await run(['rotate-secret', 'x', '--overlap-hours', '2']);
    expect(rotated.calls).toEqual([['rotateSecret', 'x', 7_200_000]]);
    expect(rotated.lines.join('\n')).toMatch(/whsec_NEW[\s\S]*until 2026-01-03T00:00:00.000Z/);
  });
});

describe('runSubscriptionsCommand enable --recover-since', () => {
  it('enables first, then re-sends the dead letters of that subscription since T, and says how many', async () => {
    const lines: string[] = [];
    const calls: unknown[] = [];
    const store = {
      setEnabled: async (id: string, enabled: boolean) => void calls.push(['setEnabled', id, enabled]),
    } as unknown as SubscriptionStore;
    await runSubscriptionsCommand(['enable', 'x', '--recover-since', '2h'], {
      store,
      out: (l) => lines.push(l),
      nowMs: Date.parse('2026-12-06T12:00:00.000Z'),
      recoverDeadLetters: async (filter) => {
        calls.push(['recover', filter]);
        return { read: 9, matched: 3, delivered: 3, parked: 0, failed: 0, skipped: 6 };
      },
    });
    expect(calls).toEqual([
      ['setEnabled', 'x', true],
      ['recover', { subscriptionIds: ['x'], events: [], since: Date.parse('2026-12-06T10:00:00.000Z') }],
    ]);
    expect(lines.at(-1)).toBe('re-sent 3 dead letter(s) of subscription x since 2026-12-06T10:00:00.000Z');
  });

  it('a failed re-send is DELIVERY_FAILED (exit 1), after saying what was re-sent', async () => {
    const lines: string[] = [];
    const store = { setEnabled: async () => undefined } as unknown as SubscriptionStore;
    const err = await runSubscriptionsCommand(['enable', 'x', '--recover-since', '1h'], {
      store,
      out: (l) => lines.push(l),
      recoverDeadLetters: async () => ({
        read: 2,
        matched: 2,
        delivered: 1,
        parked: 0,
        failed: 1,
        skipped: 0,
      }),
    }).catch((e: unknown) => e);
    expect(isConnectorError(err, ErrorCode.DELIVERY_FAILED)).toBe(true);
    expect(lines.at(-1)).toMatch(/^re-sent 1 dead letter\(s\) of subscription x since .*; 1 failed$/);
  });
});
