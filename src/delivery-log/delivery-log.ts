/**
 * The delivery log as the app uses it: an `onAttempt` observer that turns attempts into rows for the
 * writer, the writer, and partition maintenance, built from configuration. DELIVERY_LOG=off builds
 * nothing (no excerpt, no key, no row: the delivery path is as without the log).
 */
import type { Pool } from 'pg';
import type { Clock } from '../clock.js';
import type { Config } from '../config.js';
import type { DeliverDeps } from '../delivery/deliver.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { LogPartitions } from './partitions.js';
import { attemptRow, logsAttempt, messageRow, type DeliveryLogMode } from './rows.js';
import { DeliveryLogWriter } from './writer.js';

export interface DeliveryLog {
  readonly observe: NonNullable<DeliverDeps['onAttempt']>;
  readonly writer: DeliveryLogWriter;
  readonly partitions: LogPartitions;
  start(): Promise<void>;
  /** Writes what is queued within `budgetMs`, then stops maintenance. */
  stop(budgetMs: number): Promise<void>;
}

export function createDeliveryLog(d: {
  readonly config: Pick<
    Config,
    'DELIVERY_LOG' | 'DELIVERY_LOG_RETENTION_DAYS' | 'DELIVERY_LOG_MAX_PENDING' | 'DELIVERY_LOG_BATCH'
  >;
  readonly pool: Pool;
  readonly instance: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly metrics: Metrics;
}): DeliveryLog | undefined {
  const mode = d.config.DELIVERY_LOG as DeliveryLogMode;
  if (mode === 'off') return undefined;
  const logger = d.logger.child({ component: 'delivery-log' });
  const partitions = new LogPartitions({
    pool: d.pool,
    retentionDays: d.config.DELIVERY_LOG_RETENTION_DAYS,
    clock: d.clock,
    logger,
    onDropped: (n) => d.metrics.logPartitionsDropped.inc(n),
  });
  const writer = new DeliveryLogWriter({
    pool: d.pool,
    partitions,
    instance: d.instance,
    maxPending: d.config.DELIVERY_LOG_MAX_PENDING,
    batch: d.config.DELIVERY_LOG_BATCH,
    metrics: d.metrics,
    logger,
  });
  return {
    writer,
    partitions,
    observe: (outcome, result, attempt, sub, context) => {
      if (!logsAttempt(mode, outcome)) return;
      const row = attemptRow(outcome, result, attempt, sub, context, d.instance);
      if (row !== undefined) writer.record(row, () => messageRow(row, context), context.event);
    },
    async start() {
      await partitions.start();
      writer.start();
    },
    async stop(budgetMs) {
      partitions.stop();
      await writer.stop(budgetMs);
    },
  };
}
