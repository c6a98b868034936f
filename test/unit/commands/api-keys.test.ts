import { describe, expect, it } from '@jest/globals';
import { ErrorCode, isConnectorError } from '../../../src/errors.js';
import { runApiKeysCommand } from '../../../src/commands/api-keys.js';
import type { ApiKeyInfo, ApiKeyStore } from '../../../src/api/api-keys.js';

const INFO: ApiKeyInfo = {
  id: 'k1abcdefg',
  idProject: 'p1',
  name: 'ci',
  createdAt: new Date('2026-01-01T00:00:00Z'),
  revokedAt: null,
  lastUsedAt: null,
};

/** A store that records what reached it: a usage error must be raised before any of it. */
function recordingStore(calls: string[]): ApiKeyStore {
  return {
    create: async (input) => {
      calls.push(`create ${JSON.stringify(input)}`);
      return { info: INFO, key: 'whk_k1abcdefg_secret' };
    },
    list: async (filter) => {
      calls.push(`list ${JSON.stringify(filter)}`);
      return [];
    },
    revoke: async (id) => {
      calls.push(`revoke ${id}`);
      return INFO;
    },
    verify: async () => undefined,
  };
}

async function usageError(argv: string[]): Promise<string> {
  const calls: string[] = [];
  try {
    await runApiKeysCommand(argv, { keys: recordingStore(calls), out: () => undefined });
  } catch (err) {
    expect(calls).toEqual([]);
    if (isConnectorError(err, ErrorCode.USAGE)) return err.message;
    throw err;
  }
  throw new Error(`expected a USAGE error for ${JSON.stringify(argv)}`);
}

describe('runApiKeysCommand', () => {
  it('passes well-formed commands to the store', async () => {
    const calls: string[] = [];
    const out: string[] = [];
    const deps = { keys: recordingStore(calls), out: (line: string) => void out.push(line) };
    await runApiKeysCommand(['create', '--project', 'p1', '--name', 'ci'], deps);
    await runApiKeysCommand(['create', '--platform'], deps);
    await runApiKeysCommand(['list', '--project=p1'], deps);
    await runApiKeysCommand(['revoke', 'k1abcdefg'], deps);
    expect(calls).toEqual([
      'create {"idProject":"p1","name":"ci"}',
      'create {"idProject":null,"name":""}',
      'list {"idProject":"p1"}',
      'revoke k1abcdefg',
    ]);
    expect(out).toContain('key: whk_k1abcdefg_secret');
  });

  it('rejects bad usage with USAGE and the usage text, before reaching the store', async () => {
    expect(await usageError([])).toMatch(/^missing command\n\nUsage: webhook-connector api-keys/);
    expect(await usageError(['rotate'])).toContain('unknown api-keys command "rotate"');
    expect(await usageError(['list', 'extra'])).toMatch(/^unexpected argument "extra"\n\nUsage:/);
    expect(await usageError(['list', '--bogus'])).toContain("'--bogus'");
    expect(await usageError(['revoke'])).toMatch(/^expected 1 argument\(s\), got 0\n\nUsage:/);
    expect(await usageError(['revoke', 'a', 'b'])).toMatch(/^expected 1 argument\(s\), got 2\n\nUsage:/);
    expect(await usageError(['create'])).toContain('create needs exactly one of --project P or --platform');
    expect(await usageError(['create', '--project', 'p', '--platform'])).toContain(
      'create needs exactly one of',
    );
    expect(await usageError(['create', '--platform', '--name', 'a\u0007b'])).toContain(
      '--name must be at most 256 characters',
    );
  });
});
