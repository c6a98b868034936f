import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

describe('CLI with a bad configuration', () => {
  it('exits 1 and lists every problem on stderr, before touching Postgres', () => {
    // `node --import tsx` runs the TypeScript entry point directly (Node >= 20.6), no build needed.
    const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, DELIVERY_TIMEOUT_MS: 'abc', KAFKA_BROKERS: '' };
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'migrate'], {
      cwd: root,
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(r.error).toBeUndefined();
    expect(r.signal).toBeNull();
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^error CONNECTOR_CONFIG_INVALID: invalid configuration:\n/);
    expect(r.stderr).toContain('DELIVERY_TIMEOUT_MS: must be an integer, got "abc"');
    expect(r.stderr).toContain('KAFKA_BROKERS: needs at least 1 item(s)');
    expect(r.stderr).not.toMatch(/\n\s+at /); // a message for an operator, not a stack trace
    expect(r.status).toBe(1);
  });
});
