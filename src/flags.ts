/** A small long-flag parser for the CLI commands: --name value, --name=value, repeatable and boolean flags. */
import { ConnectorError, ErrorCode } from './errors.js';

export interface FlagSpec<S extends string, M extends string, B extends string> {
  readonly string?: readonly S[];
  readonly multi?: readonly M[];
  readonly boolean?: readonly B[];
}

export type Flags<S extends string, M extends string, B extends string> = { [K in S]?: string } & {
  [K in M]: string[];
} & { [K in B]: boolean } & { _: string[] };

export function parseFlags<S extends string, M extends string, B extends string>(
  argv: readonly string[],
  spec: FlagSpec<S, M, B>,
  usage: string,
): Flags<S, M, B> {
  const out: Record<string, unknown> = { _: [] };
  for (const m of spec.multi ?? []) out[m] = [];
  for (const b of spec.boolean ?? []) out[b] = false;
  const fail = (msg: string): never => {
    throw new ConnectorError(ErrorCode.USAGE, `${msg}\n\n${usage}`);
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) {
      (out._ as string[]).push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const inline = eq < 0 ? undefined : arg.slice(eq + 1);
    if ((spec.boolean as readonly string[] | undefined)?.includes(name)) {
      if (inline !== undefined) fail(`--${name} takes no value`);
      out[name] = true;
      continue;
    }
    const isString = (spec.string as readonly string[] | undefined)?.includes(name);
    const isMulti = (spec.multi as readonly string[] | undefined)?.includes(name);
    if (!isString && !isMulti) fail(`unknown option --${name}`);
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      fail(`--${name} needs a value`);
    }
    if (isMulti) (out[name] as string[]).push(value!);
    else out[name] = value;
  }
  return out as Flags<S, M, B>;
}
