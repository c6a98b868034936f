import { describe, expect, it } from '@jest/globals';
import { ErrorCode, isConnectorError } from '../../../src/errors.js';
import { parseSubscriptionsArgs, runSubscriptionsCommand } from '../../../src/subscriptions/cli.js';
import type { NewSubscription, Subscription, SubscriptionStore } from '../../../src/subscriptions/types.js';

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
      ]),
    ).toMatchObject({ global: true, createdBy: 'ops', target: 'https://x.example' });
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
  });
});

describe('runSubscriptionsCommand', () => {
  const created: Subscription = {
    id: '0123456789abcdef01234567',
    idProject: 'P',
    event: 'request.create',
    target: 'https://x.example/h',
    secret: 'whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=',
    previousSecret: null,
    previousSecretExpiresAt: null,
    global: false,
    enabled: true,
    createdBy: 'cli',
    createdAt: new Date('2026-01-02T03:04:05.000Z'),
    updatedAt: new Date('2026-01-02T03:04:05.000Z'),
  };

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
      setEnabled: async (id, enabled) => (calls.push(['setEnabled', id, enabled]), created),
      rotateSecret: async (id, overlapMs) => (calls.push(['rotateSecret', id, overlapMs]), 'whsec_NEW'),
      loadEnabled: fail,
      loadByIds: fail,
    };
  }

  async function run(argv: string[]): Promise<{ lines: string[]; calls: unknown[] }> {
    const lines: string[] = [];
    const calls: unknown[] = [];
    await runSubscriptionsCommand(argv, { store: fakeStore(calls), out: (l) => lines.push(l) });
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
        },
      ],
    ]);
    expect(lines.filter((l) => l.includes(created.secret))).toHaveLength(1);
    expect(lines.join('\n')).toMatch(/will not be shown again/);
  });

  it('list prints a table without secrets', async () => {
    const { lines, calls } = await run(['list', '--project', 'P']);
    expect(calls).toEqual([['list', { idProject: 'P' }]]);
    expect(lines[0]).toMatch(/^ID\s+PROJECT\s+EVENT\s+TARGET\s+GLOBAL\s+ENABLED/);
    expect(lines[1]).toContain(created.id);
    expect(lines.join('\n')).not.toContain('whsec_');
  });

  it('remove, enable, disable and rotate-secret call the store', async () => {
    expect((await run(['remove', 'x'])).calls).toEqual([['remove', 'x']]);
    expect((await run(['enable', 'x'])).calls).toEqual([['setEnabled', 'x', true]]);
    expect((await run(['disable', 'x'])).calls).toEqual([['setEnabled', 'x', false]]);
    const rotated = await run(['rotate-secret', 'x', '--overlap-hours', '2']);
    expect(rotated.calls).toEqual([['rotateSecret', 'x', 7_200_000]]);
    expect(rotated.lines.join('\n')).toMatch(/whsec_NEW[\s\S]*until 2026-01-03T00:00:00.000Z/);
  });
});
