/**
 * The delivery log writer: attempts are queued in memory by `record` (synchronous, O(1), never throws) and
 * written in batches by one background loop, one transaction of two binary COPYs per batch (log-sql.ts), on
 * the writer's own small pool whose
 * sessions run with `synchronous_commit = off` (the log is observability: a Postgres crash may lose its
 * last few hundred milliseconds of rows, never a delivery, and the commit does not wait for the WAL flush).
 *
 * States: idle (queue empty) → writing (a batch in flight; the next one follows at once while a full batch
 * waits, else after FLUSH_INTERVAL_MS) → backing off (the write failed: the queue keeps its entries, the
 * next try waits 0.2 s doubling to 10 s). The guarantee is the bound, not completeness: past
 * DELIVERY_LOG_MAX_PENDING queued attempts, new ones are dropped and counted
 * (delivery_log_dropped_total), so a slow or unreachable Postgres costs log rows, never delivery speed or
 * unbounded memory. A batch Postgres refuses as data (SQLSTATE 22/23) is dropped and counted, except a
 * missing day partition, which is created before the batch is tried once more.
 *
 * Memory: attempts are encoded into their batch when recorded (pending.ts), into Buffers that are reused
 * batch after batch and let go past ENCODER_KEEP_BYTES; a batch whose write failed is retried from its
 * own Buffers and not reused after (the socket may still hold them).
 */
import { finished } from 'node:stream/promises';
import type { Pool, PoolClient } from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import {
  COPY_ATTEMPTS,
  COPY_MESSAGES,
  COPY_STAGED_MESSAGES,
  INSERT_STAGED_MESSAGES,
  STAGE_MESSAGES,
  isDataError,
  isMissingPartition,
  type EncodedBatch,
  type LogBatch,
} from './log-sql.js';
import type { LogPartitions } from './partitions.js';
import { PendingAttempts } from './pending.js';
import type { AttemptRow, MessageRow } from './rows.js';

export { ENCODER_KEEP_BYTES } from './pending.js';

export const FLUSH_INTERVAL_MS = 200;
const BACKOFF_MIN_MS = 200;
const BACKOFF_MAX_MS = 10_000;
/** Message keys remembered (an event retried by the parked runner within 50,000 events is not logged twice). */
const MESSAGE_KEYS = 100_000;

export type LogMetrics = Pick<Metrics, 'logRows' | 'logDropped' | 'logPending' | 'logWriteSeconds'>;

export interface DeliveryLogWriterOptions {
  /** The writer's own pool (see createDeliveryLogPool). */
  readonly pool: Pool;
  readonly partitions: Pick<LogPartitions, 'ensureDays'>;
  readonly instance: string;
  readonly maxPending: number;
  readonly batch: number;
  readonly metrics: LogMetrics;
  readonly logger: Logger;
  readonly flushIntervalMs?: number;
  readonly messageKeys?: number;
}

export class DeliveryLogWriter {
  private readonly pending: PendingAttempts;
  private readonly flushIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private backoffMs = 0;
  private stopped = false;
  private dropsLogged = 0;

  constructor(private readonly o: DeliveryLogWriterOptions) {
    this.pending = new PendingAttempts({
      maxPending: o.maxPending,
      batch: o.batch,
      instance: o.instance,
      keys: o.messageKeys ?? MESSAGE_KEYS,
    });
    this.flushIntervalMs = o.flushIntervalMs ?? FLUSH_INTERVAL_MS;
  }

  /** Bytes the batches' encoders hold. */
  get encoderBytes(): number {
    return this.pending.capacity;
  }

