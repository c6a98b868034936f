/**
 * Consumer lag per assigned partition (high watermark − committed offset), polled with the admin client
 * and published as a gauge. Each instance reports the partitions it owns; labels of partitions it lost are
 * removed. Lag before the group's first commit counts from the earliest offset.
 */
import type { Admin, Kafka } from 'kafkajs';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';

export interface LagMonitor {
  start(): Promise<void>;
  stop(): Promise<void>;
  refresh(): Promise<void>;
}

export function createLagMonitor(
  kafka: Kafka,
  o: {
    groupId: string;
    intervalMs: number;
    assignment: () => { topic: string; partition: number }[];
    metrics: Metrics;
    logger: Logger;
  },
): LagMonitor {
  const admin: Admin = kafka.admin();
  let timer: NodeJS.Timeout | undefined;
  let reported = new Set<string>();
  let stopped = false;
  let inFlight: Promise<void> = Promise.resolve();
  const refresh = (): Promise<void> => {
    if (stopped) return inFlight;
    inFlight = inFlight.then(poll);
    return inFlight;
  };
  const poll = async (): Promise<void> => {
    if (stopped) return;
    const assigned = o.assignment();
    const topics = [...new Set(assigned.map((a) => a.topic))];
    const next = new Set<string>();
    try {
      for (const topic of topics) {
        const [highs, committed] = await Promise.all([
          admin.fetchTopicOffsets(topic),
          admin.fetchOffsets({ groupId: o.groupId, topics: [topic] }),
        ]);
        const committedBy = new Map(
          (committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]),
        );
        for (const h of highs) {
          if (!assigned.some((a) => a.topic === topic && a.partition === h.partition)) continue;
          const c = committedBy.get(h.partition) ?? -1;
          const base = c >= 0 ? c : Number(h.low);
          o.metrics.consumerLag.set(
            { topic, partition: String(h.partition) },
            Math.max(0, Number(h.high) - base),
          );
          next.add(`${topic}\u0000${h.partition}`);
        }
      }
      for (const key of reported) {
        if (!next.has(key)) {
          const [topic, partition] = key.split('\u0000') as [string, string];
          o.metrics.consumerLag.remove({ topic, partition });
        }
      }
      reported = next;
    } catch (err) {
      o.logger.debug({ err }, 'lag refresh failed');
    }
  };
  return {
    refresh,
    async start() {
      await admin.connect();
      timer = setInterval(() => void refresh(), o.intervalMs);
      timer.unref();
    },
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight;
      await admin.disconnect();
    },
  };
}
