/**
 * Replay: re-delivers dead-lettered deliveries to their subscription as it is now (current target and
 * secret), with the same webhook-id the receiver saw before, so a receiver that did get an earlier attempt
 * can drop the duplicate. Reads the dead-letter topic from the start (or, with `sinceLast`, from where the
 * previous `sinceLast` replay stopped: its consumer group commits each record it has read) up to the end
 * seen when the replay started. Dry-run lists what would be sent and commits nothing.
 *
 * A delivery whose receiver still fails after the in-process attempts is parked (when a parked-delivery
 * store is given) and goes on with the retry schedule like any other: it counts as `parked`, not failed.
 *
 * Deliveries run inside kafkajs's eachBatch, one record at a time, heartbeating while each runs (one can
 * outlast the session timeout); offsets this run already handled are skipped if a rebalance re-fetches them.
 */
import type { Kafka, KafkaMessage } from 'kafkajs';
import { randomUUID } from 'node:crypto';
import { deliver, type DeliverDeps } from '../delivery/deliver.js';
import { decodeRecord, type RegistryDecoder } from '../events/decode-record.js';
import type { Logger } from '../logger.js';
import type { SubscriptionStore } from '../subscriptions/types.js';
import { parkRequestFromOutcome } from '../parking/park-request.js';
import type { ParkRequest } from '../parking/types.js';
import { DLQ_HEADER_PREFIX, headerString } from './dead-letter-record.js';
import type { InboundRecord } from '../events/event.js';

export interface ReplayFilter {
  readonly subscriptionIds: readonly string[];
  readonly events: readonly string[];
  /** Epoch ms bounds on the dead letter's last attempt time (else its record timestamp). */
  readonly since?: number;
  readonly until?: number;
}

export interface ReplayOptions {
  readonly kafka: Kafka;
  readonly topic: string;
  /** Consumer group that remembers progress with `sinceLast`. */
  readonly replayGroupId: string;
  readonly sinceLast: boolean;
  readonly dryRun: boolean;
  readonly filter: ReplayFilter;
  readonly store: Pick<SubscriptionStore, 'get'>;
  readonly deliverDeps: DeliverDeps;
  /** Parks a delivery whose next attempt is far (the parked-delivery store); none = it counts as failed. */
  readonly park?: (req: ParkRequest) => Promise<void>;
  readonly maxRecordBytes: number;
  readonly registry?: RegistryDecoder;
  readonly logger: Logger;
  readonly out: (line: string) => void;
}

export interface ReplaySummary {
  read: number;
  matched: number;
  delivered: number;
  parked: number;
  failed: number;
  skipped: number;
}

type Verdict = { kind: 'skip'; why: string } | { kind: 'replay'; subscriptionId: string };

export function replayVerdict(
  headers: InboundRecord['headers'],
  timestampMs: number,
  f: ReplayFilter,
): Verdict {
  const subscriptionId = headerString(headers, 'dlq-subscription-id');
  if (subscriptionId === undefined) return { kind: 'skip', why: 'poison record (no subscription)' };
  if (f.subscriptionIds.length > 0 && !f.subscriptionIds.includes(subscriptionId)) {
    return { kind: 'skip', why: 'filtered' };
  }
  const event = headerString(headers, 'dlq-event');
  if (f.events.length > 0 && (event === undefined || !f.events.includes(event))) {
    return { kind: 'skip', why: 'filtered' };
  }
  const last = Date.parse(headerString(headers, 'dlq-last-attempt-at') ?? '');
  const at = Number.isNaN(last) ? timestampMs : last;
  if ((f.since !== undefined && at < f.since) || (f.until !== undefined && at > f.until)) {
    return { kind: 'skip', why: 'filtered' };
  }
  return { kind: 'replay', subscriptionId };
}

export async function replayDeadLetters(o: ReplayOptions): Promise<ReplaySummary> {
  const summary: ReplaySummary = {
    read: 0,
    matched: 0,
    delivered: 0,
    parked: 0,
    failed: 0,
    skipped: 0,
  };
  const groupId = o.sinceLast && !o.dryRun ? o.replayGroupId : `${o.replayGroupId}.adhoc-${randomUUID()}`;
  const admin = o.kafka.admin();
  await admin.connect();
  const ends = new Map<number, number>();
  const remaining = new Set<number>();
  try {
    const committed = new Map(
      ((await admin.fetchOffsets({ groupId, topics: [o.topic] }))[0]?.partitions ?? []).map((p) => [
        p.partition,
        Number(p.offset),
      ]),
    );
    for (const p of await admin.fetchTopicOffsets(o.topic)) {
      const high = Number(p.high);
      ends.set(p.partition, high);
      const start = Math.max(committed.get(p.partition) ?? -1, Number(p.low));
      if (start < high) remaining.add(p.partition);
    }
  } finally {
    await admin.disconnect();
  }
  if (remaining.size > 0) {
    const consumer = o.kafka.consumer({ groupId, maxWaitTimeInMs: 200 });
    const commits = o.sinceLast && !o.dryRun;
    // Next offset to handle per partition, for this run: a rebalance makes kafkajs fetch again from the
    // last commit (ad-hoc groups have none), and what this run already handled must not be sent twice.
    const handled = new Map<number, number>();
    const commitHandled = async (partitions: number[]): Promise<void> => {
      await consumer.commitOffsets(
        partitions.map((partition) => ({
          topic: o.topic,
          partition,
          offset: String(handled.get(partition)),
        })),
      );
    };
    let finish!: () => void;
    const finished = new Promise<void>((resolve) => (finish = resolve));
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: o.topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachBatchAutoResolve: false,
        eachBatch: async ({ batch, resolveOffset, heartbeat, isRunning, isStale }) => {
          const { partition } = batch;
          const end = ends.get(partition) ?? 0;
          for (const message of batch.messages) {
            if (!isRunning() || isStale()) break;
            const offset = Number(message.offset);
            if (offset < end && offset >= (handled.get(partition) ?? 0)) {
              summary.read++;
              await whileHeartbeating(heartbeat, o.logger, () => replayOne(o, message, summary));
              handled.set(partition, offset + 1);
              if (commits) {
                // Best effort here (a rebalance fails it); the commit after the last record must succeed.
                await commitHandled([partition]).catch((err: unknown) =>
                  o.logger.warn(
                    { err, partition, offset },
                    'replay progress commit failed; retried at the end',
                  ),
                );
              }
            }
            resolveOffset(message.offset);
            if (offset + 1 >= end) remaining.delete(partition);
            if (remaining.size === 0) finish();
          }
        },
      });
      await finished;
      if (commits && handled.size > 0) await commitHandled([...handled.keys()]);
    } finally {
      await consumer.disconnect();
    }
  }
  o.out(
    `replay ${o.dryRun ? '(dry run) ' : ''}done: read ${summary.read}, matched ${summary.matched}, delivered ${summary.delivered}, parked ${summary.parked}, failed ${summary.failed}, skipped ${summary.skipped}`,
  );
  return summary;
}

