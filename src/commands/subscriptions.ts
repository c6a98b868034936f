/** `webhook-connector subscriptions ...`: the operator's way to manage subscriptions (src/cli.ts dispatches here). */
import type { ReplayFilter, ReplaySummary } from '../dead-letter/replay.js';
import { ConnectorError, ErrorCode } from '../errors.js';
import { parseSubscriptionsArgs, SUBSCRIPTIONS_USAGE } from './subscriptions-args.js';
import type { SubscriptionInfo, SubscriptionStore } from '../subscriptions/types.js';

export {
  parseRecoverSince,
  parseSubscriptionsArgs,
  SUBSCRIPTIONS_USAGE,
  type SubscriptionsCommand,
} from './subscriptions-args.js';

export interface SubscriptionsCommandDeps {
  readonly store: SubscriptionStore;
  readonly out: (line: string) => void;
  /**
   * Re-sends the dead letters the filter selects (the `replay` machinery, wired by main.ts); used by
   * `enable --recover-since` only, so the other commands need no Kafka.
   */
  readonly recoverDeadLetters?: (filter: ReplayFilter) => Promise<ReplaySummary>;
  /** Epoch ms, for `--recover-since 2h` (default Date.now()). */
  readonly nowMs?: number;
}

const HOUR_MS = 3_600_000;

/** Left-aligned columns, two spaces apart. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function listRows(subs: readonly SubscriptionInfo[]): string[] {
  if (subs.length === 0) return ['no subscriptions'];
  return formatTable(
    [
      'ID',
      'PROJECT',
      'EVENT',
      'TARGET',
      'GLOBAL',
      'ENABLED',
      'ORDERING',
      'CREATED BY',
      'CREATED AT',
      'DISABLED',
    ],
    subs.map((s) => [
      s.id,
      s.idProject,
      s.event,
      s.target,
      s.global ? 'yes' : 'no',
      s.enabled ? 'yes' : 'no',
      s.ordering,
      s.createdBy,
      s.createdAt.toISOString(),
      s.enabled ? '' : disabledCell(s),
    ]),
  );
}

/** Why and since when a disabled subscription is disabled: `operator since 2026-…Z`. */
function disabledCell(s: SubscriptionInfo): string {
  const since = s.disabledAt === null ? '' : ` since ${s.disabledAt.toISOString()}`;
  return `${s.disabledReason ?? 'unknown'}${since}`;
}

/** Parses `argv` (what follows `subscriptions`) and runs it; bad usage throws ConnectorError USAGE. */
export async function runSubscriptionsCommand(
  argv: readonly string[],
  deps: SubscriptionsCommandDeps,
): Promise<void> {
  const { store, out } = deps;
  const command = parseSubscriptionsArgs(argv, deps.nowMs ?? Date.now());
  switch (command.kind) {
    case 'help':
      out(SUBSCRIPTIONS_USAGE);
      return;
    case 'add': {
      const { idProject, event, target, global, createdBy, ordering } = command;
      const s = await store.add({ idProject, event, target, global, createdBy, ordering });
      out(
        `created subscription ${s.id}: ${s.global ? 'global, ' : ''}project ${s.idProject}, event ${s.event} -> ${s.target}, ${s.ordering}`,
      );
      out(`secret: ${s.secret}`);
      out('Store this secret now: it will not be shown again.');
      return;
    }
    case 'list':
      for (const line of listRows(
        await store.list(command.idProject === undefined ? {} : { idProject: command.idProject }),
      )) {
        out(line);
      }
      return;
    case 'remove':
      await store.remove(command.id);
      out(`removed subscription ${command.id}`);
      return;
    case 'disable':
      await store.setEnabled(command.id, false, 'operator');
      out(`disabled subscription ${command.id}`);
      return;
    case 'enable':
      await enable(command.id, command.recoverSince, deps);
      return;
    case 'set-ordering':
      await store.setOrdering(command.id, command.ordering);
      out(`subscription ${command.id} is now ${command.ordering}`);
      return;
    case 'rotate-secret': {
      const overlapMs = Math.round(command.overlapHours * HOUR_MS);
      const secret = await store.rotateSecret(command.id, overlapMs);
      const expiresAt = (await store.get(command.id))?.previousSecretExpiresAt;
      out(`new secret for subscription ${command.id}: ${secret}`);
      out('Store this secret now: it will not be shown again.');
      out(
        expiresAt
          ? `The previous secret also signs deliveries until ${expiresAt.toISOString()}.`
          : 'The previous secret no longer signs deliveries.',
      );
      return;
    }
  }
}

/**
 * Enables the subscription (the parked-delivery runner claims rows of enabled subscriptions only, so its
 * parked deliveries resume by themselves), then with `recoverSince` re-sends its dead letters since then:
 * enabled first, because replay skips a disabled subscription's dead letters.
 */
async function enable(
  id: string,
  recoverSince: number | undefined,
  deps: SubscriptionsCommandDeps,
): Promise<void> {
  const { store, out } = deps;
  if (recoverSince !== undefined && deps.recoverDeadLetters === undefined) {
    // A wiring bug, not the operator's: checked before anything changes.
    throw new Error('enable --recover-since needs recoverDeadLetters');
  }
  await store.setEnabled(id, true);
  out(`enabled subscription ${id}; its parked deliveries resume`);
  if (recoverSince === undefined || deps.recoverDeadLetters === undefined) return;
  const since = new Date(recoverSince).toISOString();
  const summary = await deps.recoverDeadLetters({ subscriptionIds: [id], events: [], since: recoverSince });
  out(
    `re-sent ${summary.delivered} dead letter(s) of subscription ${id} since ${since}` +
      (summary.parked > 0
        ? `; ${summary.parked} parked (the receiver still fails; retried on the schedule)`
        : '') +
      (summary.failed > 0 ? `; ${summary.failed} failed` : ''),
  );
  if (summary.failed > 0) {
    throw new ConnectorError(
      ErrorCode.DELIVERY_FAILED,
      `${summary.failed} of ${summary.matched} re-sent dead letters failed (see the FAILED lines); the subscription stays enabled`,
      { ...summary },
    );
  }
}
