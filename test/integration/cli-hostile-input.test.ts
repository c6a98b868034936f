/**
 * Issue 5 acceptance (hostile CLI input): `webhook-connector subscriptions ...` run as a process, as an
 * operator (or a script fed by a web form) would. Targets with other schemes or with credentials, event
 * names with CR/LF, empty projects, absurd options and SQL-looking ids all end with exit 2 (the command
 * line itself is wrong: `error CONNECTOR_USAGE: ...` and the usage) or exit 1 (a value is wrong: every
 * problem in one readable `error CODE: ...` line),
 * never with a stack trace, a forged output line, an echoed password, or a row in the table.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type pg from 'pg';
import { runCli, type CliRun } from '../support/cli.js';
import { createMigratedDatabase, type TestDatabase } from '../support/pg.js';

let db: TestDatabase;
let pool: pg.Pool;

beforeAll(async () => {
  ({ db, pool } = await createMigratedDatabase('cli_hostile'));
});
afterAll(async () => {
  await pool?.end();
  await db?.drop();
});

type Run = CliRun;

/** `webhook-connector subscriptions ...args` against this file's database. */
const subscriptions = (...args: string[]): Promise<Run> =>
  runCli(['subscriptions', ...args], { DATABASE_URL: db.url, LOG_LEVEL: 'warn' });

const rows = async (): Promise<number> =>
  Number((await pool.query('select count(*) from webhook_subscriptions')).rows[0].count);

const add = (target: string, event = 'request.create', project = 'P1'): Promise<Run> =>
  subscriptions('add', '--project', project, '--event', event, '--target', target);

/** A value error: exit 1, one readable message, nothing on stdout, no stack trace. */
function expectRejected(run: Run, message: RegExp): void {
  expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 1, stdout: '' });
  expect(run.stderr).toMatch(/^error CONNECTOR_SUBSCRIPTION_INVALID: invalid subscription: /);
  expect(run.stderr).toMatch(message);
  expect(run.stderr).not.toMatch(/\n\s+at /);
  expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
}

/** A command-line error: exit 2 with the usage text. */
function expectUsage(run: Run, problem: RegExp): void {
  expect({ code: run.code, stdout: run.stdout }).toEqual({ code: 2, stdout: '' });
  expect(run.stderr).toMatch(/^error CONNECTOR_USAGE: /);
  expect(run.stderr.replace(/^error CONNECTOR_USAGE: /, '')).toMatch(problem);
  expect(run.stderr).toContain('Usage: webhook-connector subscriptions <command>');
  expect(run.stderr).not.toMatch(/\n\s+at /);
}