  /** Attempts waiting to be written. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Queues one attempt, encoded at once (and its event's row when new; `event` is its event object,
   * pending.ts); drops it when the queue is full. Never throws.
   */
  record(attempt: AttemptRow, message: () => MessageRow, event?: object): void {
    if (!this.pending.offer(attempt, message, event)) {
      this.o.metrics.logDropped.inc();
      // One line per burst of drops, not one per attempt.
      if (this.dropsLogged++ === 0) {
        this.o.logger.warn(
          { maxPending: this.o.maxPending },
          'delivery log: queue full, attempts are dropped from the log (deliveries go on)',
        );
      }
      return;
    }
    if (this.pending.hasFull && this.backoffMs === 0) this.kick();
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.flushIntervalMs);
    this.timer.unref();
  }

  /**
   * Writes what is queued, for at most `budgetMs` (the shutdown drain); what is left is dropped and
   * counted. Resolves, never rejects.
   */
  async stop(budgetMs: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    const deadline = Date.now() + budgetMs;
    this.backoffMs = 0;
    while (this.pending.size > 0 && Date.now() < deadline) {
      this.kick();
      const current = this.loop;
      let timeout: NodeJS.Timeout | undefined;
      const expired = new Promise<'late'>((resolve) => {
        timeout = setTimeout(() => resolve('late'), Math.max(0, deadline - Date.now()));
      });
      const r = await Promise.race([current, expired]);
      clearTimeout(timeout);
      if (r === 'late') break;
      if (this.backoffMs > 0 && this.pending.size > 0) {
        await new Promise((resolve) => setTimeout(resolve, Math.min(this.backoffMs, deadline - Date.now())));
      }
    }
    this.stopped = true;
    const left = this.pending.clear();
    if (left > 0) {
      this.o.metrics.logDropped.inc(left);
      this.o.logger.warn({ left }, 'delivery log: not written before shutdown, dropped');
    }
    this.o.metrics.logPending.set(0);
  }

  /** Starts the write loop unless it runs (or waits out a backoff). */
  private kick(): void {
    if (this.loop !== undefined || this.stopped) return;
    this.loop = this.writeAll().finally(() => (this.loop = undefined));
  }

  private async writeAll(): Promise<void> {
    // Started by the timer (or stop): what is queued goes now. Started by a full batch: that one.
    if (!this.pending.hasFull) this.pending.seal();
    for (let batch = this.pending.peek(); batch !== undefined && !this.stopped; batch = this.pending.peek()) {
      const ok = await this.write(batch);
      if (!ok) {
        this.backoffMs = Math.min(BACKOFF_MAX_MS, Math.max(BACKOFF_MIN_MS, this.backoffMs * 2));
        this.o.metrics.logPending.set(this.pending.size);
        await new Promise((resolve) => setTimeout(resolve, this.backoffMs).unref());
        continue;
      }
      this.backoffMs = 0;
      this.pending.remove();
      this.o.metrics.logPending.set(this.pending.size);
      // Batches not yet full wait for the timer: fewer, larger statements.
    }
    this.dropsLogged = 0;
  }

  /** True when the batch is done with (written, or dropped as bad data); false to retry it later. */
  private async write(batch: LogBatch): Promise<boolean> {
    const encoded = batch.seal();
    const end = this.o.metrics.logWriteSeconds.startTimer();
    try {
      let added: number;
      try {
        added = await this.copy(encoded);
      } catch (err) {
        if (!isMissingPartition(err)) throw err;
        await this.o.partitions.ensureDays(batch.days);
        added = await this.copy(encoded);
      }
      end();
      this.o.metrics.logRows.inc({ table: 'attempts' }, batch.rows);
      const messages = encoded.messageCount + added;
      if (messages > 0) this.o.metrics.logRows.inc({ table: 'messages' }, messages);
      return true;
    } catch (err) {
      end();
      // The failed COPY's socket write may still reference the batch's Buffers: they are not reused.
      batch.failed = true;
      if (isDataError(err) && !isMissingPartition(err)) {
        this.o.metrics.logDropped.inc(batch.rows);
        this.o.logger.warn({ err, rows: batch.rows }, 'delivery log: batch refused by Postgres, dropped');
        return true;
      }
      if (this.backoffMs === 0) {
        this.o.logger.warn({ err }, 'delivery log: write failed; retrying with backoff (deliveries go on)');
      }
      return false;
    }
  }

  /**
   * The COPYs in one transaction: the batch is in the log whole or not at all. Resolves to the number of
   * `unsure` event rows added.
   */
  private async copy(encoded: EncodedBatch): Promise<number> {
    const client = await this.o.pool.connect();
    try {
      await client.query('begin');
      if (encoded.messages !== null) await copyInto(client, COPY_MESSAGES, encoded.messages);
      let added = 0;
      if (encoded.unsure !== null) {
        await client.query(STAGE_MESSAGES);
        await copyInto(client, COPY_STAGED_MESSAGES, encoded.unsure);
        added = (await client.query(INSERT_STAGED_MESSAGES)).rowCount ?? 0;
      }
      await copyInto(client, COPY_ATTEMPTS, encoded.attempts);
      await client.query('commit');
      client.release();
      return added;
    } catch (err) {
      const rollback = await client.query('rollback').then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      // A connection that cannot roll back is not given back to the pool.
      client.release(rollback);
      throw err;
    }
  }
}

async function copyInto(client: PoolClient, statement: string, data: Buffer): Promise<void> {
  const stream = client.query(copyFrom(statement));
  stream.end(data);
  await finished(stream);
}
