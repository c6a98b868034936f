/**
 * `webhook-connector deliveries ...`: the operator's view of parked deliveries (README "Parked
 * deliveries"). Parsing is pure and every mistake is USAGE with the usage text; the SQL is in
 * `pg-delivery-admin.ts`.
 */
import { createArgParser } from './args.js';
import { formatTable } from './subscriptions.js';
import type { DeliveryAdmin, DeliveryRow } from '../parking/pg-delivery-admin.js';
import type { DeliveryState } from '../parking/types.js';

export const DELIVERIES_USAGE = `Usage: webhook-connector deliveries <command>

  list [--subscription ID] [--state parked|delivered|dead] [--limit N]
                              parked and recently finished deliveries, newest first (default
                              limit 50, at most 1000): why each is parked or dead, its attempts,
                              when it is due (or finished), its last status or error
  retry-now ID                make a parked delivery due now (the next runner to poll attempts it;
                              a delivery of a disabled subscription waits until it is enabled)`;

export type DeliveriesCommand =
  | { kind: 'list'; subscriptionId?: string; state?: DeliveryState; limit: number }
  | { kind: 'retry-now'; id: string }
  | { kind: 'help' };

export const DEFAULT_LIST_LIMIT = 50;
export const MAX_LIST_LIMIT = 1_000;
const STATES: readonly DeliveryState[] = ['parked', 'delivered', 'dead'];
/** A bigserial id: 1 .. 2^63-1. */
const MAX_ID = 9_223_372_036_854_775_807n;
/** Longer than any subscription id (24 characters): a typo, not an id. */
const MAX_SUBSCRIPTION_ID_LENGTH = 200;

const { usage, parse } = createArgParser(DELIVERIES_USAGE, () => 'expected exactly one delivery ID');

/** A delivery id as the CLI takes it: a positive whole number within bigint. */
export function parseDeliveryId(raw: string): string {
  if (!/^[1-9][0-9]{0,18}$/.test(raw) || BigInt(raw) > MAX_ID) {
    throw usage(`a delivery ID is a positive whole number (see deliveries list), got "${raw}"`);
  }
  return raw;
}

function parseLimit(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_LIST_LIMIT;
  const n = /^[0-9]{1,7}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(n >= 1 && n <= MAX_LIST_LIMIT)) {
    throw usage(`--limit must be a whole number from 1 to ${MAX_LIST_LIMIT}, got "${raw}"`);
  }
  return n;
}

/** `argv` is what follows `deliveries` on the command line. */
export function parseDeliveriesArgs(argv: readonly string[]): DeliveriesCommand {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      throw usage('missing command');
    case 'help':
    case '--help':
    case '-h':
      return { kind: 'help' };
    case 'list': {
      const { values } = parse(
        rest,
        { subscription: { type: 'string' }, state: { type: 'string' }, limit: { type: 'string' } },
        0,
      );
      const out: { kind: 'list'; subscriptionId?: string; state?: DeliveryState; limit: number } = {
        kind: 'list',
        limit: parseLimit(values.limit),
      };
      if (values.subscription !== undefined) {
        const id = values.subscription;
        if (id === '' || id.length > MAX_SUBSCRIPTION_ID_LENGTH || /[\s\p{Cc}]/u.test(id)) {
          throw usage(`--subscription must be a subscription ID, got ${JSON.stringify(id)}`);
        }
        out.subscriptionId = id;
      }
      if (values.state !== undefined) {
        if (!STATES.includes(values.state as DeliveryState)) {
          throw usage(`--state must be ${STATES.join(', ')}, got "${values.state}"`);
        }
        out.state = values.state as DeliveryState;
      }
      return out;
    }
    case 'retry-now': {
      const { positionals } = parse(rest, {}, 1);
      return { kind: 'retry-now', id: parseDeliveryId(positionals[0] as string) };
    }
    default:
      throw usage(`unknown command "${command}"`);
  }
}

/** One line, control characters shown as spaces: a receiver's error text must not break the table. */
function oneLine(s: string, max = 80): string {
  const flat = s.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

function lastOutcome(d: DeliveryRow): string {
  const status = d.lastStatus === null ? '' : `HTTP ${d.lastStatus}`;
  const error = d.lastError === null ? '' : oneLine(d.lastError);
  return [status, error].filter((p) => p !== '').join(' ') || '-';
}

function listRows(rows: readonly DeliveryRow[]): string[] {
  if (rows.length === 0) return ['no deliveries'];
  return formatTable(
    ['ID', 'SUBSCRIPTION', 'WEBHOOK-ID', 'STATE', 'REASON', 'ATTEMPTS', 'DUE/FINISHED', 'LAST'],
    rows.map((d) => [
      d.id,
      d.subscriptionId,
      d.webhookId,
      d.state,
      d.reason ?? '-',
      String(d.attempts),
      (d.state === 'parked' ? d.dueAt : (d.finishedAt ?? d.dueAt)).toISOString(),
      lastOutcome(d),
    ]),
  );
}

export interface DeliveriesCommandDeps {
  readonly admin: DeliveryAdmin;
  readonly out: (line: string) => void;
}

/** Parses `argv` (what follows `deliveries`) and runs it; bad usage throws ConnectorError USAGE. */
export async function runDeliveriesCommand(
  argv: readonly string[],
  deps: DeliveriesCommandDeps,
): Promise<void> {
  const { admin, out } = deps;
  const command = parseDeliveriesArgs(argv);
  switch (command.kind) {
    case 'help':
      out(DELIVERIES_USAGE);
      return;
    case 'list': {
      const { subscriptionId, state, limit } = command;
      for (const line of listRows(await admin.list({ subscriptionId, state, limit }))) out(line);
      return;
    }
    case 'retry-now': {
      const d = await admin.retryNow(command.id);
      out(`delivery ${d.id} (subscription ${d.subscriptionId}, webhook-id ${d.webhookId}) is due now`);
      if (d.leaseUntil !== null && d.leaseUntil.getTime() > Date.now()) {
        out(
          `It is being attempted now (lease of ${d.leaseOwner ?? '?'} until ${d.leaseUntil.toISOString()}): that attempt's result decides what comes next.`,
        );
      }
      if (d.subscriptionEnabled === false) {
        out(`Subscription ${d.subscriptionId} is disabled: the delivery waits until it is enabled.`);
      }
      return;
    }
  }
}
