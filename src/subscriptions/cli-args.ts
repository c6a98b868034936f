/** Parsing of `webhook-connector subscriptions ...` arguments: pure, every mistake → USAGE with the usage text. */
import { parseArgs } from 'node:util';
import { ConnectorError, ErrorCode } from '../errors.js';

export const SUBSCRIPTIONS_USAGE = `Usage: webhook-connector subscriptions <command>

  add --project P --event E --target URL [--global] [--created-by U]
                              create a subscription; prints its secret once
  list [--project P]          list subscriptions (secrets are never shown)
  remove ID                   delete a subscription
  enable ID                   resume deliveries to a subscription
  disable ID                  stop deliveries to a subscription (kept, can be enabled again)
  rotate-secret ID [--overlap-hours H]
                              new secret; the old one keeps signing for H hours (default 24)`;

export type SubscriptionsCommand =
  | { kind: 'add'; idProject: string; event: string; target: string; global: boolean; createdBy: string }
  | { kind: 'list'; idProject?: string }
  | { kind: 'remove' | 'enable' | 'disable'; id: string }
  | { kind: 'rotate-secret'; id: string; overlapHours: number }
  | { kind: 'help' };

const DEFAULT_OVERLAP_HOURS = 24;
const DEFAULT_CREATED_BY = 'cli';

function usage(problem: string): ConnectorError {
  return new ConnectorError(ErrorCode.USAGE, `${problem}\n\n${SUBSCRIPTIONS_USAGE}`, { problem });
}

type OptionSpec = Record<string, { type: 'string' | 'boolean' }>;

function parse(args: string[], options: OptionSpec, positionals: number) {
  let parsed;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw usage((err as Error).message);
  }
  if (parsed.positionals.length !== positionals) {
    throw usage(
      positionals === 0
        ? `unexpected argument "${parsed.positionals[0]}"`
        : 'expected exactly one subscription ID',
    );
  }
  return parsed;
}

function required(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw usage(`--${name} is required`);
  return v;
}

/** `argv` is what follows `subscriptions` on the command line. */
export function parseSubscriptionsArgs(argv: readonly string[]): SubscriptionsCommand {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      throw usage('missing command');
    case 'help':
    case '--help':
    case '-h':
      return { kind: 'help' };
    case 'add': {
      const { values } = parse(
        rest,
        {
          project: { type: 'string' },
          event: { type: 'string' },
          target: { type: 'string' },
          global: { type: 'boolean' },
          'created-by': { type: 'string' },
        },
        0,
      );
      return {
        kind: 'add',
        idProject: required(values, 'project'),
        event: required(values, 'event'),
        target: required(values, 'target'),
        global: values.global === true,
        createdBy: typeof values['created-by'] === 'string' ? values['created-by'] : DEFAULT_CREATED_BY,
      };
    }
    case 'list': {
      const { values } = parse(rest, { project: { type: 'string' } }, 0);
      return typeof values.project === 'string'
        ? { kind: 'list', idProject: values.project }
        : { kind: 'list' };
    }
    case 'remove':
    case 'enable':
    case 'disable': {
      const { positionals } = parse(rest, {}, 1);
      return { kind: command, id: positionals[0] as string };
    }
    case 'rotate-secret': {
      const { values, positionals } = parse(rest, { 'overlap-hours': { type: 'string' } }, 1);
      const raw = values['overlap-hours'];
      const overlapHours = typeof raw === 'string' ? Number(raw) : DEFAULT_OVERLAP_HOURS;
      if (
        typeof raw === 'string' &&
        (raw.trim() === '' || !Number.isFinite(overlapHours) || overlapHours < 0)
      ) {
        throw usage(`--overlap-hours must be a number >= 0, got "${raw}"`);
      }
      return { kind: 'rotate-secret', id: positionals[0] as string, overlapHours };
    }
    default:
      throw usage(`unknown command "${command}"`);
  }
}
