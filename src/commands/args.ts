/**
 * Argument parsing shared by the CLI's commands: node's `parseArgs` (strict, positionals allowed) with
 * every mistake a USAGE error carrying the command's usage text (the CLI prints it and exits 2).
 */
import { parseArgs } from 'node:util';
import { ConnectorError, ErrorCode } from '../errors.js';

export type OptionSpec = Record<string, { type: 'string' | 'boolean' }>;

type ParsedArgs<O extends OptionSpec> = ReturnType<
  typeof parseArgs<{ args: string[]; options: O; allowPositionals: true; strict: true }>
>;

export interface ArgParser {
  /** A USAGE error: the problem, a blank line, the command's usage text. */
  usage(problem: string): ConnectorError;
  /**
   * `args` against `options`, with exactly `positionals` positionals. An unknown or malformed option
   * gives node's message; a positional where none is taken gives `unexpected argument "X"`.
   */
  parse<O extends OptionSpec>(args: string[], options: O, positionals: number): ParsedArgs<O>;
}

/**
 * The parser of one command. `wrongCount` says what a command taking `expected` (one or more)
 * positionals expected when it got `got`: each command names its own (a delivery ID, a subscription ID).
 */
export function createArgParser(
  usageText: string,
  wrongCount: (expected: number, got: number) => string,
): ArgParser {
  const usage = (problem: string): ConnectorError =>
    new ConnectorError(ErrorCode.USAGE, `${problem}\n\n${usageText}`, { problem });
  return {
    usage,
    parse(args, options, positionals) {
      let parsed;
      try {
        parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
      } catch (err) {
        throw usage((err as Error).message);
      }
      const got = parsed.positionals.length;
      if (got !== positionals) {
        throw usage(
          positionals === 0 ? `unexpected argument "${parsed.positionals[0]}"` : wrongCount(positionals, got),
        );
      }
      return parsed;
    },
  };
}
