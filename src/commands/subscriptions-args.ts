/** Parsing of `webhook-connector subscriptions ...` arguments: pure, every mistake → USAGE with the usage text. */
import { createArgParser } from './args.js';
import { SUBSCRIPTION_ORDERINGS, type SubscriptionOrdering } from '../subscriptions/types.js';

export const SUBSCRIPTIONS_USAGE = `Usage: webhook-connector subscriptions <command>

  add --project P --event E --target URL [--global] [--created-by U] [--ordered]
                              create a subscription; prints its secret once. Deliveries are
                              concurrent (no order, the default) or, with --ordered, one after
                              another per record key
  list [--project P]          list subscriptions: ordering, and why and when a disabled one was
                              disabled (secrets are never shown)
  remove ID                   delete a subscription
  enable ID [--recover-since T]
                              resume deliveries to a subscription, its parked ones included; with
                              --recover-since, also re-send its dead letters since T (ISO 8601 time,
                              or a duration back from now: 30m, 2h, 1d)
  disable ID                  stop deliveries to a subscription (kept, can be enabled again)
  set-ordering ID concurrent|ordered
                              change how a subscription's deliveries are ordered
  rotate-secret ID [--overlap-hours H]
                              new secret; the old one keeps signing for H hours (default 24)`;

export type SubscriptionsCommand =
  | {
      kind: 'add';
      idProject: string;
      event: string;
      target: string;
      global: boolean;
      createdBy: string;
      ordering: SubscriptionOrdering;
    }
  | { kind: 'list'; idProject?: string }
  | { kind: 'remove' | 'disable'; id: string }
  /** `recoverSince`: epoch ms from which its dead letters are re-sent (absent: none are). */
  | { kind: 'enable'; id: string; recoverSince?: number }
  | { kind: 'set-ordering'; id: string; ordering: SubscriptionOrdering }
  | { kind: 'rotate-secret'; id: string; overlapHours: number }
  | { kind: 'help' };

const DEFAULT_OVERLAP_HOURS = 24;
const DEFAULT_CREATED_BY = 'cli';

const { usage, parse } = createArgParser(SUBSCRIPTIONS_USAGE, (expected) =>
  expected === 1
    ? 'expected exactly one subscription ID'
    : 'expected a subscription ID and an ordering (concurrent or ordered)',
);

const DURATION_UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

/**
 * `--recover-since`: an ISO 8601 time, or a duration back from `nowMs` (`90m`, `2h`, `1.5d`). Refuses a
 * time in the future: it would recover nothing, which is never what was meant.
 */
export function parseRecoverSince(raw: string, nowMs: number): number {
  const duration = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(raw.trim());
  let at: number;
  if (duration) {
    at = nowMs - Math.round(Number(duration[1]) * DURATION_UNIT_MS[duration[2]!]!);
  } else {
    // A bare number or word is not a time, whatever Date.parse makes of it.
    at = /^\d{4}-\d{2}-\d{2}/.test(raw.trim()) ? Date.parse(raw) : Number.NaN;
  }
  if (Number.isNaN(at)) {
    throw usage(
      `--recover-since must be an ISO 8601 time (2026-11-26T10:00:00Z) or a duration (30m, 2h, 1d), got "${raw}"`,
    );
  }
  if (at > nowMs) throw usage(`--recover-since is in the future: "${raw}"`);
  return at;
}

function parseOrdering(raw: string | undefined): SubscriptionOrdering {
  if (!SUBSCRIPTION_ORDERINGS.includes(raw as SubscriptionOrdering)) {
    throw usage(`ordering must be ${SUBSCRIPTION_ORDERINGS.join(' or ')}, got "${raw ?? ''}"`);
  }
  return raw as SubscriptionOrdering;
}

function required(values: Record<string, unknown>, name: string): string {
  const v = values[name];
  if (typeof v !== 'string' || v === '') throw usage(`--${name} is required`);
  return v;
}

/** `argv` is what follows `subscriptions` on the command line; `nowMs` dates `--recover-since 2h`. */
export function parseSubscriptionsArgs(
  argv: readonly string[],
  nowMs: number = Date.now(),
): SubscriptionsCommand {
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
          ordered: { type: 'boolean' },
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
        ordering: values.ordered === true ? 'ordered' : 'concurrent',
      };
    }
    case 'list': {
      const { values } = parse(rest, { project: { type: 'string' } }, 0);
      return typeof values.project === 'string'
        ? { kind: 'list', idProject: values.project }
        : { kind: 'list' };
    }
    case 'remove':
    case 'disable': {
      const { positionals } = parse(rest, {}, 1);
      return { kind: command, id: positionals[0] as string };
    }
    case 'enable': {
      const { values, positionals } = parse(rest, { 'recover-since': { type: 'string' } }, 1);
      const raw = values['recover-since'];
      const id = positionals[0] as string;
      return typeof raw === 'string'
        ? { kind: 'enable', id, recoverSince: parseRecoverSince(raw, nowMs) }
        : { kind: 'enable', id };
    }
    case 'set-ordering': {
      const { positionals } = parse(rest, {}, 2);
      return { kind: 'set-ordering', id: positionals[0] as string, ordering: parseOrdering(positionals[1]) };
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