/**
 * How often a replay busy delivering one dead letter heartbeats. One delivery can take minutes (retries,
 * DELIVERY_TIMEOUT_MS per attempt), far past the session timeout (kafkajs: 30 s): without heartbeats the
 * coordinator evicts the member, its commit fails, and it rejoins, re-reads and re-sends in a loop.
 * kafkajs sends at most one heartbeat per heartbeatInterval (3 s), so polling every second costs nothing.
 */
export const REPLAY_HEARTBEAT_POLL_MS = 1_000;

async function whileHeartbeating<T>(
  heartbeat: () => Promise<void>,
  logger: Logger,
  work: () => Promise<T>,
): Promise<T> {
  const timer = setInterval(() => {
    heartbeat().catch((err: unknown) => logger.warn({ err }, 'replay heartbeat failed'));
  }, REPLAY_HEARTBEAT_POLL_MS);
  try {
    return await work();
  } finally {
    clearInterval(timer);
  }
}

async function replayOne(o: ReplayOptions, message: KafkaMessage, summary: ReplaySummary): Promise<void> {
  const headers = message.headers ?? {};
  const verdict = replayVerdict(headers, Number(message.timestamp), o.filter);
  if (verdict.kind === 'skip') {
    summary.skipped++;
    if (verdict.why !== 'filtered') o.out(`skip offset ${message.offset}: ${verdict.why}`);
    return;
  }
  summary.matched++;
  const sub = await o.store.get(verdict.subscriptionId);
  if (!sub || !sub.enabled) {
    summary.skipped++;
    o.out(
      `skip offset ${message.offset}: subscription ${verdict.subscriptionId} ${sub ? 'is disabled' : 'no longer exists'}`,
    );
    return;
  }
  const at = {
    topic: headerString(headers, 'dlq-original-topic') ?? o.topic,
    partition: Number(headerString(headers, 'dlq-original-partition') ?? '0'),
    offset: headerString(headers, 'dlq-original-offset') ?? message.offset,
  };
  const decoded = await decodeRecord(message.value ?? null, at, {
    maxRecordBytes: o.maxRecordBytes,
    registry: o.registry,
  });
  if (!decoded.ok) {
    summary.skipped++;
    o.out(`skip offset ${message.offset}: original record does not decode (${decoded.reason})`);
    return;
  }
  const line = `${decoded.event.event} event ${decoded.event.id} -> subscription ${sub.id} (${sub.target})`;
  if (o.dryRun) {
    o.out(`would replay ${line}`);
    return;
  }
  const outcome = await deliver(decoded.event, sub, o.deliverDeps);
  if (outcome.kind === 'delivered') {
    summary.delivered++;
    o.out(`replayed ${line}: HTTP ${outcome.status} after ${outcome.attempts} attempt(s)`);
  } else if (outcome.kind === 'park' && o.park !== undefined) {
    await o.park(parkRequestFromOutcome(originalRecord(message, at), decoded.event, sub.id, null, outcome));
    summary.parked++;
    o.out(
      `parked ${line}: ${outcome.lastError ?? outcome.reason}; next attempt at ${new Date(outcome.dueAt).toISOString()}`,
    );
  } else {
    summary.failed++;
    o.out(
      `FAILED ${line}: ${outcome.kind === 'failed' || outcome.kind === 'park' ? outcome.reason : 'aborted'} (${outcome.lastError ?? ''})`,
    );
  }
}

/** The record the dead letter was made from: its key and value, its headers without the `dlq-*` ones. */
function originalRecord(
  message: KafkaMessage,
  at: { topic: string; partition: number; offset: string },
): InboundRecord {
  const headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> = {};
  for (const [name, value] of Object.entries(message.headers ?? {})) {
    if (!name.startsWith(DLQ_HEADER_PREFIX)) headers[name] = value;
  }
  return {
    ...at,
    timestamp: headerString(message.headers ?? {}, 'dlq-original-timestamp') ?? message.timestamp,
    key: message.key ?? null,
    value: message.value ?? null,
    headers,
  };
}
