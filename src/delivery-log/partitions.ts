/**
 * Daily partitions of the delivery log (both tables, by UTC day). At start and every hour: partitions from
 * yesterday to the day after tomorrow exist, and days older than the retention are dropped whole (never
 * row deletes: no vacuum debt, a day goes in one catalog operation). Several instances (and the API) run
 * this against one database: each run holds a transaction-scoped advisory lock, so two never create the
 * same partition at once (which fails with duplicate_table). Failures are logged and retried at the next
 * run; a write that finds no partition for its day asks `ensureDays` itself.
 */
import type { Pool } from 'pg';
import type { Clock } from '../clock.js';
import type { Logger } from '../logger.js';
import { DROP_PARTITIONS, ENSURE_PARTITIONS, PARTITION_LOCK } from './log-sql.js';

export const MAINTENANCE_INTERVAL_MS = 3_600_000;
const DAY_MS = 86_400_000;

export interface LogPartitionsOptions {
  readonly pool: Pool;
  readonly retentionDays: number;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly onDropped?: (count: number) => void;
  readonly intervalMs?: number;
}

/** `YYYY-MM-DD` of the UTC day of epoch ms `at`. */
export function utcDay(at: number): string {
  return new Date(Math.floor(at / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
}

export class LogPartitions {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly o: LogPartitionsOptions) {}

  /** Runs maintenance once (errors logged), then every hour. */
  async start(): Promise<void> {
    await this.runOnce();
    this.timer = setInterval(() => void this.runOnce(), this.o.intervalMs ?? MAINTENANCE_INTERVAL_MS);
    this.timer.unref();
  }

  /** Stops the hourly runs; one in progress is not waited for (a hung Postgres must not hold a shutdown). */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Ensure yesterday..today+2, drop days before today − retention. Never rejects. */
  runOnce(): Promise<void> {
    this.running ??= this.maintain().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Creates the partitions of the given days (epoch ms within each); rejects when Postgres does. */
  async ensureDays(times: readonly number[]): Promise<void> {
    const days = [...new Set(times.map(utcDay))].sort();
    await this.locked(async (q) => {
      for (const day of days) await q(ENSURE_PARTITIONS, [day, 1]);
    });
  }

  private async maintain(): Promise<void> {
    const now = this.o.clock.now();
    try {
      let dropped = 0;
      await this.locked(async (q) => {
        await q(ENSURE_PARTITIONS, [utcDay(now - DAY_MS), 4]);
        const rows = await q(DROP_PARTITIONS, [utcDay(now - this.o.retentionDays * DAY_MS)]);
        dropped = Number(rows[0]?.dropped ?? 0);
      });
      if (dropped > 0) {
        this.o.onDropped?.(dropped);
        this.o.logger.info(
          { dropped, retentionDays: this.o.retentionDays },
          'delivery log: old partitions dropped',
        );
      }
    } catch (err) {
      this.o.logger.warn(
        { err },
        'delivery log: partition maintenance failed; retried in an hour or at the next write',
      );
    }
  }

  private async locked(
    fn: (q: (text: string, values: unknown[]) => Promise<Record<string, unknown>[]>) => Promise<void>,
  ): Promise<void> {
    const client = await this.o.pool.connect();
    try {
      await client.query('begin');
      await client.query(PARTITION_LOCK);
      await fn(async (text, values) => (await client.query(text, values)).rows as Record<string, unknown>[]);
      await client.query('commit');
      client.release();
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      // A broken connection is not given back to the pool.
      client.release(err as Error);
      throw err;
    }
  }
}
