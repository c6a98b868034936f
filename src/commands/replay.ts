/** `webhook-connector replay`: argument parsing and wiring around replayDeadLetters. */
import type { Kafka } from 'kafkajs';
import { systemClock } from '../clock.js';
import type { Config } from '../config.js';
import type { DeliverDeps } from '../delivery/deliver.js';
import { deliverDepsFromConfig } from '../delivery/deliver-deps.js';
import { inProcessPolicy } from '../delivery/retry-policy.js';
import { ConnectorError, ErrorCode } from '../errors.js';
import { createRegistryDecoderFromConfig } from '../events/registry-from-config.js';
import { parseFlags } from '../flags.js';
import type { Logger } from '../logger.js';
import type { SubscriptionStore } from '../subscriptions/types.js';
import type { WebhookTransport } from '../transport/types.js';
import type { DeliveryStore } from '../parking/types.js';
import { replayDeadLetters, type ReplayFilter, type ReplaySummary } from '../dead-letter/replay.js';

export const REPLAY_USAGE = `usage: webhook-connector replay [--subscription ID ...] [--event E ...] [--since TIME] [--until TIME] [--dry-run] [--since-last]

Re-delivers dead-lettered deliveries from DLQ_TOPIC to their subscription's current target, with the
same webhook-id as before. TIME is ISO 8601 (e.g. 2026-11-26T10:00:00Z) and applies to the last attempt.

  --dry-run     list what would be sent; send and record nothing
  --since-last  continue after the previous --since-last replay (progress is kept in the consumer group
                "<KAFKA_GROUP_ID>.replay"), so running it twice never sends a dead letter twice. Every
                record read counts as seen, filtered or not: use the same filters on every run.`;

/**
 * Replay without a parked-delivery store cannot park (it runs once and exits), so it keeps only the
 * in-process part of the schedule: one dead letter must not hold the command for the day the full
 * schedule spans.
 */
export function replayDeliverDeps(c: Config, transport: WebhookTransport): DeliverDeps {
  const deps = deliverDepsFromConfig(c, { transport, clock: systemClock, random: Math.random });
  return { ...deps, policy: inProcessPolicy(deps.policy) };
}

function parseTime(flag: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  if (Number.isNaN(t)) {
    throw new ConnectorError(
      ErrorCode.USAGE,
      `--${flag}: not a date/time: ${JSON.stringify(v)}\n\n${REPLAY_USAGE}`,
    );
  }
  return t;
}

export function parseReplayArgs(argv: readonly string[]): {
  help: boolean;
  dryRun: boolean;
  sinceLast: boolean;
  filter: ReplayFilter;
} {
  const f = parseFlags(
    argv,
    {
      string: ['since', 'until'],
      multi: ['subscription', 'event'],
      boolean: ['dry-run', 'since-last', 'help'],
    },
    REPLAY_USAGE,
  );
  if (f._.length > 0) {
    throw new ConnectorError(ErrorCode.USAGE, `unexpected argument ${f._[0]}\n\n${REPLAY_USAGE}`);
  }
  return {
    help: f.help,
    dryRun: f['dry-run'],
    sinceLast: f['since-last'],
    filter: {
      subscriptionIds: f.subscription,
      events: f.event,
      since: parseTime('since', f.since),
      until: parseTime('until', f.until),
    },
  };
}

export interface ReplayCommandDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly kafka: Kafka;
  readonly store: Pick<SubscriptionStore, 'get'>;
  /** Where a delivery whose receiver still fails is parked (the parked-delivery store). */
  readonly deliveries?: Pick<DeliveryStore, 'park'>;
  readonly transport: WebhookTransport;
  readonly out: (line: string) => void;
}

/**
 * One replay wired from the configuration (DLQ_TOPIC, the replay group, the registry, the delivery
 * settings); closes the transport. Shared by `replay` and `subscriptions enable --recover-since`.
 */
export async function replayFromConfig(
  d: ReplayCommandDeps,
  a: { readonly filter: ReplayFilter; readonly dryRun: boolean; readonly sinceLast: boolean },
): Promise<ReplaySummary> {
  const c = d.config;
  try {
    return await replayDeadLetters({
      kafka: d.kafka,
      topic: c.DLQ_TOPIC,
      replayGroupId: `${c.KAFKA_GROUP_ID}.replay`,
      sinceLast: a.sinceLast,
      dryRun: a.dryRun,
      filter: a.filter,
      store: d.store,
      maxRecordBytes: c.MAX_RECORD_BYTES,
      registry: createRegistryDecoderFromConfig(c, d.logger),
      logger: d.logger,
      out: d.out,
      // With the parked-delivery store, a receiver still failing gets the whole schedule (parked); without
      // it, only the in-process part.
      park: d.deliveries ? (req) => d.deliveries!.park([req]) : undefined,
      deliverDeps: d.deliveries
        ? deliverDepsFromConfig(c, { transport: d.transport, clock: systemClock, random: Math.random })
        : replayDeliverDeps(c, d.transport),
    });
  } finally {
    await d.transport.close();
  }
}

export async function runReplayCommand(argv: readonly string[], d: ReplayCommandDeps): Promise<number> {
  const a = parseReplayArgs(argv);
  if (a.help) {
    d.out(REPLAY_USAGE);
    return 0;
  }
  const summary = await replayFromConfig(d, a);
  if (summary.failed > 0) {
    // Exit 1 with the code, like every other error: the FAILED lines above say which and why.
    throw new ConnectorError(
      ErrorCode.DELIVERY_FAILED,
      `${summary.failed} of ${summary.matched} replayed deliveries failed (see the FAILED lines)`,
      { ...summary },
    );
  }
  return 0;
}
