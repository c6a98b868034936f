import { describe, expect, it } from '@jest/globals';
import { runCli, type CliRun } from '../support/cli.js';

/**
 * The CLI with Kafka and Postgres pointed at closed ports: a command that ignored --help and went to
 * work would fail (or hang until the timeout) instead of printing its usage.
 */
const cli = (argv: readonly string[]): Promise<CliRun> =>
  runCli(
    argv,
    { KAFKA_BROKERS: '127.0.0.1:1', DATABASE_URL: 'postgres://127.0.0.1:1/none', OPS_PORT: '0' },
    30_000,
  );

const commands: readonly (readonly string[])[] = [
  [],
  ['run'],
  ['migrate'],
  ['subscriptions'],
  ['subscriptions', 'add'],
  ['subscriptions', 'list'],
  ['subscriptions', 'remove'],
  ['subscriptions', 'enable'],
  ['subscriptions', 'disable'],
  ['subscriptions', 'rotate-secret'],
  ['subscriptions', 'set-ordering'],
  ['deliveries'],
  ['deliveries', 'list'],
  ['deliveries', 'retry-now'],
  ['replay'],
  ['api'],
  ['api-keys'],
  ['api-keys', 'create'],
  ['api-keys', 'list'],
  ['api-keys', 'revoke'],
  ['produce-sample'],
  ['demo-receiver'],
];

async function inBatches<T, R>(
  items: readonly T[],
  size: number,
  run: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    out.push(...(await Promise.all(items.slice(i, i + size).map(run))));
  }
  return out;
}

describe('every CLI command and subcommand', () => {
  it.each(['--help', '-h'])(
    'accepts %s: prints its usage on stdout and exits 0',
    async (flag) => {
      // One process per command (~1 s of tsx each, several on a loaded 2-core machine), four at a time:
      // seventeen at once starved each other past the timeout.
      const runs = await inBatches(commands, 4, (argv) => cli([...argv, flag]));
      const results = runs.map((r, i) => ({
        argv: [...commands[i]!, flag].join(' '),
        code: r.code,
        usage: /^usage: webhook-connector/im.test(r.stdout),
        stderr: r.stderr,
      }));
      expect(results).toEqual(results.map((r) => ({ argv: r.argv, code: 0, usage: true, stderr: '' })));
    },
    300_000,
  );

  it('prints the usage of the subcommand asked about', async () => {
    const [add, replay, run, deliveries] = await Promise.all([
      cli(['subscriptions', 'add', '--help']),
      cli(['replay', '-h']),
      cli(['run', '--help']),
      cli(['deliveries', 'retry-now', '-h']),
    ]);
    expect(add.stdout).toContain('add --project P --event E --target URL');
    expect(replay.stdout).toContain('usage: webhook-connector replay');
    expect(run.stdout).toContain('usage: webhook-connector run');
    expect(deliveries.stdout).toContain('retry-now ID');
  });
});
