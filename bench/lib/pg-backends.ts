/**
 * CPU of the Postgres processes that serve a run, from /proc (Postgres runs on the same cores as the system
 * under test, so what it spends for the connector is part of the connector's cost): the client backends of
 * one database by application name (`:delivery-log` = the delivery log's pool; the rest of the connector's
 * connections), and the background processes every write goes through (WAL writer, checkpointer, background
 * writer, autovacuum). Backends are found in pg_stat_activity every second; their /proc stat every 250 ms.
 */
import pg from 'pg';
import { readStat } from './proc.js';

export type PgShare = 'log' | 'other' | 'background';

interface Sample {
  readonly at: number;
  readonly cpuMs: Record<PgShare, number>;
}

const BACKGROUND = ['walwriter', 'checkpointer', 'background writer', 'autovacuum worker'];

export class PgBackendMonitor {
  private readonly samples: Sample[] = [];
  /** pid → its share and the CPU it had when first seen (a background process's earlier work is not ours). */
  private readonly pids = new Map<number, { share: PgShare; base: number; last: number }>();
  private timer: NodeJS.Timeout | undefined;
  private ticks = 0;
  private refreshing: Promise<void> | undefined;

  private constructor(
    private readonly client: pg.Client,
    private readonly database: string,
  ) {}

  static async start(databaseUrl: string, intervalMs = 250): Promise<PgBackendMonitor> {
    const client = new pg.Client({ connectionString: databaseUrl, application_name: 'bench-monitor' });
    await client.connect();
    const m = new PgBackendMonitor(client, new URL(databaseUrl).pathname.slice(1));
    await m.refresh();
    m.take();
    m.timer = setInterval(() => m.tick(), intervalMs);
    m.timer.unref();
    return m;
  }

  private tick(): void {
    if (this.ticks++ % 4 === 0) {
      this.refreshing ??= this.refresh().finally(() => (this.refreshing = undefined));
    }
    this.take();
  }

  private async refresh(): Promise<void> {
    const { rows } = await this.client
      .query<{ pid: number; application_name: string; backend_type: string; datname: string | null }>(
        `select pid, application_name, backend_type, datname from pg_stat_activity
          where pid <> pg_backend_pid()`,
      )
      .catch(() => ({ rows: [] }));
    for (const r of rows) {
      if (this.pids.has(r.pid)) continue;
      let share: PgShare | undefined;
      if (r.backend_type === 'client backend' && r.datname === this.database) {
        if (r.application_name.endsWith(':delivery-log')) share = 'log';
        else if (r.application_name.startsWith('tiledesk-webhook-connector')) share = 'other';
      } else if (
        BACKGROUND.includes(r.backend_type) &&
        (r.backend_type !== 'autovacuum worker' || r.datname === this.database)
      ) {
        share = 'background';
      }
      if (share === undefined) continue;
      const cpu = readStat(r.pid)?.cpuMs ?? 0;
      // A client backend of the run was born in it: all of its CPU counts.
      this.pids.set(r.pid, { share, base: share === 'background' ? cpu : 0, last: cpu });
    }
  }

  private take(): void {
    const cpuMs: Record<PgShare, number> = { log: 0, other: 0, background: 0 };
    for (const [pid, p] of this.pids) {
      const now = readStat(pid)?.cpuMs;
      // A process that ended keeps its last reading.
      if (now !== undefined && now >= p.last) p.last = now;
      cpuMs[p.share] += p.last - p.base;
    }
    this.samples.push({ at: Date.now(), cpuMs });
  }

  async stop(): Promise<void> {
    this.take();
    if (this.timer) clearInterval(this.timer);
    await this.refreshing;
    await this.client.end().catch(() => undefined);
  }

  /** CPU ms of one share between two wall-clock times, linearly interpolated between samples. */
  cpuBetween(share: PgShare, from: number, to: number): number | null {
    const a = this.cpuAt(share, from);
    const b = this.cpuAt(share, to);
    return a === null || b === null ? null : Math.max(0, b - a);
  }

  private cpuAt(share: PgShare, t: number): number | null {
    const s = this.samples;
    if (s.length === 0) return null;
    if (t <= s[0]!.at) return s[0]!.cpuMs[share];
    for (let k = 1; k < s.length; k++) {
      const prev = s[k - 1]!;
      const next = s[k]!;
      if (t <= next.at) {
        const a = prev.cpuMs[share];
        return a + ((next.cpuMs[share] - a) * (t - prev.at)) / Math.max(1, next.at - prev.at);
      }
    }
    return s.at(-1)!.cpuMs[share];
  }
}