describe('subscriptions add with hostile input', () => {
  // Each case is a process start (~1 s of tsx); independent cases run side by side.
  it('refuses targets that are not http(s)', async () => {
    const targets = [
      'file:///etc/passwd',
      'gopher://127.0.0.1:6379/_FLUSHALL',
      'javascript:alert(document.cookie)',
      'ftp://example.com/incoming',
      'data:text/html,<script>alert(1)</script>',
      'dict://127.0.0.1:11211/stat',
      '//example.com/hook',
    ];
    const runs = await Promise.all(targets.map((t) => add(t)));
    runs.forEach((run, i) => {
      expectRejected(run, /must start with http:\/\/ or https:\/\//);
      expect(run.stderr).toContain(JSON.stringify(targets[i]));
    });
  });

  it('refuses credentials in the target without echoing them, and targets without a host', async () => {
    const [creds, disguise, tripleSlash, empty] = await Promise.all([
      add('https://admin:hunter2-pw@crm.example.com/hook'),
      // "trusted-host@other-host": the host is really 169.254.169.254.
      add('https://hooks.example.com@169.254.169.254/latest/meta-data/'),
      add('http:///example.com/hook'),
      add('https://'),
    ]);
    expectRejected(creds!, /target "https:\/\/crm\.example\.com\/hook" must not contain credentials/);
    expect(creds!.stderr).not.toContain('hunter2-pw');
    expect(creds!.stderr).not.toContain('admin');
    expectRejected(
      disguise!,
      /target "https:\/\/169\.254\.169\.254\/latest\/meta-data\/" must not contain credentials/,
    );
    expectRejected(tripleSlash!, /has no host/);
    expectRejected(empty!, /not a valid URL|has no host/);
  });

  it('refuses CR/LF in the target and in the event name, without forging an output line', async () => {
    const [target, event] = await Promise.all([
      add('https://example.com/hook\r\nX-Injected: yes'),
      add('https://example.com/hook', 'request.create\r\nX-Injected: yes'),
    ]);
    expectRejected(target!, /target contains control characters/);
    expectRejected(event!, /event contains control characters/);
    for (const run of [target!, event!]) {
      expect(run.stderr).not.toMatch(/[\r\n]X-Injected/);
      expect(run.stderr).toContain('\\r\\nX-Injected');
    }
  });

  it('refuses other unsafe event names', async () => {
    const [wildcard, space, long, escape] = await Promise.all([
      add('https://example.com/hook', 'request.*'),
      add('https://example.com/hook', 'request create'),
      add('https://example.com/hook', 'x'.repeat(300)),
      // A terminal escape sequence: refused, and shown escaped (JSON-quoted), never interpreted.
      add('https://example.com/hook', 'request.create\u001b[2J'),
    ]);
    expectRejected(wildcard!, /wildcard/);
    expectRejected(space!, /printable ASCII without spaces/);
    expectRejected(long!, /event is longer than 256 characters/);
    expectRejected(escape!, /event contains control characters/);
    expect(escape!.stderr).not.toContain('\u001b');
    expect(escape!.stderr).toContain('\\u001b[2J');
  });

  it('refuses an empty or blank project', async () => {
    const [empty, blank, crlf] = await Promise.all([
      add('https://example.com/hook', 'request.create', ''),
      add('https://example.com/hook', 'request.create', '   '),
      add('https://example.com/hook', 'request.create', 'P\r\n1'),
    ]);
    expectUsage(empty!, /^--project is required/);
    expectRejected(blank!, /project is required/);
    expectRejected(crlf!, /project contains control characters/);
  });

  it('reports every problem at once', async () => {
    const run = await add('ftp://user:pw@x', 'a\nb', ' ');
    expectRejected(
      run,
      /project is required; event contains control characters; .*; target "ftp:\/\/x\/?" must start with http/,
    );
    expect(run.stderr).not.toContain(':pw@');
  });

  it('refuses bad command lines with the usage text', async () => {
    const runs = await Promise.all([
      subscriptions('add', '--project', 'P1', '--event', 'request.create'),
      subscriptions(
        'add',
        '--project',
        'P1',
        '--event',
        'e',
        '--target',
        'https://x.example',
        '--secret',
        's',
      ),
      subscriptions('rotate-secret', 'abc', '--overlap-hours=-1'),
      subscriptions('rotate-secret', 'abc', '--overlap-hours', 'NaN'),
      subscriptions('rotate-secret', 'abc', '--overlap-hours', '1e400'),
      subscriptions('remove'),
    ]);
    const problems = [
      /^--target is required/,
      /Unknown option '--secret'/,
      /--overlap-hours must be a number >= 0, got "-1"/,
      /--overlap-hours must be a number >= 0, got "NaN"/,
      /--overlap-hours must be a number >= 0, got "1e400"/,
      /expected exactly one subscription ID/,
    ];
    runs.forEach((run, i) => expectUsage(run, problems[i]!));
  });

  it('treats SQL-looking ids as ids: not found, and the table is intact', async () => {
    const [removeA, removeB, rotate] = await Promise.all([
      subscriptions('remove', "x' or '1'='1"),
      subscriptions('remove', "'; drop table webhook_subscriptions; --"),
      subscriptions('rotate-secret', "x' or '1'='1", '--overlap-hours', '1e300'),
    ]);
    for (const run of [removeA!, removeB!]) {
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(/^error CONNECTOR_SUBSCRIPTION_NOT_FOUND: no subscription with id "/);
    }
    expect(rotate!.code).toBe(1);
    expect(rotate!.stderr).toMatch(
      /^error CONNECTOR_SUBSCRIPTION_INVALID: overlap must be a whole number of ms >= 0/,
    );
    expect(await rows()).toBe(0);
  });

  it('stored nothing for all of the above, and a valid add still works', async () => {
    expect(await rows()).toBe(0);
    const ok = await add('https://crm.example.com/hook');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/^secret: whsec_[A-Za-z0-9+/]{43}=$/m);
    expect(await rows()).toBe(1);
    const list = await subscriptions('list');
    expect(list.code).toBe(0);
    expect(list.stdout).toContain('https://crm.example.com/hook');
    expect(list.stdout).not.toContain('whsec_');
  });
});
