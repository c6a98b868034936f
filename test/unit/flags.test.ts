import { describe, expect, it } from '@jest/globals';
import { ErrorCode, isConnectorError, type ConnectorError } from '../../src/errors.js';
import { parseFlags } from '../../src/flags.js';

const USAGE = 'usage: thing [--name N] [--tag T ...] [--force]';
const spec = { string: ['name', 'limit'], multi: ['tag'], boolean: ['force', 'json'] } as const;
const parse = (argv: string[]) =>
  parseFlags<'name' | 'limit', 'tag', 'force' | 'json'>(
    argv,
    { string: spec.string, multi: spec.multi, boolean: spec.boolean },
    USAGE,
  );

function usageError(argv: string[]): ConnectorError {
  try {
    parse(argv);
  } catch (err) {
    if (isConnectorError(err, ErrorCode.USAGE)) return err;
    throw err;
  }
  throw new Error(`expected a usage error for ${JSON.stringify(argv)}`);
}

describe('parseFlags', () => {
  it('starts with empty lists, false booleans and no strings', () => {
    const f = parse([]);
    expect(f).toEqual({ _: [], tag: [], force: false, json: false });
    expect(f.name).toBeUndefined();
  });

  it('reads --name value and --name=value', () => {
    expect(parse(['--name', 'a']).name).toBe('a');
    expect(parse(['--name=b']).name).toBe('b');
    expect(parse(['--name=']).name).toBe('');
    expect(parse(['--name=x=y']).name).toBe('x=y');
  });

  it('keeps the last value of a repeated string flag and every value of a multi flag, in order', () => {
    expect(parse(['--name', 'a', '--name', 'b']).name).toBe('b');
    expect(parse(['--tag', 'x', '--tag=y', '--tag', 'z']).tag).toEqual(['x', 'y', 'z']);
  });

  it('sets booleans without consuming the next argument', () => {
    const f = parse(['--force', 'positional', '--json']);
    expect(f.force).toBe(true);
    expect(f.json).toBe(true);
    expect(f._).toEqual(['positional']);
  });

  it('collects positionals in order around flags, including values that look negative', () => {
    const f = parse(['add', '--limit', '-5', 'more', '-x']);
    expect(f._).toEqual(['add', 'more', '-x']);
    expect(f.limit).toBe('-5');
  });

  it('accepts a value starting with -- when given inline', () => {
    expect(parse(['--name=--weird']).name).toBe('--weird');
  });

  it('reports an unknown option with the usage text', () => {
    const err = usageError(['--nope', '1']);
    expect(err.message).toMatch(/^unknown option --nope/);
    expect(err.message).toContain(USAGE);
  });

  it('reports a missing value, at the end or followed by another flag', () => {
    expect(usageError(['--name']).message).toMatch(/^--name needs a value/);
    expect(usageError(['--tag', '--force']).message).toMatch(/^--tag needs a value/);
  });

  it('refuses a value given to a boolean flag', () => {
    expect(usageError(['--force=true']).message).toMatch(/^--force takes no value/);
  });
});
