/** `webhook-connector subscriptions ...`: the operator's way to manage subscriptions (src/cli.ts dispatches here). */
import { parseSubscriptionsArgs, SUBSCRIPTIONS_USAGE } from './cli-args.js';
import type { SubscriptionInfo, SubscriptionStore } from './types.js';

export { parseSubscriptionsArgs, SUBSCRIPTIONS_USAGE, type SubscriptionsCommand } from './cli-args.js';

export interface SubscriptionsCommandDeps {
  readonly store: SubscriptionStore;
  readonly out: (line: string) => void;
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
    ['ID', 'PROJECT', 'EVENT', 'TARGET', 'GLOBAL', 'ENABLED', 'CREATED BY', 'CREATED AT'],
    subs.map((s) => [
      s.id,
      s.idProject,
      s.event,
      s.target,
      s.global ? 'yes' : 'no',
      s.enabled ? 'yes' : 'no',
      s.createdBy,
      s.createdAt.toISOString(),
    ]),
  );
}

/** Parses `argv` (what follows `subscriptions`) and runs it; bad usage throws ConnectorError USAGE. */
export async function runSubscriptionsCommand(
  argv: readonly string[],
  deps: SubscriptionsCommandDeps,
): Promise<void> {
  const { store, out } = deps;
  const command = parseSubscriptionsArgs(argv);
  switch (command.kind) {
    case 'help':
      out(SUBSCRIPTIONS_USAGE);
      return;
    case 'add': {
      const { idProject, event, target, global, createdBy } = command;
      const s = await store.add({ idProject, event, target, global, createdBy });
      out(
        `created subscription ${s.id}: ${s.global ? 'global, ' : ''}project ${s.idProject}, event ${s.event} -> ${s.target}`,
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
    case 'enable':
    case 'disable':
      await store.setEnabled(command.id, command.kind === 'enable');
      out(`${command.kind}d subscription ${command.id}`);
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
